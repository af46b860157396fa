"""Model files: a generator's weights in safetensors, described by JSON in the file's metadata.

Opening a model file never runs code from it: safetensors holds only tensors, and the
network is rebuilt from the described architecture by our own code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save
from torch import nn

from ganstudio import __version__
from ganstudio.core.models import ModelSpec, build
from ganstudio.core.render import atomic_write_bytes

FORMAT = "ganstudio.generator"
FORMAT_VERSION = 1
META_KEY = "ganstudio"


class ModelFileError(ValueError):
    """A model file cannot be opened; the message names the file and the reason."""


@dataclass(frozen=True)
class GeneratorFile:
    """A generator rebuilt from a model file, with its description."""

    module: nn.Module
    spec: ModelSpec
    meta: dict

    @property
    def latent_dim(self) -> int:
        return int(self.spec.kwargs["latent_dim"])

    @property
    def is_image(self) -> bool:
        return self.meta.get("dataset", {}).get("kind") == "images"


def content_hash(state: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(np.ascontiguousarray(state[key]).tobytes())
    return h.hexdigest()[:16]


def save_generator(
    path: str | Path, spec: ModelSpec, state: dict[str, np.ndarray], meta: dict
) -> dict:
    """Write a generator (float arrays by name) and its description atomically.

    Returns the full metadata written (with format, app version and content hash added).
    """
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "architecture": spec.to_dict(),
        "content_hash": content_hash(tensors),
        **meta,
    }
    data = st_save(tensors, metadata={META_KEY: json.dumps(full)})
    atomic_write_bytes(path, data)
    return full


def read_metadata(path: str | Path) -> dict:
    """The JSON description of a model file, without building the network."""
    return _read(Path(path))[1]


def _read(p: Path) -> tuple[dict[str, np.ndarray], dict]:
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{p}: is a folder, not a model file") from None
    except PermissionError:
        raise ModelFileError(f"{p}: permission denied") from None
    return _parse(p, raw)


def _parse(p: Path, raw: bytes) -> tuple[dict[str, np.ndarray], dict]:
    if len(raw) < 8:
        raise ModelFileError(f"{p}: not a GAN Studio model file (file is empty or truncated)")
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{p}: not a GAN Studio model file ({exc})") from None
    text = (header.get("__metadata__") or {}).get(META_KEY)
    if text is None:
        raise ModelFileError(
            f"{p}: a safetensors file, but without GAN Studio's description of the network"
        )
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{p}: the description is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{p}: not a generator file (format {meta.get('format')!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(
            f"{p}: written by a newer GAN Studio ({meta.get('app_version')}); please update the app"
        )
    return tensors, meta


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> GeneratorFile:
    """Rebuild the generator a model file describes and load its weights (eval mode)."""
    p = Path(path)
    tensors, meta = _read(p)
    try:
        spec = ModelSpec.from_dict(meta["architecture"])
        module = build(spec)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{p}: cannot rebuild the network ({exc})") from None
    state = module.state_dict()
    missing = [k for k, v in state.items() if v.is_floating_point() and k not in tensors]
    if missing:
        raise ModelFileError(f"{p}: weights missing for {', '.join(missing[:3])}")
    for key, value in tensors.items():
        if key not in state:
            raise ModelFileError(f"{p}: unexpected weight {key!r} for {spec.name}")
        if tuple(state[key].shape) != value.shape:
            raise ModelFileError(
                f"{p}: weight {key} has shape {value.shape}, the network "
                f"expects {tuple(state[key].shape)}"
            )
        state[key] = torch.from_numpy(value.copy()).to(state[key].dtype)
    module.load_state_dict(state)
    return GeneratorFile(module.to(device).eval().requires_grad_(False), spec, meta)
