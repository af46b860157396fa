"""Training checkpoints: everything needed to continue a run exactly, in one safetensors file.

Tensors                         Metadata (JSON under the key "ganstudio")
  G/<name>, D/<name>, G_ema/...   format, versions, step, elapsed time, resolved config,
  opt_g/<i>/<key>, opt_d/...      dataset summary and fingerprint, network specs, optimiser
  rng/torch, rng/cuda/<i>,        param groups, Python and NumPy RNG states, and the model
  rng/trainer, rng/trainer_cpu    description a model file would carry
  history/steps, history/stats
  augment/p, augment/signs,       (--augment auto: the adaptive augmentation's state)
  augment/counts

Only safetensors is parsed when a checkpoint is opened, so nothing in it can run code.
Resuming on the same kind of device continues bit for bit: N steps in one go equal N/2 steps,
save, load in a fresh process, N/2 steps.
"""

from __future__ import annotations

import json
import math
import random
import reprlib
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
from ganstudio.core.models import ModelSpec, ModelSpecError, checked_spec
from ganstudio.core.training.events import STAT_NAMES

if TYPE_CHECKING:
    from ganstudio.core.training.control import TrainControl
    from ganstudio.core.training.distributed import Cluster
    from ganstudio.core.training.trainer import Trainer

# Optimiser options that describe the device the run is on, not the optimisation: on resume
# the new optimiser's own values are kept.
_DEVICE_OPTIONS = ("fused", "foreach", "capturable", "differentiable")

# What may differ from the checkpoint's settings when resuming.
RESUME_OVERRIDES = ("steps", "minutes", "dataset", "device")


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
        # A conditional generator's classes, in order (the spec's "classes" counts them).
        **({"class_names": list(t.class_names)} if t.classes else {}),
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
    if t.ada is not None:
        for key, value in t.ada.state_dict().items():
            tensors[f"augment/{key}"] = _cpu(value)
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
    """Open a checkpoint file (safetensors only: nothing in it can run code).

    Every field of the description that resuming reads is checked here, so a wrong type or
    an impossible value is one CheckpointError naming the file and the field.
    """
    p = Path(path)
    meta, tensors = open_file(p, formats=(CHECKPOINT_FORMAT,))
    for key in ("step", "config", "dataset", "generator", "discriminator", "optimizers", "rng"):
        if key not in meta:
            raise CheckpointError(f"{p}: the checkpoint's description lacks {key!r}")
    _check_meta(p, meta)
    _check_history(p, tensors)
    return Checkpoint(p, meta, tensors)


def _show(value: object) -> str:
    """A value for an error message: repr() cut short (a value from a file may be huge)."""
    return reprlib.repr(value)


def _whole(value: object, low: int = 0, high: int = 2**63 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Adam's numeric settings, as a checkpoint's param_groups hold them: each a finite number >= 0.
_GROUP_NUMBERS = ("lr", "initial_lr", "eps", "weight_decay")
_GROUP_FLAGS = ("amsgrad", "maximize", "decoupled_weight_decay", *_DEVICE_OPTIONS)


def _check_meta(p: Path, meta: dict[str, Any]) -> None:
    """The checkpoint-only fields (open_file checked step, dataset and the model part)."""

    def fail(field: str, what: str, value: object) -> CheckpointError:
        return CheckpointError(f'{p}: "{field}" must be {what}, not {_show(value)}')

    if meta["step"] is None:
        raise fail("step", "a whole number of 0 or more (the training step)", None)
    for key in ("config", "dataset", "optimizers", "rng"):
        if not isinstance(meta[key], dict):
            raise fail(key, "an object", meta[key])
    if not _whole(meta.get("version", 0)):
        raise fail("version", "a whole number of 0 or more", meta.get("version"))
    for key in ("generator", "discriminator"):
        try:
            checked_spec(ModelSpec.from_dict(meta[key]))
        except ModelSpecError as exc:
            raise CheckpointError(f'{p}: "{key}": {exc}') from None
    for name in ("opt_g", "opt_d"):
        opt = meta["optimizers"].get(name)
        where = f"optimizers.{name}"
        if not isinstance(opt, dict):
            raise fail(where, "an object", opt)
        groups = opt.get("param_groups")
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise fail(f"{where}.param_groups", "a list of objects", groups)
        for i, group in enumerate(groups):
            here = f"{where}.param_groups[{i}]"
            params = group.get("params")
            if not isinstance(params, list) or not all(_whole(x) for x in params):
                raise fail(f"{here}.params", "a list of whole numbers", params)
            for key in _GROUP_NUMBERS:
                if key in group and not (_number(group[key]) and group[key] >= 0):
                    raise fail(f"{here}.{key}", "a finite number of 0 or more", group[key])
            betas = group.get("betas", [0.9, 0.999])
            if not (
                isinstance(betas, list) and len(betas) == 2 and all(_number(b) for b in betas)
            ) or not all(0 <= b < 1 for b in betas):
                raise fail(f"{here}.betas", "two numbers from 0 to less than 1", betas)
            for key in _GROUP_FLAGS:
                if group.get(key) is not None and not isinstance(group[key], bool):
                    raise fail(f"{here}.{key}", "true, false or null", group[key])
        scalars = opt.get("scalars", {})
        if not isinstance(scalars, dict) or not all(
            k.isdigit() and isinstance(v, dict) and all(_number(x) for x in v.values())
            for k, v in scalars.items()
        ):
            raise fail(f"{where}.scalars", "an object of numbers by parameter index", scalars)
    rng = meta["rng"]
    if not isinstance(rng.get("device_type"), str):
        raise fail("rng.device_type", "text (cpu, cuda, mps)", rng.get("device_type"))
    python = rng.get("python")
    if not (
        isinstance(python, list)
        and len(python) == 3
        and _whole(python[0])
        and isinstance(python[1], list)
        and len(python[1]) <= 1000
        and all(_whole(x, 0, 2**32) for x in python[1])
        and (python[2] is None or _number(python[2]))
    ):
        raise fail("rng.python", "Python's random state [version, [numbers], gauss]", python)
    numpy_state = rng.get("numpy")
    if not (
        isinstance(numpy_state, list)
        and len(numpy_state) == 5
        and numpy_state[0] == "MT19937"
        and isinstance(numpy_state[1], list)
        and len(numpy_state[1]) == 624
        and all(_whole(x, 0, 2**32 - 1) for x in numpy_state[1])
        and _whole(numpy_state[2], 0, 624)
        and _whole(numpy_state[3], 0, 1)
        and _number(numpy_state[4])
    ):
        raise fail(
            "rng.numpy",
            'NumPy\'s random state ["MT19937", [624 numbers], position, has_gauss, gauss]',
            numpy_state,
        )


def _check_history(p: Path, tensors: dict[str, torch.Tensor]) -> None:
    steps, stats = tensors.get("history/steps"), tensors.get("history/stats")
    if steps is None and stats is None:
        return
    if steps is None or stats is None:
        raise CheckpointError(f"{p}: the loss history is damaged (steps or values are missing)")
    if steps.dtype != torch.int64 or steps.ndim != 1:
        raise CheckpointError(
            f"{p}: history/steps must be a list of whole numbers (int64, one dimension), not "
            f"{steps.dtype} of shape {tuple(steps.shape)}"
        )
    if (
        not stats.is_floating_point()
        or stats.ndim != 2
        or len(stats) != len(steps)
        or not 1 <= stats.shape[1] <= len(STAT_NAMES)
    ):
        raise CheckpointError(
            f"{p}: history/stats must be floating-point numbers of shape ({len(steps)}, "
            f"{len(STAT_NAMES)}), one row per step, not {stats.dtype} of shape "
            f"{tuple(stats.shape)}"
        )


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
        if t.ada is not None:
            prefix = "augment/"
            t.ada.load_state_dict(
                {k[len(prefix) :]: v for k, v in ckpt.tensors.items() if k.startswith(prefix)}
            )
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


def trained_size(ckpt: Checkpoint) -> int | None:
    """The picture size a checkpoint's run trained at (None for 2-D points): pictures given
    no size are prepared at most this large when it resumes, on whatever device, so an
    automatic size chosen on a GPU (up to 256 px) comes back on the CPU (64 px at most)."""
    shape = ckpt.meta.get("dataset", {}).get("sample_shape", ())
    if isinstance(shape, list) and len(shape) == 3 and isinstance(shape[-1], int):
        return int(shape[-1])
    return None


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
    elapsed = float(ckpt.meta.get("elapsed", 0.0))
    if cfg.minutes is not None and 60.0 * cfg.minutes <= elapsed:
        raise ConfigError(
            f"the checkpoint has trained for {elapsed / 60:.1f} of its {cfg.minutes:g} "
            "minutes: give a larger time budget (--minutes, the whole run's) to train on"
        )
    dataset = (
        data
        if data is not None
        else load_dataset(cfg.dataset, seed=cfg.seed, largest_auto_size=trained_size(ckpt))
    )
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
