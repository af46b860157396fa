"""Turning one picture (a file, bytes or an array) into a training image of a fixed size.

`PrepSettings` holds the preparation options of a spec (``size``, ``mode``, ``resize``,
``background``); `decode_picture` opens, orients, converts and resizes one picture;
`run_parallel` decodes many on a thread pool (Pillow releases the GIL while it decodes)
with a progress callback. A picture that cannot be read raises `SkipPicture` with a short
reason; the caller counts it and goes on.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ganstudio.core.choices import PICTURE_SIZES, largest_auto_size
from ganstudio.core.data.guards import NotRegularFile, open_regular

SIZES = PICTURE_SIZES  # 28 to 512 px; above 64 only when asked for (?size=256)
DEFAULT_MAX_SIZE = largest_auto_size(accelerator=False)


MODES = ("gray", "rgb")
RESIZES = ("center-crop", "stretch", "pad")
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 2.0  # Pillow first reduces by whole factors (fast box filter), then LANCZOS
# Pictures read (archive members' bytes) but not decoded yet are bounded: a chunk closes at
# CHUNK_BYTES, and no more chunks are read while IN_FLIGHT_BYTES wait.
CHUNK_BYTES = 64_000_000
IN_FLIGHT_BYTES = 512_000_000

ProgressFn = Callable[[int, int], None]
# Source of one picture: a file path, its bytes, or an (H, W[, C]) uint8 array.
PictureInput = Path | bytes | np.ndarray


class SkipPicture(Exception):
    """One picture cannot be used; str(exc) is the reason shown to the user."""


@dataclass(frozen=True)
class PrepSettings:
    """Resolved preparation settings: every field known."""

    size: int
    mode: str  # "gray" or "rgb"
    resize: str  # one of RESIZES
    background: tuple[int, int, int]

    @property
    def channels(self) -> int:
        return 1 if self.mode == "gray" else 3

    def describe(self) -> str:
        bg = "".join(f"{v:02x}" for v in self.background)
        return f"{self.size}x{self.size} {self.mode}, {self.resize}, background #{bg}"


def parse_background(value: str) -> tuple[int, int, int]:
    """'ffffff', '#fff' or 'black'/'white' -> an (r, g, b) tuple."""
    text = value.strip().lower().lstrip("#")
    named = {"white": "ffffff", "black": "000000", "gray": "808080", "grey": "808080"}
    text = named.get(text, text)
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        if len(text) != 6:
            raise ValueError
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        raise ValueError(
            f"background must be a hex colour such as ffffff or 000000, got {value!r}"
        ) from None


def parse_size(value: str) -> int:
    try:
        size = int(str(value).strip())
    except ValueError:
        size = -1
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}, got {value!r}")
    return size


def pick_size(short_sides: Iterable[int], cap: int = DEFAULT_MAX_SIZE) -> int:
    """The size in SIZES nearest (by ratio) to the median short side, at most ``cap``."""
    sides = sorted(s for s in short_sides if s > 0)
    if not sides:
        return cap
    median = sides[len(sides) // 2]
    best = min(SIZES, key=lambda s: abs(math.log(s / median)))
    return min(best, cap)


# ---------------------------------------------------------------------------------------------
# One picture


def _reason(exc: BaseException) -> str:
    """A short, user-facing reason for a failed decode."""
    text = str(exc)
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "too large (over Pillow's decompression-bomb pixel limit)"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (or an unsupported format)"
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, MemoryError):
        return "too large to decode (out of memory)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    first = text.splitlines()[0][:80] if text else ""
    return f"corrupt ({type(exc).__name__}{': ' + first if first else ''})"


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float single-channel images -> mode L, scaled correctly."""
    a = np.asarray(im)
    if im.mode == "F":
        a = a.astype(np.float64)
        a = np.nan_to_num(a)
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(a * scale, 0, 255).round().astype(np.uint8), "L")
    a = a.astype(np.int64)
    if a.max(initial=0) > 255 or im.mode.startswith("I;16"):
        a = (a.clip(0, 65535) + 128) // 257  # 0..65535 -> 0..255
    return Image.fromarray(a.clip(0, 255).astype(np.uint8), "L")


def _flatten(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode -> L or RGB, with transparency composited onto ``background``."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return _to_8bit(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode == "L" and "transparency" in im.info:
        im = im.convert("LA")
    elif im.mode == "RGB" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        base.alpha_composite(rgba)
        return base.convert("RGB")
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    return im


def _fit(im: Image.Image, s: PrepSettings) -> Image.Image:
    """Resize (and crop or pad) to a square of s.size pixels."""
    w, h = im.size
    t = s.size
    if s.resize == "stretch":
        return im.resize((t, t), RESAMPLE, reducing_gap=REDUCING_GAP)
    if s.resize == "center-crop":
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        box = (left, top, left + side, top + side)
        return im.resize((t, t), RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    # pad: the whole picture, its longer side t, centred on the background colour
    scale = t / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = im.resize((nw, nh), RESAMPLE, reducing_gap=REDUCING_GAP)
    fill = s.background if im.mode == "RGB" else round(sum(s.background) / 3)
    canvas = Image.new(im.mode, (t, t), fill)
    canvas.paste(small, ((t - nw) // 2, (t - nh) // 2))
    return canvas


def open_picture(src: PictureInput, draft_size: int | None = None) -> tuple[Image.Image, str]:
    """Open and load a picture (first frame), EXIF orientation applied.

    Returns the image and "WxH MODE" of the picture as stored (upright). With
    ``draft_size``, JPEGs are decoded at the smallest 1/2, 1/4, 1/8 scale that keeps both
    sides at least that large: a 40-megapixel photo never exists at full size.
    """
    if isinstance(src, np.ndarray):
        im = Image.fromarray(src)
        return im, f"{im.size[0]}x{im.size[1]} {im.mode}"
    if isinstance(src, bytes):
        if not src:
            raise SkipPicture("empty file")
        return _open_image(io.BytesIO(src), draft_size)
    try:
        fh = open_regular(src)  # never a FIFO or device: reading one could block forever
    except NotRegularFile as exc:
        raise SkipPicture(str(exc)) from None
    with fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise SkipPicture("empty file")
        return _open_image(fh, draft_size)


def _open_image(fp: Any, draft_size: int | None) -> tuple[Image.Image, str]:
    with Image.open(fp) as raw:  # closes its frames, also for multi-frame GIF and TIFF
        (w, h), mode = raw.size, raw.mode
        if draft_size and raw.format == "JPEG":
            raw.draft(raw.mode, (draft_size, draft_size))
        raw.load()
        im = ImageOps.exif_transpose(raw)  # a transposed image, or a copy
    if im.size != raw.size:  # rotated by 90 degrees
        w, h = h, w
    return im, f"{w}x{h} {mode}"


def decode_picture(src: PictureInput, s: PrepSettings) -> tuple[np.ndarray, str]:
    """One picture -> (uint8 (H, W) or (H, W, 3) array of s.size, "WxH MODE" of the source).

    Raises SkipPicture with a reason when the picture cannot be used.
    """
    try:
        im, described = open_picture(src, draft_size=2 * s.size)
        im = _flatten(im, s.background)
        im = im.convert("L" if s.mode == "gray" else "RGB")
        im = _fit(im, s)
        return np.asarray(im), described
    except SkipPicture:
        raise
    except (Exception, Image.DecompressionBombWarning) as exc:  # noqa: BLE001 - never crash
        raise SkipPicture(_reason(exc)) from None


def probe_picture(src: PictureInput) -> tuple[int, int, bool]:
    """(width, height, colourful) of a picture, decoded small; raises SkipPicture.

    ``colourful`` is False for pictures that are grey even when stored as RGB.
    """
    try:
        im, described = open_picture(src, draft_size=64)
        w, h = (int(v) for v in described.split()[0].split("x"))
        im = _flatten(im, (255, 255, 255))
        colourful = False
        if im.mode == "RGB":
            im.thumbnail((64, 64))
            a = np.asarray(im).astype(np.int16)
            spread = a.max(axis=2) - a.min(axis=2)
            colourful = bool((spread > 24).mean() > 0.005)
        return w, h, colourful
    except SkipPicture:
        raise
    except (Exception, Image.DecompressionBombWarning) as exc:  # noqa: BLE001
        raise SkipPicture(_reason(exc)) from None


# ---------------------------------------------------------------------------------------------
# Many pictures


def default_workers() -> int:
    """Decode threads by default: the CPU count (at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


def _weight(item: Any) -> int:
    """Bytes an item holds while it waits to be decoded (a path holds none)."""
    if isinstance(item, bytes):
        return len(item)
    if isinstance(item, np.ndarray):
        return int(item.nbytes)
    return 0


def run_parallel(
    task: Callable[[int, Any], None],
    items: Iterator[tuple[int, Any]] | Iterable[tuple[int, Any]],
    total: int,
    workers: int,
    progress: ProgressFn | None = None,
    chunk: int = 32,
) -> None:
    """Call ``task(index, item)`` for every item on ``workers`` threads, in chunks.

    ``items`` is consumed in the calling thread (so an archive is read sequentially) with
    a bounded number of chunks, and of bytes (IN_FLIGHT_BYTES, plus one chunk), in flight.
    ``progress(done, total)`` is called from the calling thread. ``task`` must not raise
    for an ordinary bad item.
    """
    done = 0
    if progress:
        progress(0, total)

    def run_chunk(batch: list[tuple[int, Any]]) -> int:
        for i, item in batch:
            task(i, item)
        return len(batch)

    def batches() -> Iterator[tuple[list[tuple[int, Any]], int]]:
        batch: list[tuple[int, Any]] = []
        held = 0
        for pair in items:
            batch.append(pair)
            held += _weight(pair[1])
            if len(batch) >= chunk or held >= CHUNK_BYTES:
                yield batch, held
                batch, held = [], 0
        if batch:
            yield batch, held

    if workers <= 1:
        for batch, _ in batches():
            done += run_chunk(batch)
            if progress:
                progress(done, total)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="ganstudio-decode") as pool:
        pending: dict[Future[int], int] = {}  # chunk -> the bytes it holds

        def collect() -> None:  # wait for some chunks, count them, report progress
            nonlocal done
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                del pending[f]
                done += f.result()
            if progress:
                progress(done, total)

        try:
            for batch, held in batches():
                pending[pool.submit(run_chunk, batch)] = held
                while pending and (
                    len(pending) >= 4 * workers or sum(pending.values()) > IN_FLIGHT_BYTES
                ):
                    collect()
            while pending:
                collect()
        except BaseException:
            for f in pending:
                f.cancel()
            raise
