"""Start a new run from the weights of an earlier one (fine-tuning on new pictures).

``read_start(path)`` opens a model file (the generator only: the discriminator starts
fresh) or a training checkpoint (generator, its weight average and the discriminator); the
optimisers, the step count and the schedule always start anew, because the new run is a
run of its own. ``StartingPoint.settle(config)`` makes the new run's settings describe the
same networks (an architecture, latent size or width given that differs is the user's
error, named), ``check_fits`` refuses data of another shape with what to do instead, and
``load_into`` copies the weights. The run's settings record the file (``init_from``) and a
note (``describe``) with its step and content hash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.data.dataset import DatasetInfo
from ganstudio.core.modelfile import (
    CHECKPOINT_FORMAT,
    GENERATORS,
    ModelFileError,
    checked_weights,
    content_hash,
    open_file,
)
from ganstudio.core.models import ModelSpec, checked_spec

# The architecture ("--model") each generator network belongs to.
ARCH_OF = {"mlp_g": "mlp", "dcgan_g": "dcgan", "fastgan_g": "fastgan"}


class StartError(ModelFileError):
    """The file cannot be started from, or does not fit the new run; the message says why."""


@dataclass(frozen=True)
class StartNetworks:
    """What a starting file holds, read from its description alone (no weights loaded):
    enough to settle a new run's settings and check its data before anything is read."""

    path: Path
    kind: str  # "model file" | "checkpoint"
    step: int | None  # the checkpoint's step (a model file's, when it says)
    g_spec: ModelSpec
    d_spec: ModelSpec | None  # a checkpoint's discriminator; None for a model file

    @property
    def sample_shape(self) -> tuple[int, ...]:
        kw = self.g_spec.kwargs
        if self.g_spec.name == "mlp_g":
            return tuple(int(d) for d in kw["out_shape"])
        return (int(kw["channels"]), int(kw["image_size"]), int(kw["image_size"]))

    def network_settings(self) -> dict[str, Any]:
        """The TrainConfig fields that describe these networks."""
        kw = self.g_spec.kwargs
        arch = ARCH_OF[self.g_spec.name]
        out: dict[str, Any] = {"arch": arch, "latent_dim": int(kw["latent_dim"])}
        if arch == "mlp":
            out |= {"width": int(kw["hidden"]), "depth": int(kw["layers"])}
            out["g_norm"] = "batch" if kw.get("batch_norm") else "none"
        else:
            out["width"] = int(kw["base"])
            out["conditional"] = bool(kw.get("classes", 0))  # class-conditional networks
        if self.d_spec is not None:
            out["d_norm"] = str(self.d_spec.kwargs["norm"])
            if "pack" in self.d_spec.kwargs:
                out["pack"] = int(self.d_spec.kwargs["pack"])
        return out

    def settle(self, config: TrainConfig) -> TrainConfig:
        """``config`` describing these networks; ConfigError naming a setting that differs."""
        wanted = self.network_settings()
        automatic = {"arch", "latent_dim", "width", "d_norm", "g_norm", "pack"}
        for name, value in wanted.items():
            given = getattr(config, name)
            default = TrainConfig.__dataclass_fields__[name].default
            is_given = given is not None and (name in automatic or given != default)
            if is_given and given != value:
                raise ConfigError(
                    f"{name} {given!r} does not fit {self.path.name}, whose networks have "
                    f"{name} {value!r}: leave {name} out to start from it"
                )
        return replace(config, **wanted)

    def check_fits(self, info: DatasetInfo) -> None:
        shape, data = self.sample_shape, tuple(info.sample_shape)
        if shape == data:
            return
        if len(shape) == 3 and len(data) == 3:
            mode = "gray" if shape[0] == 1 else "rgb"
            raise StartError(
                f"{self.path.name} makes {_shape(shape)} pictures, but the dataset has "
                f"{_shape(data)}: prepare the new pictures the same way (add "
                f"?size={shape[1]}&mode={mode} to a folder's path), or start a new model"
            )
        makes = "2-D points" if len(shape) == 1 else f"{_shape(shape)} pictures"
        has = "2-D points" if len(data) == 1 else f"{_shape(data)} pictures"
        raise StartError(
            f"{self.path.name} makes {makes}, but the dataset holds {has}: it cannot start "
            "from this model"
        )


@dataclass(frozen=True)
class StartingPoint:
    """The networks of a starting file (``networks``) with their weights."""

    networks: StartNetworks
    g_state: dict[str, torch.Tensor]
    ema_state: dict[str, torch.Tensor] | None
    d_state: dict[str, torch.Tensor] | None
    weights_hash: str  # content hash of the generator weights, as model files state it

    def settle(self, config: TrainConfig) -> TrainConfig:
        return self.networks.settle(config)

    def check_fits(self, info: DatasetInfo) -> None:
        self.networks.check_fits(info)

    def describe(self) -> str:
        n = self.networks
        at = f" at step {n.step:,}" if n.step is not None else ""
        d = "with its discriminator" if n.d_spec is not None else "generator only"
        return f"{n.kind} {n.path}{at} ({d}; weights {self.weights_hash[:12]})"

    def load_into(self, g: nn.Module, g_ema: nn.Module | None, d: nn.Module) -> None:
        g.load_state_dict(self.g_state, strict=False)
        if g_ema is not None:
            g_ema.load_state_dict(self.ema_state or self.g_state, strict=False)
        if self.d_state is not None:
            d.load_state_dict(self.d_state, strict=False)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _described(p: Path, meta: dict) -> tuple[bool, object, int | None]:
    """(is a checkpoint, the generator's description, the step) of a file's metadata;
    StartError when it describes no generator this version can start from."""
    checkpoint = meta.get("format") == CHECKPOINT_FORMAT
    g_dict = meta.get("generator") if checkpoint else meta.get("architecture")
    name = g_dict.get("name") if isinstance(g_dict, dict) else None
    if name not in GENERATORS or name not in ARCH_OF:
        raise StartError(
            f"{p}: describes no generator this version can start from (network {name!r}; "
            f"known: {', '.join(ARCH_OF)})"
        )
    step = meta.get("step")
    return (
        checkpoint,
        g_dict,
        step if isinstance(step, int) and not isinstance(step, bool) else None,
    )


def _spec(p: Path, spec_dict: object) -> ModelSpec:
    try:
        return checked_spec(ModelSpec.from_dict(spec_dict))
    except (TypeError, ValueError) as exc:
        raise StartError(f"{p}: cannot rebuild the network it describes ({exc})") from None


def read_start_networks(path: str | Path) -> StartNetworks:
    """The networks a model file or checkpoint holds, from its description only (cheap: the
    weights are not read); StartError or ModelFileError naming the file otherwise. The
    weights are checked when the run starts (``read_start``)."""
    p = Path(path)
    meta = open_file(p, tensors=False)[0]
    checkpoint, g_dict, step = _described(p, meta)
    if not checkpoint:
        return StartNetworks(p, "model file", step, _spec(p, g_dict), None)
    d_spec = _spec(p, meta.get("discriminator"))
    return StartNetworks(p, "checkpoint", step, _spec(p, g_dict), d_spec)


def read_start(path: str | Path) -> StartingPoint:
    """The weights of a model file or checkpoint to start a run from (StartError or
    ModelFileError naming the file otherwise)."""
    p = Path(path)
    meta, tensors = open_file(p)
    checkpoint, g_dict, step = _described(p, meta)
    if not checkpoint:
        g_spec, g_state = checked_weights(p, g_dict, tensors)
        networks = StartNetworks(p, "model file", step, g_spec, None)
        return StartingPoint(networks, g_state, None, None, _hash(g_state))
    g_spec, g_state = checked_weights(p, g_dict, tensors, "G/")
    ema_state = None
    if any(k.startswith("G_ema/") for k in tensors):
        _, ema_state = checked_weights(p, g_dict, tensors, "G_ema/")
    d_spec, d_state = checked_weights(p, meta.get("discriminator"), tensors, "D/")
    networks = StartNetworks(p, "checkpoint", step, g_spec, d_spec)
    return StartingPoint(networks, g_state, ema_state, d_state, _hash(ema_state or g_state))


def _hash(state: dict[str, torch.Tensor]) -> str:
    return content_hash({k: v.float().numpy() for k, v in state.items() if v.is_floating_point()})
