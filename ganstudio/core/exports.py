"""Exports that remember how they were made: PNG grids, GIF/WebP/MP4 interpolations, single
samples, and latent vector files.

Every export carries its provenance, a small JSON object (model hash, seeds or latent
vectors, truncation, and the layout or animation settings), so it can be reopened and
rendered again pixel for pixel from the same model:

- PNG pictures hold it in an iTXt chunk named ``ganstudio.provenance``;
- animations get a JSON sidecar next to them, ``walk.gif`` -> ``walk.gif.json``.

Latent vectors are stored as JSON numbers that read back to the same float32 bits.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from ganstudio import __version__
from ganstudio.core import latent, sampling
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.render import atomic_write_bytes, make_grid, to_uint8

PROVENANCE_KEY = "ganstudio.provenance"
PROVENANCE_VERSION = 1
KINDS = ("grid", "interpolation", "sample")
PICTURE_SUFFIXES = (".png",)
ANIMATION_SUFFIXES = (".gif", ".webp", ".mp4")
SIDECAR_SUFFIX = ".json"
MP4_HELP = "pip install imageio imageio-ffmpeg (or: pip install av)"
NOT_FOR_POINTS = "grids and animations are for image models; this model makes 2-D points"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RENDER_BATCH = 256  # latents per forward pass: bounds memory, fixed so results repeat exactly


class ExportError(ValueError):
    """An export cannot be written or read; the message names the file and the reason."""


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
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) for r in data for x in r):
        raise ExportError(f"{where}: latent vectors must hold only numbers")
    if len({len(r) for r in data}) != 1 or not data[0]:
        raise ExportError(f"{where}: latent vectors must all have the same, non-zero length")
    z = np.asarray(data, dtype=np.float64)
    if not np.isfinite(z).all():
        raise ExportError(f"{where}: latent vectors must be finite numbers")
    return z.astype(np.float32)


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
) -> dict:
    """Provenance of a grid: one latent per cell (seeds or vectors, before truncation), row
    by row."""
    prov = _common("grid", gen, truncation) | _latent_fields(gen, seeds, vectors)
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
) -> dict:
    """Provenance of an animation through keyframes (at least 2 seeds or vectors, before
    truncation), stored as "keyframes": {"seeds": [...]} or {"vectors": [...]}."""
    prov = _common("interpolation", gen, truncation) | {
        "keyframes": _latent_fields(gen, seeds, vectors),
        "mode": mode,
        "steps": int(steps),
        "easing": easing,
        "loop": bool(loop),
        "fps": float(fps),
        "upscale": int(upscale),
    }
    return check_provenance(prov)


def sample_provenance(
    gen: GeneratorFile,
    *,
    seeds: Sequence[int] | None = None,
    vectors: np.ndarray | None = None,
    truncation: float = 1.0,
    upscale: int = 1,
) -> dict:
    """Provenance of one sample picture (one seed or one vector), without padding."""
    prov = _common("sample", gen, truncation) | _latent_fields(gen, seeds, vectors)
    return check_provenance(prov | {"upscale": int(upscale)})


# Layout fields an export may leave out, and what they then mean.
DEFAULTS = {"upscale": 1, "padding": 2, "background": "#202020"}


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_provenance(prov: object, source: str = "provenance") -> dict:
    """Check a provenance object; returns it, or raises ExportError naming ``source``."""

    def fail(reason: str) -> ExportError:
        return ExportError(f"{source}: {reason}")

    if not isinstance(prov, dict) or prov.get("app") != "ganstudio":
        raise fail("not GAN Studio export provenance")
    version = prov.get("provenance_version")
    if not _is_int(version) or version < 1:
        raise fail(f"bad provenance version {version!r}")
    if version > PROVENANCE_VERSION:
        raise fail(
            f"written by a newer GAN Studio ({prov.get('app_version', '?')}, provenance "
            f"version {version}); this is {__version__}: please update the app"
        )
    kind = prov.get("kind")
    if kind not in KINDS:
        raise fail(f"unknown export kind {kind!r}; known: {', '.join(KINDS)}")
    if not isinstance(prov.get("model_hash"), str):
        raise fail("the model hash is missing")
    dim = prov.get("latent_dim")
    if not _is_int(dim) or dim < 1:
        raise fail(f"bad latent size {dim!r}")
    psi = prov.get("truncation")
    if not _is_number(psi) or not 0 < psi <= 1:
        raise fail(f"truncation must be a number in (0, 1], not {psi!r}")
    count = len(_latents(prov, source))
    upscale = prov.get("upscale", DEFAULTS["upscale"])
    if not _is_int(upscale) or not 1 <= upscale <= 64:
        raise fail(f"upscale must be a whole number from 1 to 64, not {upscale!r}")
    if kind == "grid":
        for key in ("rows", "cols"):
            if not _is_int(prov.get(key)) or not 1 <= prov[key] <= 4096:
                raise fail(f"{key} must be a whole number of 1 or more, not {prov.get(key)!r}")
        padding = prov.get("padding", DEFAULTS["padding"])
        if not _is_int(padding) or not 0 <= padding <= 4096:
            raise fail(f"padding must be a whole number of 0 or more, not {padding!r}")
        try:
            parse_colour(prov.get("background", DEFAULTS["background"]))
        except ValueError as exc:
            raise fail(f"background: {exc}") from None
        if count > prov["rows"] * prov["cols"]:
            raise fail(f"{count} latents do not fit a {prov['rows']}x{prov['cols']} grid")
    elif kind == "sample" and count != 1:
        raise fail(f"a sample has one latent, not {count}")
    elif kind == "interpolation":
        if count < 2:
            raise fail("an interpolation needs at least 2 keyframes")
        if prov.get("mode") not in latent.MODES:
            raise fail(f"unknown interpolation mode {prov.get('mode')!r}")
        if prov.get("easing") not in latent.EASINGS:
            raise fail(f"unknown easing {prov.get('easing')!r}")
        if not _is_int(prov.get("steps")) or prov["steps"] < 1:
            raise fail(f"steps must be a whole number of 1 or more, not {prov.get('steps')!r}")
        if not isinstance(prov.get("loop"), bool):
            raise fail('"loop" must be true or false')
        if not _is_number(prov.get("fps")) or prov["fps"] <= 0:
            raise fail(f"fps must be a positive number, not {prov.get('fps')!r}")
    return prov


def _latents(prov: dict, source: str) -> np.ndarray | list[int]:
    """The export's seeds (list of int) or decoded vectors, checked: from the top level for
    a grid or a sample, from "keyframes" for an interpolation."""
    holder, where = prov, source
    if prov["kind"] == "interpolation":
        holder, where = prov.get("keyframes"), f"{source}: keyframes"
        if not isinstance(holder, dict):
            raise ExportError(f'{where}: expected {{"seeds": [...]}} or {{"vectors": [...]}}')
    if ("seeds" in holder) == ("vectors" in holder):
        raise ExportError(f'{where}: needs either "seeds" or "vectors"')
    if "seeds" in holder:
        seeds = holder["seeds"]
        if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
            raise ExportError(f"{where}: seeds must be a non-empty list of whole numbers")
        if not all(0 <= s < 2**63 for s in seeds):
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
# Rendering


def _check_image_model(gen: GeneratorFile) -> None:
    if not gen.is_image:
        raise ValueError(NOT_FOR_POINTS)


def _as_latents(gen: GeneratorFile, z: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    if z.ndim != 2 or z.shape[1] != gen.latent_dim or z.shape[0] < 1:
        raise ValueError(
            f"{what} must be latent vectors (n, {gen.latent_dim}) for this model, "
            f"got shape {tuple(z.shape)}"
        )
    return z


def _images(gen: GeneratorFile, z: torch.Tensor) -> np.ndarray:
    """uint8 images (N, C, H, W) for latents z, a fixed number at a time."""
    chunks = [
        to_uint8(sampling.generate(gen.module, c, batch=_RENDER_BATCH))
        for c in z.split(_RENDER_BATCH)
    ]
    return np.concatenate(chunks)


def render_grid(
    gen: GeneratorFile,
    z: np.ndarray,
    rows: int,
    cols: int,
    padding: int = 2,
    background: Sequence[int] = (32, 32, 32),
    upscale: int = 1,
) -> np.ndarray:
    """A grid of the images for latents z (n, D), row by row: uint8 (H, W, 3).

    Cells beyond n stay background. Truncation is not applied here (see latent.truncate).
    """
    _check_image_model(gen)
    z = _as_latents(gen, z, "grid latents")
    if rows < 1 or cols < 1:
        raise ValueError(f"a grid needs at least 1 row and 1 column, not {rows}x{cols}")
    if len(z) > rows * cols:
        raise ValueError(f"{len(z)} images do not fit a {rows}x{cols} grid")
    if padding < 0 or upscale < 1:
        raise ValueError("padding must be 0 or more and upscale 1 or more")
    return make_grid(_images(gen, z), rows, cols, padding, tuple(background), upscale)


def render_frames(gen: GeneratorFile, path_z: np.ndarray, upscale: int = 1) -> np.ndarray:
    """Animation frames for latents path_z (N, D), rendered in batches: uint8 (N, H, W, 3)."""
    _check_image_model(gen)
    z = _as_latents(gen, path_z, "frame latents")
    if upscale < 1:
        raise ValueError(f"upscale must be 1 or more, not {upscale}")
    frames = None
    for start in range(0, len(z), _RENDER_BATCH):
        images = _images(gen, z[start : start + _RENDER_BATCH])
        if upscale > 1:
            images = images.repeat(upscale, axis=2).repeat(upscale, axis=3)
        if images.shape[1] == 1:
            images = np.repeat(images, 3, axis=1)
        if frames is None:
            frames = np.empty((len(z), *images.shape[2:], 3), dtype=np.uint8)
        frames[start : start + len(images)] = images.transpose(0, 2, 3, 1)
    return frames


def interpolation_latents(prov: dict) -> np.ndarray:
    """The truncated latents (N, D) of every frame of an interpolation export."""
    keys = keyframes_from_provenance(prov)
    path = latent.keyframe_path(keys, prov["steps"], prov["mode"], prov["easing"], prov["loop"])
    return latent.truncate(path, prov["truncation"])


def render_provenance(gen: GeneratorFile, prov: dict) -> np.ndarray:
    """Render an export from its provenance: a picture (H, W, 3) for a grid or a sample,
    frames (N, H, W, 3) for an interpolation. The model hash is not checked here (see
    model_matches); a different latent size is an ExportError."""
    check_provenance(prov)
    _check_image_model(gen)
    if prov["latent_dim"] != gen.latent_dim:
        raise ExportError(
            f"the export uses latents of size {prov['latent_dim']}, but this model takes "
            f"{gen.latent_dim}: it was made with a different model"
        )
    upscale = prov.get("upscale", DEFAULTS["upscale"])
    if prov["kind"] == "interpolation":
        return render_frames(gen, interpolation_latents(prov), upscale)
    z = latent.truncate(vectors_from_provenance(prov), prov["truncation"])
    if prov["kind"] == "sample":
        return render_grid(gen, z, 1, 1, padding=0, upscale=upscale)
    return render_grid(
        gen,
        z,
        prov["rows"],
        prov["cols"],
        prov.get("padding", DEFAULTS["padding"]),
        parse_colour(prov.get("background", DEFAULTS["background"])),
        upscale,
    )


def write_export(path: str | Path, gen: GeneratorFile, prov: dict) -> np.ndarray:
    """Render an export from its provenance and save it (PNG for a grid or a sample; GIF,
    WebP or MP4 for an interpolation, by suffix). Returns what was rendered."""
    check_provenance(prov)
    if prov["kind"] == "interpolation":
        animation_format(path)  # fail before rendering
        frames = render_provenance(gen, prov)
        save_animation(path, frames, prov["fps"], prov["loop"], prov)
        return frames
    _check_picture_path(path)
    picture = render_provenance(gen, prov)
    save_grid(path, picture, prov)
    return picture


# ----------------------------------------------------------------------------------------
# Writing


def _compact_seeds(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds[:64])) + (" ..." if len(seeds) > 64 else "")


def _check_picture_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in PICTURE_SUFFIXES:
        raise ExportError(f"{p}: pictures are saved as PNG; use a name ending in .png")
    if p.is_dir():
        raise ExportError(f"{p}: is a folder; give a file name")
    return p


def save_grid(path: str | Path, picture: np.ndarray, provenance: dict) -> None:
    """Save a picture (uint8 (H, W, 3)) as PNG with its provenance, atomically.

    The provenance is JSON in a compressed iTXt chunk ``ganstudio.provenance``; a few short
    readable chunks (Software, ganstudio.kind, ganstudio.model_hash, ...) go beside it.
    """
    p = _check_picture_path(path)
    prov = check_provenance(provenance)
    picture = np.asarray(picture)
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) picture, got {picture.dtype} {picture.shape}")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Software", f"GAN Studio {__version__}")
    info.add_itxt("ganstudio.kind", prov["kind"])
    info.add_itxt("ganstudio.model_hash", prov["model_hash"])
    info.add_itxt("ganstudio.truncation", str(prov["truncation"]))
    if "seeds" in prov:
        info.add_itxt("ganstudio.seeds", _compact_seeds(prov["seeds"]))
    info.add_itxt(PROVENANCE_KEY, json.dumps(prov, separators=(",", ":")), zip=True)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(p, buf.getvalue())


def animation_format(path: str | Path) -> str:
    """The format ("gif", "webp" or "mp4") of an animation file name, or an ExportError (also
    when MP4 is asked for and no encoder library is installed)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ExportError(
            f"{p}: animations are saved as {', '.join(ANIMATION_SUFFIXES)}; "
            "use a name ending in one of these"
        )
    if p.is_dir():
        raise ExportError(f"{p}: is a folder; give a file name")
    if suffix == ".mp4" and _mp4_encoder() is None:
        raise ExportError(f"{p}: writing MP4 needs an encoder library: {MP4_HELP}")
    return suffix[1:]


def _mp4_encoder() -> str | None:
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401

        return "imageio"
    except ImportError:
        pass
    try:
        import av  # noqa: F401

        return "av"
    except ImportError:
        return None


def provenance_json(prov: dict) -> str:
    """Provenance as JSON text for a sidecar: one key per line, each value on its line."""
    lines = [
        f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in prov.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def sidecar_path(path: str | Path) -> Path:
    """Where an animation's provenance goes: walk.gif -> walk.gif.json."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def save_animation(
    path: str | Path, frames: np.ndarray, fps: float, loop: bool, provenance: dict
) -> None:
    """Save frames (uint8 (N, H, W, 3)) as an animation chosen by suffix, atomically, with
    its provenance in a JSON sidecar (path + ".json").

    GIF and WebP (lossless) through Pillow: loop forever when loop, else play once. MP4
    through imageio-ffmpeg or PyAV when installed (players decide about looping).
    """
    fmt = animation_format(path)
    prov = check_provenance(provenance)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or not len(frames):
        raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps}")
    p = Path(path)
    if fmt == "mp4":
        _write_mp4(p, frames, fps)
    else:
        images = [Image.fromarray(f) for f in frames]
        options: dict = {"duration": max(1, round(1000 / fps))}
        if fmt == "gif":
            if loop:
                options["loop"] = 0  # omitted: the GIF plays once
        else:
            options |= {"loop": 0 if loop else 1, "lossless": True}
        buf = io.BytesIO()
        images[0].save(buf, format=fmt.upper(), save_all=True, append_images=images[1:], **options)
        atomic_write_bytes(p, buf.getvalue())
    atomic_write_bytes(sidecar_path(p), provenance_json(prov).encode())


def _write_mp4(path: Path, frames: np.ndarray, fps: float) -> None:
    """H.264 MP4 (yuv420p, so odd sizes get one edge pixel row/column repeated)."""
    encoder = _mp4_encoder()
    if encoder is None:
        raise ExportError(f"{path}: writing MP4 needs an encoder library: {MP4_HELP}")
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        if encoder == "imageio":
            import imageio.v2 as imageio

            with imageio.get_writer(
                tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1, quality=8
            ) as writer:
                for frame in frames:
                    writer.append_data(frame)
        else:
            from fractions import Fraction

            import av

            with av.open(tmp, mode="w", format="mp4") as container:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator())
                stream.width, stream.height = frames.shape[2], frames.shape[1]
                stream.pix_fmt = "yuv420p"
                for frame in frames:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------
# Reading


def _png_text_chunk(data: bytes, key: str) -> str | None:
    """The text of a PNG tEXt/zTXt/iTXt chunk named key, or None. (Our own reader: Pillow
    refuses text chunks over 1 MB, which a grid of stored vectors can exceed.)"""
    pos, wanted = len(_PNG_SIGNATURE), key.encode("latin-1")
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        name, _, rest = body.partition(b"\0")
        if name != wanted:
            continue
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"zTXt":
            return zlib.decompress(rest[1:]).decode("latin-1")
        compressed, _method, rest = rest[0], rest[1], rest[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


def _read_sidecar(sidecar: Path, export: Path) -> dict:
    try:
        text = sidecar.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{sidecar}: cannot read the provenance ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ExportError(f"{sidecar}: not a GAN Studio provenance file (not text)") from None
    try:
        prov = json.loads(text)
    except ValueError as exc:
        raise ExportError(f"{sidecar}: the provenance is not valid JSON ({exc})") from None
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
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ExportError(f"{p}: cannot read it ({exc.strerror})") from None
    sidecar = sidecar_path(p)
    if data.startswith(_PNG_SIGNATURE):
        try:
            text = _png_text_chunk(data, PROVENANCE_KEY)
        except (zlib.error, UnicodeDecodeError, struct.error, IndexError):
            raise ExportError(f"{p}: the PNG's provenance chunk is damaged") from None
        if text is not None:
            try:
                return check_provenance(json.loads(text), str(p))
            except json.JSONDecodeError as exc:
                raise ExportError(f"{p}: the provenance is not valid JSON ({exc})") from None
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


# ----------------------------------------------------------------------------------------
# Latent vector files (the explorer's Save/Load)

VECTOR_SUFFIXES = (".npy", ".json")


def save_vectors(path: str | Path, z: np.ndarray, meta: dict | None = None) -> None:
    """Save latent vectors (n, D), atomically: .npy holds the raw float32 array (meta is not
    kept), .json holds {"vectors": [...], **meta} with bit-exact numbers."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise ExportError(f"{p}: latent vectors are saved as .npy or .json")
    z = np.asarray(z, dtype=np.float32)
    z = z[None] if z.ndim == 1 else z
    if z.ndim != 2 or 0 in z.shape:
        raise ValueError(f"expected latent vectors (n, D), got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("latent vectors must be finite numbers (no NaN or infinity)")
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(z), allow_pickle=False)
        atomic_write_bytes(p, buf.getvalue())
    else:
        extra = {k: v for k, v in (meta or {}).items() if k != "vectors"}
        doc = {"vectors": encode_vectors(z), **extra}
        atomic_write_bytes(p, (json.dumps(doc) + "\n").encode())


def load_vectors(path: str | Path, latent_dim: int | None = None) -> tuple[np.ndarray, dict]:
    """Latent vectors float32 (n, D) and their metadata from .npy or .json (a vector file, or
    an export's provenance sidecar: its latents or keyframes, seeds rebuilt). Never
    unpickles. A latent_dim, when given, must match."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.exists():
        raise ExportError(f"{p}: no such file")
    if p.is_dir():
        raise ExportError(f"{p}: is a folder, not a latent vector file")
    if suffix not in VECTOR_SUFFIXES:
        raise ExportError(f"{p}: latent vectors are read from .npy or .json files")
    meta: dict = {}
    if suffix == ".npy":
        with p.open("rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY":
            what = "a Python pickle" if magic[:1] == b"\x80" else "the file starts differently"
            raise ExportError(f"{p}: not a NumPy .npy array file ({what})")
        try:
            z = np.load(p, allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc):
                raise ExportError(
                    f"{p}: holds Python objects (a pickle); GAN Studio never unpickles files, "
                    "because loading a pickle can run code"
                ) from None
            raise ExportError(f"{p}: not a NumPy .npy array file ({exc})") from None
        except (OSError, EOFError) as exc:
            raise ExportError(f"{p}: not a NumPy .npy array file ({exc})") from None
        if not isinstance(z, np.ndarray):
            raise ExportError(f"{p}: not a single NumPy array")
        if z.dtype.kind != "f":
            raise ExportError(f"{p}: latent vectors must be floating point, not {z.dtype}")
    else:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExportError(f"{p}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ExportError(f'{p}: expected a JSON object with "vectors"')
        if doc.get("app") == "ganstudio" and "provenance_version" in doc:  # an export's
            z = vectors_from_provenance(check_provenance(doc, str(p)))
            meta = {k: v for k, v in doc.items() if k not in ("seeds", "vectors", "keyframes")}
        elif "vectors" in doc:
            z = decode_vectors(doc["vectors"], str(p))
            meta = {k: v for k, v in doc.items() if k != "vectors"}
        else:
            raise ExportError(f'{p}: no "vectors" in this JSON file')
    z = z[None] if z.ndim == 1 else z
    if z.ndim != 2 or 0 in z.shape:
        raise ExportError(f"{p}: expected latent vectors (n, D), got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ExportError(f"{p}: the latent vectors hold NaN or infinite numbers")
    if latent_dim is not None and z.shape[1] != latent_dim:
        raise ExportError(
            f"{p}: vectors of size {z.shape[1]}, but this model takes latents of size {latent_dim}"
        )
    return z.astype(np.float32), meta
