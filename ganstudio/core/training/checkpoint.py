"""Training checkpoints: everything needed to continue a run exactly, in one safetensors file.

Tensors                         Metadata (JSON under the key "ganstudio")
  G/<name>, D/<name>, G_ema/...   format, versions, step, elapsed time, resolved config,
  opt_g/<i>/<key>, opt_d/...      dataset summary and fingerprint, network specs, optimiser
  rng/torch, rng/cuda/<i>,        param groups, Python and NumPy RNG states, and the model
  rng/trainer, rng/trainer_cpu    description a model file would carry
  history/steps, history/stats

Only safetensors is parsed when a checkpoint is opened, so nothing in it can run code.
Resuming on the same kind of device continues bit for bit: N steps in one go equal N/2 steps,
save, load in a fresh process, N/2 steps.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganstudio import __version__
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.data.dataset import Dataset
from ganstudio.core.data.load import load_dataset
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.modelfile import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    META_KEY,
    ModelFileError,
    checked_weights,
    open_file,
)
from ganstudio.core.models import ModelSpec
from ganstudio.core.training.events import STAT_NAMES

if TYPE_CHECKING:
    from ganstudio.core.training.control import TrainControl
    from ganstudio.core.training.distributed import Cluster
    from ganstudio.core.training.trainer import Trainer

# Optimiser options that describe the device the run is on, not the optimisation: on resume
# the new optimiser's own values are kept.
_DEVICE_OPTIONS = ("fused", "foreach", "capturable", "differentiable")

# What may differ from the checkpoint's settings when resuming.
RESUME_OVERRIDES = ("steps", "dataset", "device")


class CheckpointError(ModelFileError):
    """A checkpoint cannot be opened or does not fit; the message names the file and why."""


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def model_description(trainer: Trainer) -> dict[str, Any]:
    """What a model file says about its generator (step, loss, dataset ...)."""
    t = trainer
    return {
        "step": t.step,
        "loss": t.config.loss,
        "ema": t.config.ema,
        "image_size": t.info.image_size,
        "channels": t.info.channels,
        "latent_dim": t.config.latent_dim,
        "dataset": t.info.to_dict() | {"spec": t.config.dataset},
    }


# ------------------------------------------------------------------------------------------
# Saving


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True).contiguous()


def _put_module(tensors: dict[str, torch.Tensor], prefix: str, module: torch.nn.Module) -> None:
    for key, value in module.state_dict().items():
        tensors[f"{prefix}/{key}"] = _cpu(value)


def _put_optimizer(
    tensors: dict[str, torch.Tensor], prefix: str, opt: torch.optim.Optimizer
) -> dict[str, Any]:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}/{idx}/{key}"] = _cpu(value)
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
        for g in sd["param_groups"]
    ]
    return {"param_groups": groups, "scalars": scalars}


def trainer_state(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the JSON description of a checkpoint of ``trainer`` now."""
    t = trainer
    tensors: dict[str, torch.Tensor] = {}
    _put_module(tensors, "G", t.G)
    _put_module(tensors, "D", t.D)
    if t.G_ema is not None:
        _put_module(tensors, "G_ema", t.G_ema)
    optimizers = {
        "opt_g": _put_optimizer(tensors, "opt_g", t.opt_g),
        "opt_d": _put_optimizer(tensors, "opt_d", t.opt_d),
    }
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    tensors["rng/trainer"] = t.rng.get_state()
    tensors["rng/trainer_cpu"] = t.cpu_rng.get_state()
    steps, stats = t.history()
    extra_steps, extra = t.pending_history()  # trained but not reported yet: history too
    if len(extra_steps):
        steps = np.concatenate([steps, extra_steps])
        stats = np.concatenate([stats, extra])
    tensors["history/steps"] = torch.from_numpy(np.ascontiguousarray(steps, np.int64))
    tensors["history/stats"] = torch.from_numpy(np.ascontiguousarray(stats, np.float32))
    # legacy=True is the default; numpy's stubs type the call without it as the dict form.
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)  # the global generator is an MT19937: a legacy tuple
    py_state = random.getstate()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "app_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "step": t.step,
        "elapsed": t.elapsed,
        "version": t.version,
        "config": t.config.to_dict(),
        "dataset": t.info.to_dict(),
        "generator": t.g_spec.to_dict(),
        "discriminator": t.d_spec.to_dict(),
        "optimizers": optimizers,
        "rng": {
            "device_type": t.device.type,
            "python": [py_state[0], list(py_state[1]), py_state[2]],
            "numpy": [
                np_state[0],
                [int(v) for v in np_state[1]],
                int(np_state[2]),
                int(np_state[3]),
                float(np_state[4]),
            ],
        },
        "model": model_description(t),
    }
    return tensors, meta


def save_checkpoint(
    trainer: Trainer, path: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write a checkpoint atomically: the old file stays whole until the new one is complete."""
    from safetensors.torch import save

    tensors, meta = trainer_state(trainer)
    if extra:
        meta |= extra
    path = Path(path)
    atomic_write_bytes(path, save(tensors, metadata={META_KEY: json.dumps(meta)}))
    return path


# ------------------------------------------------------------------------------------------
# Loading


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Open a checkpoint file (safetensors only: nothing in it can run code)."""
    p = Path(path)
    meta, tensors = open_file(p, formats=(CHECKPOINT_FORMAT,))
    for key in ("step", "config", "dataset", "generator", "discriminator", "optimizers", "rng"):
        if key not in meta:
            raise CheckpointError(f"{p}: the checkpoint's description lacks {key!r}")
    return Checkpoint(p, meta, tensors)


def _load_module(
    ckpt: Checkpoint, prefix: str, spec: dict[str, Any], module: torch.nn.Module
) -> None:
    _, weights = checked_weights(ckpt.path, spec, ckpt.tensors, prefix + "/")
    missing = set(module.state_dict()) - set(weights)
    if missing:
        raise CheckpointError(f"{ckpt.path}: {prefix} lacks {sorted(missing)[:3]}")
    module.load_state_dict(weights)


def _load_optimizer(ckpt: Checkpoint, prefix: str, opt: torch.optim.Optimizer) -> None:
    saved = ckpt.meta["optimizers"][prefix]
    current = opt.state_dict()
    groups = []
    for g, now in zip(saved["param_groups"], current["param_groups"], strict=True):
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        g.update({k: now[k] for k in _DEVICE_OPTIONS if k in now})
        if g.get("params") != now["params"]:
            raise CheckpointError(f"{ckpt.path}: {prefix} does not fit the network")
        groups.append(g)
    state: dict[int, dict[str, Any]] = {}
    for key, value in ckpt.tensors.items():
        if key.startswith(prefix + "/"):
            idx, name = key[len(prefix) + 1 :].split("/", 1)
            state.setdefault(int(idx), {})[name] = value
    for idx, values in saved.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(values)
    opt.load_state_dict({"state": state, "param_groups": groups})


def _byte_state(ckpt: Checkpoint, key: str) -> torch.Tensor:
    value = ckpt.tensors.get(key)
    if value is None or value.dtype != torch.uint8 or value.ndim != 1:
        raise CheckpointError(f"{ckpt.path}: random-number state {key!r} is missing or damaged")
    return value


def restore(trainer: Trainer, ckpt: Checkpoint) -> list[str]:
    """Load a checkpoint into a trainer built with the checkpoint's config and specs.

    Returns notes for the user (what could not be restored exactly, and why).
    """
    t, meta = trainer, ckpt.meta
    notes: list[str] = []
    try:
        _load_module(ckpt, "G", meta["generator"], t.G)
        _load_module(ckpt, "D", meta["discriminator"], t.D)
        if t.G_ema is not None:
            has_ema = any(k.startswith("G_ema/") for k in ckpt.tensors)
            _load_module(ckpt, "G_ema" if has_ema else "G", meta["generator"], t.G_ema)
        _load_optimizer(ckpt, "opt_g", t.opt_g)
        _load_optimizer(ckpt, "opt_d", t.opt_d)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise CheckpointError(f"{ckpt.path}: the saved state does not fit ({exc})") from None

    rng = meta["rng"]
    try:
        torch.set_rng_state(_byte_state(ckpt, "rng/torch"))
        cuda_states = [ckpt.tensors[f"rng/cuda/{i}"] for i in range(torch.cuda.device_count())]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
    except KeyError:
        pass  # saved without CUDA: the CUDA generators keep their seeds
    except RuntimeError as exc:
        raise CheckpointError(f"{ckpt.path}: damaged random-number state ({exc})") from None
    t.cpu_rng.set_state(_byte_state(ckpt, "rng/trainer_cpu"))
    if rng.get("device_type") == t.device.type:
        try:
            t.rng.set_state(_byte_state(ckpt, "rng/trainer"))
        except RuntimeError as exc:
            raise CheckpointError(f"{ckpt.path}: damaged random-number state ({exc})") from None
    else:
        t.rng.manual_seed(t.config.seed + 1 + ckpt.step)
        notes.append(
            f"the checkpoint was trained on {rng.get('device_type')} and now continues on "
            f"{t.device.type}: training goes on, but its random draws differ from an "
            "uninterrupted run"
        )
    try:
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, pos, has_gauss, cached = rng["numpy"]
        np.random.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt.path}: damaged random-number state ({exc})") from None

    steps = ckpt.tensors.get("history/steps", torch.zeros(0, dtype=torch.int64)).numpy()
    stats = ckpt.tensors.get("history/stats", torch.zeros(0, len(STAT_NAMES))).numpy()
    keep = steps <= ckpt.step
    t.set_history(steps[keep], stats[keep])
    t.continue_at(ckpt.step, float(meta.get("elapsed", 0.0)), int(meta.get("version", 0)))
    return notes


def resume(
    ckpt: Checkpoint,
    data: Dataset | None = None,
    control: TrainControl | None = None,
    cluster: Cluster | None = None,
    **overrides: Any,
) -> Trainer:
    """A Trainer that continues the checkpoint's run on ``data`` (default: the dataset the
    config names, loaded). ``overrides``: steps, dataset (spec), device. ``cluster``:
    continue under torchrun (core.training.distributed), on any number of processes.

    The trainer's ``resume_notes`` say what differs from an exact continuation (a changed
    dataset, another kind of device).
    """
    from ganstudio.core.training.trainer import Trainer

    unknown = set(overrides) - set(RESUME_OVERRIDES)
    if unknown:
        raise ConfigError(
            f"{', '.join(sorted(unknown))} cannot change when resuming; start a new run "
            f"instead (only {', '.join(RESUME_OVERRIDES)} may change)"
        )
    try:
        cfg = TrainConfig.from_dict(ckpt.meta["config"]).with_updates(**overrides)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{ckpt.path}: the saved settings are unusable ({exc})") from None
    if cfg.steps is not None and cfg.steps <= ckpt.step:
        raise ConfigError(
            f"the checkpoint is at step {ckpt.step} of its {cfg.steps}-step budget: give a "
            "larger budget (--steps) to train on"
        )
    dataset = data if data is not None else load_dataset(cfg.dataset, seed=cfg.seed)
    saved = ckpt.meta["dataset"]
    if tuple(saved.get("sample_shape", ())) != tuple(dataset.info.sample_shape):
        raise CheckpointError(
            f"{ckpt.path}: the run trained on samples of shape {tuple(saved['sample_shape'])}, "
            f"but {cfg.dataset} has shape {dataset.info.sample_shape}: the networks cannot "
            "continue on it"
        )
    specs = (
        ModelSpec.from_dict(ckpt.meta["generator"]),
        ModelSpec.from_dict(ckpt.meta["discriminator"]),
    )
    trainer = Trainer(cfg, dataset, control, specs=specs, cluster=cluster)
    notes = restore(trainer, ckpt)
    if saved.get("fingerprint") and saved["fingerprint"] != dataset.info.fingerprint:
        notes.insert(
            0,
            f"the dataset has changed since the checkpoint ({saved.get('count')} samples "
            f"then, {dataset.info.count} now; content fingerprint {saved['fingerprint']} then, "
            f"{dataset.info.fingerprint} now): training continues on the data as it is now",
        )
    trainer.resume_notes = notes
    return trainer
