"""Model files: a generator's weights in safetensors, described by JSON in the file's metadata.

Opening a model file never runs code from it: safetensors holds only tensors, and the
network is rebuilt from the described architecture by our own code.
"""

from __future__ import annotations

import hashlib
import json
import math
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import save as st_save
from torch import nn

from ganstudio import __version__
from ganstudio.core.conditioning import MAX_CLASSES, classes_of
from ganstudio.core.errors import UserError
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.models import ModelSpec, build, checked_spec

FORMAT = "ganstudio.generator"
FORMAT_VERSION = 1
META_KEY = "ganstudio"
CHECKPOINT_FORMAT = "ganstudio.checkpoint"
CHECKPOINT_VERSION = 1
# The newest version of each file format this app can read.
KNOWN_FORMATS = {FORMAT: FORMAT_VERSION, CHECKPOINT_FORMAT: CHECKPOINT_VERSION}
_KIND = {FORMAT: "model file", CHECKPOINT_FORMAT: "training checkpoint"}


class ModelFileError(UserError, ValueError):
    """A model file cannot be opened; the message names the file and the reason."""


@dataclass(frozen=True)
class GeneratorFile:
    """A generator rebuilt from a model file, with its description."""

    module: nn.Module
    spec: ModelSpec
    meta: dict

    @property
    def latent_dim(self) -> int:
        # getattr: nn.Module types its attributes as Tensor | Module; these are ints.
        return int(getattr(self.module, "latent_dim"))  # noqa: B009

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """What one sample is: (2,) for 2-D points, (C, H, W) for pictures."""
        return tuple(int(d) for d in getattr(self.module, "out_shape"))  # noqa: B009

    @property
    def is_image(self) -> bool:
        """Whether the network makes pictures (else 2-D points); checked against the
        description's dataset when the file was opened."""
        return len(self.sample_shape) == 3

    @property
    def classes(self) -> int:
        """How many classes the generator is conditioned on (0: unconditional)."""
        return classes_of(self.module)

    @property
    def class_names(self) -> tuple[str, ...]:
        """A name for each class of a conditional generator (its description's, else the
        dataset's, else the class numbers); () for an unconditional one."""
        return class_names_of(self.meta, self.classes)


def class_names_of(meta: dict, classes: int) -> tuple[str, ...]:
    """The names of ``classes`` classes from a (checked) description: its "class_names",
    else its dataset's when they are as many, else "0", "1", ..."""
    for names in (meta.get("class_names"), (meta.get("dataset") or {}).get("class_names")):
        if isinstance(names, list) and len(names) == classes:
            return tuple(str(n) for n in names)
    return tuple(str(i) for i in range(classes))


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
    """The JSON description of a model file or checkpoint, without loading the weights."""
    return open_file(path, tensors=False)[0]


# What the first bytes of files we refuse to open look like, to say what the file is.
_FOREIGN = (
    (b"\x80", "a Python pickle (a PyTorch .pt/.pth/.pkl file)"),
    (b"PK\x03\x04", "a zip archive or a PyTorch .pt/.pth file (pickle inside)"),
    (b"\x89HDF", "an HDF5 (Keras) file"),
    (b"\x08", "an ONNX or other protobuf file"),
)


def _describe_foreign(p: Path) -> str:
    with p.open("rb") as fh:
        head = fh.read(8)
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            extra = (
                "; GAN Studio never unpickles files, because loading a pickle can run code"
                if "pickle" in what
                else ""
            )
            return f"{what}, not a GAN Studio model file{extra}"
    return "not a GAN Studio model file"


def open_file(
    path: str | Path, tensors: bool = True, formats: tuple[str, ...] | None = None
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read our JSON description and (optionally) the tensors of a safetensors file.

    Only safetensors is ever parsed: nothing in the file can run code. Every problem is a
    ModelFileError naming the file and the reason.
    """
    from safetensors import safe_open

    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p}: no such file")
    if p.is_dir():
        raise ModelFileError(f"{p}: is a folder, not a model file")
    try:
        size = p.stat().st_size
        if size < 8:
            raise ModelFileError(f"{p}: not a GAN Studio model file (the file is empty or cut off)")
        with safe_open(p, framework="pt", device="cpu") as fh:
            header = fh.metadata() or {}
            out = {k: fh.get_tensor(k) for k in fh.keys()} if tensors else {}  # noqa: SIM118
    except PermissionError:
        raise ModelFileError(f"{p}: permission denied") from None
    except SafetensorError as exc:
        reason = str(exc).removeprefix("Error while deserializing header: ")
        if "incomplete" in reason or "invalid header length" in reason:
            raise ModelFileError(
                f"{p}: the file is cut off (truncated: an interrupted copy or download?)"
            ) from None
        raise ModelFileError(f"{p}: {_describe_foreign(p)} ({reason})") from None
    text = header.get(META_KEY)
    if text is None:
        raise ModelFileError(
            f"{p}: a safetensors file, but without GAN Studio's description of the network"
        )
    try:
        meta = json.loads(text)
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except RecursionError:
        raise ModelFileError(
            f"{p}: the description is not valid JSON (nested too deeply to read)"
        ) from None
    except ValueError as exc:
        raise ModelFileError(f"{p}: the description is not valid JSON ({exc})") from None
    fmt = meta.get("format")
    if not isinstance(fmt, str) or fmt not in KNOWN_FORMATS:
        raise ModelFileError(f"{p}: not a GAN Studio model file (format {_show(fmt)})")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version > KNOWN_FORMATS[fmt]:
        raise ModelFileError(
            f"{p}: written by a newer GAN Studio ({_show(meta.get('app_version', '?'))}, "
            f"{fmt} version {_show(version)}); this is {__version__}: please update the app"
        )
    if formats is not None and fmt not in formats:
        raise ModelFileError(
            f"{p}: a GAN Studio {_KIND[fmt]}, but a {' or '.join(_KIND[f] for f in formats)} "
            "is needed here"
        )
    check_description(p, meta)
    if fmt == CHECKPOINT_FORMAT and meta.get("model") is not None:
        check_description(p, _field(p, meta, "model", dict), "model.")
    return meta, out


# ----------------------------------------------------------------------------------------
# The description's fields: each one that the program reads is checked where the file is
# opened, so a wrong type or an impossible value is one error naming the file and the field.

MAX_MODES = 10_000  # mode centres a 2-D dataset summary may list
DATASET_KINDS = ("images", "points")


def _show(value: object) -> str:
    """A value for an error message: repr() cut short (a value from a file may be huge)."""
    return reprlib.repr(value)


def _is_whole(value: object, low: int = 0, high: int = 2**63 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _field(p: Path, meta: dict, key: str, kind: type, where: str = "") -> Any:
    """meta[key], which must be a ``kind`` (dict, list or str) when present."""
    value = meta.get(key)
    if value is not None and not isinstance(value, kind):
        what = {"dict": "an object", "list": "a list", "str": "text"}[kind.__name__]
        raise ModelFileError(f'{p}: "{where}{key}" must be {what}, not {_show(value)}')
    return value


def check_description(p: Path, meta: dict, where: str = "") -> None:
    """Check the fields of a model file's (or checkpoint's) description that are read:
    ModelFileError naming the file and the field (prefixed by ``where``) otherwise."""

    def fail(key: str, what: str, value: object) -> ModelFileError:
        return ModelFileError(f'{p}: "{where}{key}" must be {what}, not {_show(value)}')

    step = meta.get("step")
    if step is not None and not _is_whole(step):
        raise fail("step", "a whole number of 0 or more (the training step)", step)
    for key in ("image_size", "channels", "latent_dim"):
        value = meta.get(key)
        if value is not None and not _is_whole(value, 0, 2**31):
            raise fail(key, "a whole number of 0 or more", value)
    elapsed = meta.get("elapsed")
    if elapsed is not None and not (_is_number(elapsed) and elapsed >= 0):
        raise fail("elapsed", "a number of seconds of 0 or more", elapsed)
    for key in ("content_hash", "app_version", "loss"):
        _field(p, meta, key, str, where)
    _check_class_names(p, meta, where)
    dataset = _field(p, meta, "dataset", dict, where)
    if dataset is None:
        return
    where += "dataset."
    kind = dataset.get("kind")
    if kind is not None and kind not in DATASET_KINDS:
        raise fail("kind", " or ".join(map(repr, DATASET_KINDS)), kind)
    shape = dataset.get("sample_shape")
    if shape is not None and not (
        isinstance(shape, list) and 1 <= len(shape) <= 3 and all(_is_whole(d, 1) for d in shape)
    ):
        raise fail("sample_shape", "a list of 1 to 3 positive whole numbers", shape)
    for key in ("name", "fingerprint"):
        _field(p, dataset, key, str, where)
    count = dataset.get("count")
    if count is not None and not _is_whole(count):
        raise fail("count", "a whole number of 0 or more", count)
    modes = dataset.get("modes")
    if modes is not None and not (
        isinstance(modes, list)
        and len(modes) <= MAX_MODES
        and all(
            isinstance(m, list) and len(m) == 2 and all(_is_number(x) for x in m) for m in modes
        )
    ):
        raise fail("modes", f"a list of at most {MAX_MODES:,} [x, y] pairs of numbers", modes)


def _check_class_names(p: Path, meta: dict, where: str) -> None:
    names = meta.get("class_names")
    if names is not None and not (
        isinstance(names, list)
        and len(names) <= MAX_CLASSES
        and all(isinstance(n, str) and len(n) <= 200 for n in names)
    ):
        raise ModelFileError(
            f'{p}: "{where}class_names" must be a list of at most {MAX_CLASSES:,} names '
            f"(text), not {_show(names)}"
        )


GENERATORS = ("mlp_g", "dcgan_g", "fastgan_g")


def checked_weights(
    p: Path, spec_dict: object, tensors: dict[str, torch.Tensor], prefix: str = ""
) -> tuple[ModelSpec, dict[str, torch.Tensor]]:
    """The weights under ``prefix`` after checking that they fit the described network.

    The network is built on the meta device for the check, so a file that describes a giant
    network fails cleanly instead of allocating it.
    """
    try:
        spec = checked_spec(ModelSpec.from_dict(spec_dict))  # every argument within limits
        with torch.device("meta"):
            shapes = {k: (tuple(v.shape), v.dtype) for k, v in build(spec).state_dict().items()}
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, OverflowError) as exc:
        # RuntimeError: sizes no tensor can have (negative, overflowing)
        raise ModelFileError(f"{p}: cannot rebuild the network it describes ({exc})") from None
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    # Integer buffers (batch-norm counters) are not needed for sampling; model files omit them.
    missing = [k for k, (_, dt) in shapes.items() if dt.is_floating_point and k not in weights]
    if missing:
        raise ModelFileError(
            f"{p}: the weights do not match the described {spec.name} network (missing "
            f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''})"
        )
    for key, value in weights.items():
        if key not in shapes:
            raise ModelFileError(
                f"{p}: the weights do not match the described {spec.name} network "
                f"(unexpected weight {key!r})"
            )
        if tuple(value.shape) != shapes[key][0]:
            raise ModelFileError(
                f"{p}: weight {key} has shape {tuple(value.shape)}, but the described "
                f"{spec.name} network needs {shapes[key][0]}"
            )
        if shapes[key][1].is_floating_point:
            if not value.is_floating_point():
                raise ModelFileError(
                    f"{p}: weight {key} holds {value.dtype}, not floating-point numbers"
                )
            if not bool(torch.isfinite(value).all()):
                raise ModelFileError(
                    f"{p}: weight {key} holds NaN or infinite numbers (did the training "
                    "diverge?); open an earlier model or checkpoint"
                )
    return spec, {k: v.to(shapes[k][1]) for k, v in weights.items()}


def build_checked(
    p: Path, spec_dict: object, tensors: dict[str, torch.Tensor], prefix: str = ""
) -> tuple[ModelSpec, nn.Module]:
    """Build the network a file describes, with its weights (see checked_weights)."""
    spec, weights = checked_weights(p, spec_dict, tensors, prefix)
    module = build(spec)
    module.load_state_dict(weights, strict=False)
    return spec, module


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> GeneratorFile:
    """Rebuild the generator of a model file or a training checkpoint (eval mode).

    From a checkpoint, the EMA generator is used when the run had one.
    """
    p = Path(path)
    meta, tensors = open_file(p)
    if meta["format"] == CHECKPOINT_FORMAT:
        prefix = "G_ema/" if any(k.startswith("G_ema/") for k in tensors) else "G/"
        spec_dict = meta.get("generator")
        description = dict(meta.get("model") or {})
    else:
        prefix, spec_dict, description = "", meta.get("architecture"), meta
    if not isinstance(spec_dict, dict) or spec_dict.get("name") not in GENERATORS:
        name = spec_dict.get("name") if isinstance(spec_dict, dict) else None
        raise ModelFileError(
            f"{p}: describes no generator this version knows (network {_show(name)}; "
            f"known: {', '.join(GENERATORS)})"
        )
    spec, module = build_checked(p, spec_dict, tensors, prefix)
    kind = (description.get("dataset") or {}).get("kind")
    makes = "images" if getattr(module, "is_image", True) else "points"
    if kind is not None and kind != makes:
        raise ModelFileError(
            f"{p}: the description says the model was trained on {kind}, but its "
            f"{spec.name} network makes {makes}"
        )
    if meta["format"] == CHECKPOINT_FORMAT:
        state = {  # hashed exactly as in a model file of the same weights
            k: v.float().numpy() for k, v in module.state_dict().items() if v.is_floating_point()
        }
        description |= {"architecture": spec.to_dict(), "content_hash": content_hash(state)}
    return GeneratorFile(module.to(device).eval().requires_grad_(False), spec, description)
