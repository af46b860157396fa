"""Export a generator as ONNX, to run it outside the app (onnxruntime, OpenCV, browsers ...).

The ONNX graph has one input ``z`` (float32, shape (batch, latent_dim), standard normal
latents) and one output ``samples``: images (batch, C, H, W) in [-1, 1], or 2-D points
(batch, 2) in the data's units. The batch dimension is dynamic. What the model is (app
version, architecture, sizes, content hash, output range) is written to the model's
metadata_props. A class-conditional generator has a second input ``class`` (int64, shape
(batch,), class indices; the class names are in the metadata, as ``class_names``).

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``): it needs only the
``onnx`` package, honours every opset from 9 to 20, takes milliseconds and writes the same
bytes every time. The newer torch.export-based exporter also needs ``onnxscript``, takes
about a second per model, silently gives opset 18 when an older one is asked for and embeds
local source paths in every node. Both give the same numbers for these generators.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import warnings
from pathlib import Path
from types import ModuleType

import torch

from ganstudio import __version__
from ganstudio.core.errors import UserError
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.modelfile import GeneratorFile

log = logging.getLogger(__name__)

# Opset 17 (2022) has every operator these generators need and is read by onnxruntime >= 1.13
# and most other runtimes; a fixed default also keeps the file the same across torch versions.
DEFAULT_OPSET = 17
MIN_OPSET = 9
MAX_OPSET = 20

INPUT_NAME = "z"
CLASS_INPUT_NAME = "class"
OUTPUT_NAME = "samples"
INSTALL_HINT = 'pip install "ganstudio[onnx]"'


class OnnxUnavailable(UserError, RuntimeError):
    """The optional packages for ONNX export are not installed."""


def _import_onnx() -> ModuleType:
    try:
        import onnx
    except ImportError as exc:
        raise OnnxUnavailable(
            f"ONNX export needs the optional package 'onnx' ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return onnx


def check_opset(opset: int | None) -> int:
    """The opset to use: ``DEFAULT_OPSET`` for None; ValueError outside MIN_OPSET..MAX_OPSET."""
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise ValueError(f"the ONNX opset must be a whole number, not {opset!r}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"ONNX opset {opset} is not supported; choose one from {MIN_OPSET} to {MAX_OPSET} "
            f"(default {DEFAULT_OPSET})"
        )
    return opset


def onnx_metadata(gen: GeneratorFile, out_shape: tuple[int, ...]) -> dict[str, str]:
    """The key/value pairs written to the ONNX model's metadata_props."""
    meta = gen.meta
    props = {
        "app": "GAN Studio",
        "app_version": __version__,
        "architecture": gen.spec.name,
        "kind": "images" if gen.is_image else "points",
        "latent_dim": str(gen.latent_dim),
        "input": f"{INPUT_NAME}: float32 (batch, {gen.latent_dim}), standard normal latents",
        "output_shape": "(batch, " + ", ".join(str(d) for d in out_shape) + ")",
    }
    if gen.is_image:
        channels, size = out_shape[0], out_shape[-1]
        props["image_size"] = str(size)
        props["channels"] = str(channels)
        colour = "RGB" if channels == 3 else "grayscale" if channels == 1 else f"{channels}-channel"
        props["output"] = (
            f"{OUTPUT_NAME}: float32 {colour} images (batch, {channels}, {size}, {size}) "
            "in [-1, 1]; pixel value 0..255 = (x + 1) * 127.5"
        )
    else:
        props["output"] = (
            f"{OUTPUT_NAME}: float32 points (batch, {', '.join(map(str, out_shape))}) "
            "in the training data's units"
        )
    if gen.classes:
        names = ", ".join(f"{i}={n}" for i, n in enumerate(gen.class_names))
        props["class_input"] = f"{CLASS_INPUT_NAME}: int64 (batch,), class indices ({names})"
        props["class_names"] = json.dumps(list(gen.class_names))
    if meta.get("content_hash"):
        props["content_hash"] = str(meta["content_hash"])
    if meta.get("step") is not None:
        props["step"] = str(meta["step"])
    if meta.get("app_version"):
        props["trained_with_app_version"] = str(meta["app_version"])
    return props


def export_bytes(gen: GeneratorFile, opset: int | None = None) -> bytes:
    """The generator as a serialized ONNX model (see the module docstring)."""
    opset = check_opset(opset)
    onnx = _import_onnx()

    module = gen.module
    if any(p.device.type != "cpu" for p in module.parameters()):
        module = copy.deepcopy(module).cpu()  # same bytes whichever device it was loaded on
    was_training = module.training
    module.eval()  # batch norm uses its running statistics
    try:
        # Trace with batch 2: a batch of 1 could let a size be taken as a constant.
        z = torch.zeros(2, gen.latent_dim)
        inputs: tuple[torch.Tensor, ...] = (z,)
        names = [INPUT_NAME]
        if gen.classes:
            inputs, names = (z, torch.zeros(2, dtype=torch.int64)), [INPUT_NAME, CLASS_INPUT_NAME]
        with torch.no_grad():
            out_shape = tuple(module(*inputs).shape[1:])
        buf = io.BytesIO()
        with warnings.catch_warnings():
            # The TorchScript exporter announces its deprecation on every call.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                # The TorchScript exporter (dynamo=False) writes to a file object too; the
                # annotation of ``f`` names only paths.
                buf,  # type: ignore[arg-type]
                dynamo=False,
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamic_axes={name: {0: "batch"} for name in (*names, OUTPUT_NAME)},
                opset_version=opset,
            )
    finally:
        module.train(was_training)

    model = onnx.load_model_from_string(buf.getvalue())
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, onnx_metadata(gen, out_shape))
    kind = "images" if gen.is_image else "2-D points"
    model.doc_string = f"GAN Studio {gen.spec.name} generator: latent z -> {kind}"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(gen: GeneratorFile, path: str | Path, opset: int | None = None) -> Path:
    """Write the generator as an ONNX file, atomically; returns the path written.

    Raises OnnxUnavailable if the optional ``onnx`` package is missing, ValueError for an
    unsupported opset.
    """
    path = Path(path)
    data = export_bytes(gen, opset)
    atomic_write_bytes(path, data)
    log.info("wrote ONNX model %s (%d bytes)", path, len(data))
    return path
