"""Provenance: how an export was made (model hash, seeds or latent vectors, truncation, and
the layout or animation settings), as a small JSON object, checked, and read back from a PNG
text chunk (``ganstudio.provenance``) or an animation's JSON sidecar (``walk.gif.json``).

Latent vectors are stored as JSON numbers that read back to the same float32 bits.
"""

from __future__ import annotations

import io
import json
import math
import reprlib
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TypeGuard

import numpy as np

from ganstudio import __version__
from ganstudio.core.conditioning import MAX_CLASSES
from ganstudio.core.errors import UserError
from ganstudio.core.explore import latent
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.models import MAX_LATENT_DIM

PROVENANCE_KEY = "ganstudio.provenance"
PROVENANCE_VERSION = 1
KINDS = ("grid", "interpolation", "sample")
PICTURE_SUFFIXES = (".png",)
ANIMATION_SUFFIXES = (".gif", ".webp", ".mp4")
SIDECAR_SUFFIX = ".json"

# ----------------------------------------------------------------------------------------
# What an export may ask for: the one place these limits live. Provenance read from a file,
# the command line's options and the window's fields are all checked against them, and the
# memory an export needs is estimated (export_memory) before anything is rendered.

MAX_GRID_SIDE = 64  # rows, and columns, of a grid
MAX_PADDING = 64  # pixels between the cells of a grid
MAX_UPSCALE = 16  # integer pixel scaling of pictures and frames
MAX_FRAMES = 10_000  # frames of an animation
MAX_KEYFRAMES = 1_000  # keyframes of an animation
MAX_FPS = 120.0  # frames per second of an animation
MAX_SEED = 2**63 - 1  # seeds are 0 to this (what torch.Generator.manual_seed takes)
MAX_LATENT_VALUE = 1e4  # |value| of a stored latent (they are standard normal: ~ +-4)
MAX_VECTORS = 65_536  # latent vectors in one vector file
MAX_TEXT_BYTES = 32 * 2**20  # provenance or vector-file JSON, decompressed (32 MiB)
MAX_EXPORT_BYTES = 2_000_000_000  # memory one export may take while it is made (2 GB)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ExportError(UserError, ValueError):
    """An export cannot be written or read; the message names the file and the reason."""


def sidecar_path(path: str | Path) -> Path:
    """Where an animation's provenance goes: walk.gif -> walk.gif.json."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


# ----------------------------------------------------------------------------------------
# Colours and latent vectors as JSON


def hex_colour(rgb: Sequence[int]) -> str:
    """(r, g, b) -> "#rrggbb"."""
    r, g, b = (int(c) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_colour(text: str) -> tuple[int, int, int]:
    """ "#rrggbb" or "rrggbb" -> (r, g, b)."""
    digits = str(text).strip().removeprefix("#")
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"a colour is 6 hex digits like 202020 or #202020, not {text!r}")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _exact_float(x: np.float32) -> float:
    """A Python float that reads back as exactly x in float32, with as few digits as can be."""
    short = float(str(x))  # shortest decimal that names x among float32 numbers
    return short if np.float32(short) == x else float(x)


def encode_vectors(z: np.ndarray) -> list[list[float]]:
    """Latent vectors (n, D) as lists of JSON numbers that read back bit for bit as float32."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"expected latent vectors (n, D), got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("latent vectors must be finite numbers (no NaN or infinity)")
    return [[_exact_float(x) for x in row] for row in z]


def decode_vectors(data: object, where: str = "vectors") -> np.ndarray:
    """Lists of numbers (n, D) -> float32 (n, D), with a clear error for anything else."""
    if not isinstance(data, list) or not data or not all(isinstance(r, list) for r in data):
        raise ExportError(f"{where}: expected a non-empty list of latent vectors (lists)")
    if len(data) > MAX_VECTORS:
        raise ExportError(f"{where}: {len(data):,} latent vectors, more than {MAX_VECTORS:,}")
    if len({len(r) for r in data}) != 1 or not data[0]:
        raise ExportError(f"{where}: latent vectors must all have the same, non-zero length")
    if not 1 <= len(data[0]) <= MAX_LATENT_DIM:
        raise ExportError(
            f"{where}: latent vectors of size {len(data[0]):,}; the most a model takes is "
            f"{MAX_LATENT_DIM:,}"
        )
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) for r in data for x in r):
        raise ExportError(f"{where}: latent vectors must hold only numbers")
    try:
        z = np.asarray(data, dtype=np.float64)
    except OverflowError:  # a whole number too large for any float
        z = np.array([np.inf])
    return check_latent_values(z, where)


def check_latent_values(z: np.ndarray, where: str) -> np.ndarray:
    """z as float32 after checking that every value is finite and within MAX_LATENT_VALUE
    (latents are standard normal; far larger values are a damaged or foreign file)."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.asarray(z, dtype=np.float32)
    if not np.isfinite(z).all():
        raise ExportError(f"{where}: latent vectors must be finite numbers (no NaN or infinity)")
    if z.size and float(np.abs(z).max()) > MAX_LATENT_VALUE:
        raise ExportError(
            f"{where}: a latent value of {float(np.abs(z).max()):.3g}; latents are standard "
            f"normal numbers, at most {MAX_LATENT_VALUE:g} in size here"
        )
    return z


# ----------------------------------------------------------------------------------------
# Provenance


def _latent_fields(
    gen: GeneratorFile, seeds: Sequence[int] | None, vectors: np.ndarray | None
) -> dict:
    """{"seeds": [...]} or {"vectors": [...]} for the given latents."""
    if (seeds is None) == (vectors is None):
        raise ValueError("give either seeds or vectors, not both or neither")
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("give at least one seed")
        return {"seeds": seeds}
    v = np.asarray(vectors, dtype=np.float32)
    v = v[None] if v.ndim == 1 else v
    if v.ndim != 2 or v.shape[1] != gen.latent_dim:
        raise ValueError(
            f"vectors must be (n, {gen.latent_dim}) for this model, got shape {v.shape}"
        )
    return {"vectors": encode_vectors(v)}


def _common(kind: str, gen: GeneratorFile, truncation: float) -> dict:
    latent.truncate(np.zeros(1, np.float32), truncation)  # checks psi
    return {
        "app": "ganstudio",
        "app_version": __version__,
        "provenance_version": PROVENANCE_VERSION,
        "kind": kind,
        "model_hash": str(gen.meta.get("content_hash", "")),
        "model_step": gen.meta.get("step"),
        "latent_dim": gen.latent_dim,
        "truncation": float(truncation),
    }


def grid_provenance(
    gen: GeneratorFile,
    rows: int,
    cols: int,
    *,
    seeds: Sequence[int] | None = None,
    vectors: np.ndarray | None = None,
    truncation: float = 1.0,
    padding: int = 2,
    background: Sequence[int] = (32, 32, 32),
    upscale: int = 1,
    classes: Sequence[int] | None = None,
) -> dict:
    """Provenance of a grid: one latent per cell (seeds or vectors, before truncation), row
    by row; for a conditional model the class of each cell (or one for all)."""
    prov = _common("grid", gen, truncation) | _latent_fields(gen, seeds, vectors)
    prov |= class_fields(gen, classes)
    prov |= {
        "rows": int(rows),
        "cols": int(cols),
        "padding": int(padding),
        "background": hex_colour(background),
        "upscale": int(upscale),
    }
    return check_provenance(prov)


def interpolation_provenance(
    gen: GeneratorFile,
    *,
    seeds: Sequence[int] | None = None,
    vectors: np.ndarray | None = None,
    steps: int = 24,
    mode: str = "slerp",
    easing: str = "linear",
    loop: bool = False,
    fps: float = 24,
    truncation: float = 1.0,
    upscale: int = 1,
    classes: Sequence[int] | None = None,
) -> dict:
    """Provenance of an animation through keyframes (at least 2 seeds or vectors, before
    truncation), stored as "keyframes": {"seeds": [...]} or {"vectors": [...]}; a
    conditional model's frames all draw ``classes`` (one class)."""
    prov = (
        _common("interpolation", gen, truncation)
        | class_fields(gen, classes)
        | {
            "keyframes": _latent_fields(gen, seeds, vectors),
            "mode": mode,
            "steps": int(steps),
            "easing": easing,
            "loop": bool(loop),
            "fps": float(fps),
            "upscale": int(upscale),
        }
    )
    return check_provenance(prov)


def sample_provenance(
    gen: GeneratorFile,
    *,
    seeds: Sequence[int] | None = None,
    vectors: np.ndarray | None = None,
    truncation: float = 1.0,
    upscale: int = 1,
    classes: Sequence[int] | None = None,
) -> dict:
    """Provenance of one sample picture (one seed or one vector), without padding."""
    prov = _common("sample", gen, truncation) | _latent_fields(gen, seeds, vectors)
    prov |= class_fields(gen, classes)
    return check_provenance(prov | {"upscale": int(upscale)})


# Layout fields an export may leave out, and what they then mean.
DEFAULTS = {"upscale": 1, "padding": 2, "background": "#202020"}


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: object) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_provenance(prov: object, source: str = "provenance") -> dict:
    """Check a provenance object; returns it, or raises ExportError naming ``source``."""

    def fail(reason: str) -> ExportError:
        return ExportError(f"{source}: {reason}")

    if not isinstance(prov, dict) or prov.get("app") != "ganstudio":
        raise fail("not GAN Studio export provenance")
    version = prov.get("provenance_version")
    if not _is_int(version) or version < 1:
        raise fail(f"bad provenance version {_show(version)}")
    if version > PROVENANCE_VERSION:
        raise fail(
            f"written by a newer GAN Studio ({_show(prov.get('app_version', '?'))}, provenance "
            f"version {version}); this is {__version__}: please update the app"
        )
    kind = prov.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail(f"unknown export kind {_show(kind)}; known: {', '.join(KINDS)}")
    if not isinstance(prov.get("model_hash"), str):
        raise fail("the model hash is missing")
    step = prov.get("model_step")
    if step is not None and not (_is_int(step) and 0 <= step <= MAX_SEED):
        raise fail(f"model_step must be a whole number of 0 or more, not {_show(step)}")
    dim = prov.get("latent_dim")
    if not _is_int(dim) or not 1 <= dim <= MAX_LATENT_DIM:
        raise fail(
            f"latent_dim must be a whole number from 1 to {MAX_LATENT_DIM}, not {_show(dim)}"
        )
    psi = prov.get("truncation")
    if not _is_number(psi) or not 0 < psi <= 1:
        raise fail(f"truncation must be a number in (0, 1], not {_show(psi)}")
    upscale = prov.get("upscale", DEFAULTS["upscale"])
    if not _is_int(upscale) or not 1 <= upscale <= MAX_UPSCALE:
        raise fail(f"upscale must be a whole number from 1 to {MAX_UPSCALE}, not {_show(upscale)}")
    if kind == "grid":
        for key in ("rows", "cols"):
            if not _is_int(prov.get(key)) or not 1 <= prov[key] <= MAX_GRID_SIDE:
                raise fail(
                    f"{key} must be a whole number from 1 to {MAX_GRID_SIDE}, "
                    f"not {_show(prov.get(key))}"
                )
        padding = prov.get("padding", DEFAULTS["padding"])
        if not _is_int(padding) or not 0 <= padding <= MAX_PADDING:
            raise fail(
                f"padding must be a whole number from 0 to {MAX_PADDING}, not {_show(padding)}"
            )
        background = prov.get("background", DEFAULTS["background"])
        try:
            if not isinstance(background, str):
                raise ValueError(f"a colour is 6 hex digits like #202020, not {_show(background)}")
            parse_colour(background)
        except ValueError as exc:
            raise fail(f"background: {exc}") from None
        count = len(_latents(prov, source, MAX_GRID_SIDE**2))
        if count > prov["rows"] * prov["cols"]:
            raise fail(f"{count} latents do not fit a {prov['rows']}x{prov['cols']} grid")
    elif kind == "sample":
        count = len(_latents(prov, source))
        if count != 1:
            raise fail(f"a sample has one latent, not {count}")
    elif kind == "interpolation":
        count = len(_latents(prov, source, MAX_KEYFRAMES))
        if count < 2:
            raise fail("an interpolation needs at least 2 keyframes")
        if prov.get("mode") not in latent.MODES:
            raise fail(f"unknown interpolation mode {_show(prov.get('mode'))}")
        if prov.get("easing") not in latent.EASINGS:
            raise fail(f"unknown easing {_show(prov.get('easing'))}")
        steps = prov.get("steps")
        if not _is_int(steps) or not 1 <= steps <= MAX_FRAMES:
            raise fail(f"steps must be a whole number from 1 to {MAX_FRAMES:,}, not {_show(steps)}")
        if not isinstance(prov.get("loop"), bool):
            raise fail('"loop" must be true or false')
        frames = frame_count(count, steps, prov["loop"])
        if frames > MAX_FRAMES:
            raise fail(
                f"{frames:,} frames ({steps:,} steps between {count:,} keyframes) is more than "
                f"the {MAX_FRAMES:,} an animation may have"
            )
        fps = prov.get("fps")
        if not _is_number(fps) or not 0 < fps <= MAX_FPS:
            raise fail(
                f"fps must be a number more than 0 and at most {MAX_FPS:g}, not {_show(fps)}"
            )
    _check_classes(prov, 1 if kind == "interpolation" else count, fail)
    return prov


def _check_classes(prov: dict, count: int, fail: Callable[[str], ExportError]) -> None:
    """A class-conditional export's "classes": one class index per latent (grid, sample),
    or one for every frame (interpolation) or every cell."""
    classes = prov.get("classes")
    if classes is None:
        return
    if not (
        isinstance(classes, list)
        and classes
        and all(_is_int(c) and 0 <= c < MAX_CLASSES for c in classes)
    ):
        raise fail(
            f'"classes" must be a list of class numbers from 0 to {MAX_CLASSES - 1}, '
            f"not {_show(classes)}"
        )
    if len(classes) not in (1, count):
        raise fail(f'"classes" lists {len(classes)} classes for {count} latents')
    names = prov.get("class_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        raise fail(f'"class_names" must be a list of text, not {_show(names)}')


def classes_from_provenance(prov: dict, count: int) -> list[int] | None:
    """The class of each of ``count`` samples of a checked provenance (None: it names no
    classes, an unconditional model's export)."""
    classes = prov.get("classes")
    if classes is None:
        return None
    return list(classes) * count if len(classes) == 1 else list(classes)


def class_fields(gen: GeneratorFile, classes: Sequence[int] | None) -> dict:
    """{"classes": [...], "class_names": [...]} for an export of a conditional model drawn
    with these classes; {} when none are given."""
    if classes is None:
        return {}
    names = gen.class_names
    classes = [int(c) for c in classes]
    return {"classes": classes, "class_names": [names[c] for c in classes]}


def frame_count(keyframes: int, steps: int, loop: bool) -> int:
    """Frames of an animation through ``keyframes`` with ``steps`` per segment (as
    latent.keyframe_path makes them)."""
    return steps * keyframes if loop else steps * (keyframes - 1) + 1


def _show(value: object) -> str:
    """A value for an error message: repr() cut short (a value from a file may be huge)."""
    return reprlib.repr(value)


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def grid_memory(
    count: int, rows: int, cols: int, sample_shape: Sequence[int], padding: int, upscale: int
) -> tuple[int, int, int]:
    """(width, height, bytes) of a grid of ``count`` (C, H, W) pictures: its size in pixels
    and about how much memory making it takes (the picture, and the upscaled RGB cells
    twice over while they are scaled)."""
    _c, h, w = (int(d) * upscale for d in sample_shape)
    height, width = rows * h + (rows + 1) * padding, cols * w + (cols + 1) * padding
    return width, height, width * height * 3 + 2 * count * h * w * 3


def frames_memory(frames: int, sample_shape: Sequence[int], upscale: int) -> tuple[int, int, int]:
    """(width, height, bytes) of the frames of an animation of (C, H, W) pictures: the size
    of each and about how much memory making it takes (every frame twice: once rendered,
    once handed to the encoder)."""
    _c, h, w = (int(d) * upscale for d in sample_shape)
    return w, h, 2 * frames * h * w * 3


def export_memory(prov: dict, sample_shape: Sequence[int]) -> tuple[int, int, int]:
    """(width, height, bytes) of a checked export of a model making (C, H, W) pictures (see
    grid_memory and frames_memory)."""
    upscale = prov.get("upscale", DEFAULTS["upscale"])
    if prov["kind"] == "interpolation":
        keys = prov["keyframes"]
        count = len(keys.get("seeds") or keys.get("vectors") or ())
        frames = frame_count(count, prov["steps"], prov["loop"])
        return frames_memory(frames, sample_shape, upscale)
    count = len(prov.get("seeds") or prov.get("vectors") or ())
    if prov["kind"] == "sample":
        return grid_memory(count, 1, 1, sample_shape, 0, upscale)
    padding = prov.get("padding", DEFAULTS["padding"])
    return grid_memory(count, prov["rows"], prov["cols"], sample_shape, padding, upscale)


def check_memory(need: int, what: str, fix: str, source: str = "export") -> None:
    """ExportError naming ``source`` when ``what`` (e.g. "a picture of 9 x 9 px") would need
    more than MAX_EXPORT_BYTES of memory; the message says how much and suggests ``fix``."""
    if need > MAX_EXPORT_BYTES:
        raise ExportError(
            f"{source}: {what} would need about {_gb(need)} of memory, more than the "
            f"{_gb(MAX_EXPORT_BYTES)} an export may take: {fix}"
        )


GRID_FIX = "choose fewer rows or columns, or a smaller upscale or padding"
FRAMES_FIX = "choose fewer steps or keyframes, or a smaller upscale"


def check_export_size(prov: dict, sample_shape: Sequence[int], source: str = "export") -> None:
    """ExportError, naming ``source``, when making the checked export ``prov`` with a model
    of (C, H, W) pictures would take more than MAX_EXPORT_BYTES of memory."""
    width, height, need = export_memory(prov, sample_shape)
    if prov["kind"] == "interpolation":
        frames = need // (2 * width * height * 3)
        what = f"{frames:,} frames of {width:,} x {height:,} px"
        check_memory(need, what, FRAMES_FIX, source)
    else:
        check_memory(need, f"a picture of {width:,} x {height:,} px", GRID_FIX, source)


def _latents(prov: dict, source: str, most: int = MAX_VECTORS) -> np.ndarray | list[int]:
    """The export's seeds (list of int) or decoded vectors, checked (at most ``most`` of
    them): from the top level for a grid or a sample, from "keyframes" for an
    interpolation."""
    holder, where = prov, source
    if prov["kind"] == "interpolation":
        keyframes, where = prov.get("keyframes"), f"{source}: keyframes"
        if not isinstance(keyframes, dict):
            raise ExportError(f'{where}: expected {{"seeds": [...]}} or {{"vectors": [...]}}')
        holder = keyframes
    if ("seeds" in holder) == ("vectors" in holder):
        raise ExportError(f'{where}: needs either "seeds" or "vectors"')
    found = holder.get("seeds", holder.get("vectors"))
    if isinstance(found, list) and len(found) > most:
        what = "keyframes" if prov["kind"] == "interpolation" else "latents"
        raise ExportError(f"{where}: {len(found):,} {what}, more than the {most:,} it may have")
    if "seeds" in holder:
        seeds = holder["seeds"]
        if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
            raise ExportError(f"{where}: seeds must be a non-empty list of whole numbers")
        if not all(0 <= s <= MAX_SEED for s in seeds):
            raise ExportError(f"{where}: seeds must be whole numbers from 0 to 2**63 - 1")
        return seeds
    vectors = decode_vectors(holder["vectors"], f"{where}: vectors")
    if vectors.shape[1] != prov["latent_dim"]:
        raise ExportError(
            f"{where}: vectors of size {vectors.shape[1]}, but the latent size is "
            f"{prov['latent_dim']}"
        )
    return vectors


def _to_vectors(latents: np.ndarray | list[int], dim: int) -> np.ndarray:
    if isinstance(latents, np.ndarray):
        return latents
    return np.stack([latent.seed_vector(s, dim) for s in latents]).astype(np.float32)


def vectors_from_provenance(prov: dict) -> np.ndarray:
    """The export's latents (n, D) before truncation: seed vectors rebuilt, or the stored
    vectors bit for bit. For an interpolation, its keyframes."""
    check_provenance(prov)
    return _to_vectors(_latents(prov, "provenance"), prov["latent_dim"])


def keyframes_from_provenance(prov: dict) -> np.ndarray:
    """The keyframes (K, D) of an interpolation, before truncation."""
    check_provenance(prov)
    if prov["kind"] != "interpolation":
        raise ExportError(f"a {prov['kind']} export has no keyframes")
    return _to_vectors(_latents(prov, "provenance"), prov["latent_dim"])


def model_matches(gen: GeneratorFile, prov: dict) -> bool:
    """Whether gen is the model (same weights) the export was made with."""
    return str(gen.meta.get("content_hash", "")) == prov["model_hash"]


# ----------------------------------------------------------------------------------------
# Reading


def _inflate(data: bytes) -> bytes:
    """zlib data decompressed, refusing (ExportError via _TooLarge) more than MAX_TEXT_BYTES
    without inflating the rest: a few megabytes can expand to gigabytes."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_BYTES + 1)
    if len(out) > MAX_TEXT_BYTES or inflater.unconsumed_tail:
        raise _TooLarge
    return out


class _TooLarge(Exception):
    """A text chunk larger than MAX_TEXT_BYTES (compressed or not)."""


def _png_text_chunk(fh: BinaryIO, key: str) -> str | None:
    """The text of a PNG tEXt/zTXt/iTXt chunk named key, or None, read from fh (positioned
    after the signature). Our own reader: Pillow refuses text chunks over 1 MB, which a grid
    of stored vectors can exceed; this one reads only the text chunks, skips the pixels,
    and stops at MAX_TEXT_BYTES of text, compressed or not (_TooLarge)."""
    wanted = key.encode("latin-1")
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            return None
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            fh.seek(length + 4, io.SEEK_CUR)  # the chunk's data and its CRC
            continue
        name = fh.read(min(length, 80))  # PNG keywords are 1 to 79 bytes, then a NUL
        if not name.startswith(wanted + b"\0"):
            fh.seek(length - len(name) + 4, io.SEEK_CUR)
            continue
        if length > MAX_TEXT_BYTES + 1024:
            raise _TooLarge
        body = name + fh.read(length - len(name))
        if len(body) < length:
            raise struct.error("the chunk is cut off")
        rest = body[len(wanted) + 1 :]
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"zTXt":
            return _inflate(rest[1:]).decode("latin-1")
        compressed, _method, rest = rest[0], rest[1], rest[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (_inflate(text) if compressed else text).decode("utf-8")


def parse_json(text: str, where: str, what: str = "the file") -> object:
    """JSON text -> a value; ExportError naming ``where`` for text that is not JSON or is
    nested too deeply to read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ExportError(f"{where}: {what} is not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ExportError(f"{where}: {what} is not valid JSON ({exc})") from None


def read_json_file(path: Path, what: str, name: str = "the file") -> object:
    """The JSON value in a file of at most MAX_TEXT_BYTES (``what`` it should be, e.g. "a
    latent vector file"; ``name`` what its text is called in a message); ExportError naming
    the file."""
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise ExportError(
                f"{path}: {size / 2**20:.0f} MiB is too large for {what} (at most "
                f"{MAX_TEXT_BYTES // 2**20} MiB)"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not {what} (not text)") from None
    return parse_json(text, str(path), name)


def _read_sidecar(sidecar: Path, export: Path) -> dict:
    prov = read_json_file(sidecar, "a GAN Studio provenance file", "the provenance")
    return check_provenance(prov, str(export if export != sidecar else sidecar))


def read_provenance(path: str | Path) -> dict:
    """The provenance of an export: from a PNG's chunk, an animation's sidecar, or a sidecar
    named directly. Every problem is an ExportError naming the file."""
    p = Path(path)
    if not p.exists():
        raise ExportError(f"{p}: no such file")
    if p.is_dir():
        raise ExportError(f"{p}: is a folder, not an export")
    if p.suffix.lower() == SIDECAR_SUFFIX:
        return _read_sidecar(p, p)
    sidecar = sidecar_path(p)
    try:
        with p.open("rb") as fh:
            is_png = fh.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE
            text = _png_text_chunk(fh, PROVENANCE_KEY) if is_png else None
    except OSError as exc:
        raise ExportError(f"{p}: cannot read it ({exc.strerror})") from None
    except _TooLarge:
        raise ExportError(
            f"{p}: the PNG's provenance chunk holds more than {MAX_TEXT_BYTES // 2**20} MiB of "
            "text, far more than any export's; it was not read"
        ) from None
    except (zlib.error, UnicodeDecodeError, struct.error, IndexError, ValueError):
        raise ExportError(f"{p}: the PNG's provenance chunk is damaged") from None
    if is_png:
        if text is not None:
            prov = parse_json(text, str(p), "the provenance")
            return check_provenance(prov, str(p))
        if sidecar.is_file():
            return _read_sidecar(sidecar, p)
        raise ExportError(
            f"{p}: a PNG without GAN Studio provenance (not exported by GAN Studio, or its "
            "text chunks were removed)"
        )
    if sidecar.is_file():
        return _read_sidecar(sidecar, p)
    if p.suffix.lower() in ANIMATION_SUFFIXES:
        raise ExportError(
            f"{p}: no GAN Studio provenance: its sidecar {sidecar.name} is missing (exported "
            "animations keep their provenance in that file beside them)"
        )
    raise ExportError(f"{p}: not a GAN Studio export (a .png picture or an animation with .json)")
