"""Latent vector files, the explorer's Save/Load: ``.npy`` (float32, never unpickled) or
``.json`` (vectors that read back to the same float32 bits, plus any metadata)."""

from __future__ import annotations

import io
import json
import math
import reprlib
from pathlib import Path

import numpy as np

from ganstudio.core.explore.provenance import (
    MAX_SEED,
    MAX_VECTORS,
    ExportError,
    check_latent_values,
    check_provenance,
    decode_vectors,
    encode_vectors,
    read_json_file,
    vectors_from_provenance,
)
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.models import MAX_LATENT_DIM

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
    z = check_latent_values(z, str(p))  # what load_vectors would refuse is not written
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(z), allow_pickle=False)
        atomic_write_bytes(p, buf.getvalue())
    else:
        extra = {k: v for k, v in (meta or {}).items() if k != "vectors"}
        doc = {"vectors": encode_vectors(z), **extra}
        atomic_write_bytes(p, (json.dumps(doc) + "\n").encode())


def _read_npy(p: Path) -> np.ndarray:
    """The array in a .npy file, after checking its header (shape and type) before reading
    the numbers, so a header that claims billions of them reads nothing."""
    with p.open("rb") as fh:
        magic = fh.read(6)
        if magic != b"\x93NUMPY":
            what = "a Python pickle" if magic[:1] == b"\x80" else "the file starts differently"
            raise ExportError(f"{p}: not a NumPy .npy array file ({what})")
        fh.seek(0)
        try:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = read_header(fh)
        except (ValueError, OSError, EOFError) as exc:
            raise ExportError(f"{p}: not a NumPy .npy array file ({exc})") from None
    if dtype.hasobject:
        raise ExportError(
            f"{p}: holds Python objects (a pickle); GAN Studio never unpickles files, "
            "because loading a pickle can run code"
        )
    if dtype.kind != "f":
        raise ExportError(f"{p}: latent vectors must be floating point, not {dtype}")
    _check_shape(p, tuple(shape))
    try:
        z = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ExportError(f"{p}: not a NumPy .npy array file ({exc})") from None
    if not isinstance(z, np.ndarray):
        raise ExportError(f"{p}: not a single NumPy array")
    return z


def _check_shape(p: Path, shape: tuple[int, ...]) -> None:
    if len(shape) not in (1, 2) or 0 in shape:
        raise ExportError(f"{p}: expected latent vectors (n, D), got shape {shape}")
    n, dim = (1, shape[0]) if len(shape) == 1 else shape
    if n > MAX_VECTORS:
        raise ExportError(
            f"{p}: {n:,} latent vectors, more than the {MAX_VECTORS:,} a file may hold"
        )
    if dim > MAX_LATENT_DIM:
        raise ExportError(
            f"{p}: latent vectors of size {dim:,}; the most a model takes is {MAX_LATENT_DIM:,}"
        )


def _check_meta(p: Path, meta: dict) -> dict:
    """The metadata fields the explorer reads: "truncation" in (0, 1] and a "seed" from 0
    to 2**63 - 1 (each may be null or left out), a "model_hash" of text."""
    psi = meta.get("truncation")
    if psi is not None and (
        isinstance(psi, bool)
        or not isinstance(psi, (int, float))
        or not math.isfinite(psi)
        or not 0 < psi <= 1
    ):
        raise ExportError(
            f'{p}: "truncation" must be a number in (0, 1] (1 = off), not {reprlib.repr(psi)}'
        )
    seed = meta.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise ExportError(
            f'{p}: "seed" must be a whole number from 0 to 2**63 - 1, or null, not '
            f"{reprlib.repr(seed)}"
        )
    model_hash = meta.get("model_hash")
    if model_hash is not None and not isinstance(model_hash, str):
        raise ExportError(f'{p}: "model_hash" must be text, not {reprlib.repr(model_hash)}')
    return meta


def load_vectors(path: str | Path, latent_dim: int | None = None) -> tuple[np.ndarray, dict]:
    """Latent vectors float32 (n, D) and their metadata from .npy or .json (a vector file, or
    an export's provenance sidecar: its latents or keyframes, seeds rebuilt). Never
    unpickles. A latent_dim, when given, must match. Every problem, including a value the
    explorer would use (a truncation outside (0, 1], a seed too large), is an ExportError
    naming the file."""
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
        z = _read_npy(p)
    else:
        doc = read_json_file(p, "a latent vector file")
        if not isinstance(doc, dict):
            raise ExportError(f'{p}: expected a JSON object with "vectors"')
        if doc.get("app") == "ganstudio" and "provenance_version" in doc:  # an export's
            z = vectors_from_provenance(check_provenance(doc, str(p)))
            meta = {k: v for k, v in doc.items() if k not in ("seeds", "vectors", "keyframes")}
        elif "vectors" in doc:
            z = decode_vectors(doc["vectors"], str(p))
            meta = _check_meta(p, {k: v for k, v in doc.items() if k != "vectors"})
        else:
            raise ExportError(f'{p}: no "vectors" in this JSON file')
    z = z[None] if z.ndim == 1 else z
    _check_shape(p, z.shape)
    z = check_latent_values(z, str(p))
    if latent_dim is not None and z.shape[1] != latent_dim:
        raise ExportError(
            f"{p}: vectors of size {z.shape[1]}, but this model takes latents of size {latent_dim}"
        )
    return z, meta
