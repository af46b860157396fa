"""Latent vector files, the explorer's Save/Load: ``.npy`` (float32, never unpickled) or
``.json`` (vectors that read back to the same float32 bits, plus any metadata)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ganstudio.core.explore.provenance import (
    ExportError,
    check_provenance,
    decode_vectors,
    encode_vectors,
    vectors_from_provenance,
)
from ganstudio.core.fileio import atomic_write_bytes

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
