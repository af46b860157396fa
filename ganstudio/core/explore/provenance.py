"""Provenance: how an export was made (model hash, seeds or latent vectors, truncation, and
the layout or animation settings), as a small JSON object, checked, and read back from a PNG
text chunk (``ganstudio.provenance``) or an animation's JSON sidecar (``walk.gif.json``).

Latent vectors are stored as JSON numbers that read back to the same float32 bits.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TypeGuard

import numpy as np

from ganstudio import __version__
from ganstudio.core.errors import UserError
from ganstudio.core.explore import latent
from ganstudio.core.modelfile import GeneratorFile

PROVENANCE_KEY = "ganstudio.provenance"
PROVENANCE_VERSION = 1
KINDS = ("grid", "interpolation", "sample")
PICTURE_SUFFIXES = (".png",)
ANIMATION_SUFFIXES = (".gif", ".webp", ".mp4")
SIDECAR_SUFFIX = ".json"

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
        keyframes, where = prov.get("keyframes"), f"{source}: keyframes"
        if not isinstance(keyframes, dict):
            raise ExportError(f'{where}: expected {{"seeds": [...]}} or {{"vectors": [...]}}')
        holder = keyframes
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
