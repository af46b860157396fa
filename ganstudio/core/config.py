"""Training configuration: every choice the trainer makes, with defaults that depend on the data.

``TrainConfig`` fields left as ``None`` mean "pick for me". ``resolve(config, info)`` fills them
in from the dataset and the loss (for example WGAN-GP gets Adam(1e-4, betas (0, 0.9)) and 5
critic steps, as in its paper) and records why in ``notes``, so the run folder says exactly
what ran. Invalid combinations raise ``ConfigError`` with a sentence a user can act on.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol

from ganstudio.core.choices import (
    ARCHITECTURES,
    D_NORMS,
    DCGAN_SIZES,
    DEFAULT_DATASET,
    LOSS_NAMES,
    LR_SCHEDULES,
    parse_policy,
)
from ganstudio.core.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(UserError, ValueError):
    """A configuration value or combination is invalid."""


class DataShape(Protocol):
    """What the automatic choices need to know of a dataset (a core.data DatasetInfo)."""

    @property
    def kind(self) -> str: ...
    @property
    def is_image(self) -> bool: ...
    @property
    def image_size(self) -> int: ...
    @property
    def sample_shape(self) -> tuple[int, ...]: ...


G_NORMS = ("batch", "none")


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the base learning rates at a step: 1 throughout, or decaying to 0.

    late-cosine holds the full rate for the first half of the run, then decays like cosine:
    fast learning first, precise samples at the end.
    """
    if schedule == "constant" or steps <= 0:
        return 1.0
    t = min(max(step / steps, 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - t
    if schedule == "late-cosine":
        t = max(0.0, 2.0 * t - 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = DEFAULT_DATASET
    seed: int = 0
    steps: int | None = None  # generator updates: 5,000 for images, 40,000 for 2-D points
    batch_size: int | None = None  # 64 for images, 256 for 2-D points
    # model
    arch: str | None = None  # "mlp" | "dcgan"; images of 28/32/64 px get DCGAN
    latent_dim: int | None = None  # 100 for DCGAN, 64 for MLPs
    width: int | None = None  # MLP hidden size or DCGAN base channels
    depth: int = 3  # MLP hidden layers
    d_norm: str | None = None  # batch | layer | spectral | none
    g_norm: str | None = None  # MLP generator: batch | none (DCGAN's G always uses batch norm)
    pack: int | None = None  # PacGAN packing degree for the MLP discriminator
    # objective
    loss: str = "nonsaturating"
    d_steps: int | None = None  # discriminator updates per generator update
    r1_gamma: float | None = None  # R1 penalty weight (0 = off; 2-D preset 0.1)
    gp_weight: float = 10.0  # WGAN-GP penalty weight
    clip: float = 0.01  # WGAN weight clipping bound
    # optimiser (Adam)
    lr_g: float | None = None
    lr_d: float | None = None
    beta1_g: float | None = None
    beta2_g: float | None = None
    beta1_d: float | None = None
    beta2_d: float | None = None
    ema: float | None = None  # decay of the generator's weight average (0 = off)
    lr_schedule: str | None = None  # constant | linear | cosine (decay to 0 over `steps`)
    # augmentation (images)
    hflip: bool = False  # mirror real images at random
    diffaugment: str = ""  # DiffAugment policy for real and fake, e.g. "color,translation,cutout"
    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool | None = None  # bf16 autocast; on by default on CUDA when supported
    data_on_device: bool | None = None  # None: when it takes under half the free GPU memory
    channels_last: bool | None = None
    # reporting
    report_interval: float = 0.1  # seconds of wall time between reports
    preview_interval: float = 2.0  # seconds between preview grids / EMA snapshots
    preview_count: int = 64  # images in a preview grid (points: 2,500 for mode coverage)
    notes: tuple[str, ...] = ()  # filled by resolve(): why each automatic choice was made

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in fields(TrainConfig)}
        clean: dict[str, Any] = {}
        for key, value in d.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"unknown setting {key!r}")
            if name == "notes":
                value = tuple(value)
            clean[name] = value
        cfg = TrainConfig(**clean)
        _check_types(cfg)
        return cfg

    def with_updates(self, **changes: Any) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Resolved:
    """The settings ``resolve()`` fills in, as a resolved TrainConfig holds them: never None.

    Read a resolved config's automatic choices from here (``Resolved.of(cfg)``) rather than
    from the TrainConfig, whose fields may be None before ``resolve()``.
    """

    steps: int
    batch_size: int
    arch: str
    latent_dim: int
    width: int
    d_norm: str
    g_norm: str
    pack: int
    d_steps: int
    r1_gamma: float
    lr_g: float
    lr_d: float
    beta1_g: float
    beta2_g: float
    beta1_d: float
    beta2_d: float
    ema: float
    lr_schedule: str

    @staticmethod
    def of(cfg: TrainConfig) -> Resolved:
        """The choices of ``cfg``; ConfigError if ``resolve()`` has not filled them in."""
        values = {f.name: getattr(cfg, f.name) for f in fields(Resolved)}
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise ConfigError(f"the settings are not resolved: {', '.join(missing)} unset")
        return Resolved(**values)


_NUMERIC = {
    "seed": int,
    "steps": int,
    "batch_size": int,
    "latent_dim": int,
    "width": int,
    "depth": int,
    "pack": int,
    "d_steps": int,
    "r1_gamma": float,
    "gp_weight": float,
    "clip": float,
    "lr_g": float,
    "lr_d": float,
    "beta1_g": float,
    "beta2_g": float,
    "beta1_d": float,
    "beta2_d": float,
    "ema": float,
    "report_interval": float,
    "preview_interval": float,
    "preview_count": int,
}


def _check_types(cfg: TrainConfig) -> None:
    for name, typ in _NUMERIC.items():
        value = getattr(cfg, name)
        if value is None:
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if typ is int:
            ok = ok and float(value).is_integer()
        if not ok:
            raise ConfigError(
                f"{name} must be a{'n integer' if typ is int else ' number'}, got {value!r}"
            )
    for name in ("dataset", "loss", "device", "lr_schedule", "diffaugment"):
        if name == "lr_schedule" and cfg.lr_schedule is None:
            continue
        if not isinstance(getattr(cfg, name), str):
            raise ConfigError(f"{name} must be text, got {getattr(cfg, name)!r}")


def load_toml(path: str | Path) -> TrainConfig:
    """Read a TOML file of settings (same names as the command-line options)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    data = data.get("train", data)  # allow a [train] table or top-level keys
    try:
        return TrainConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{p}: {exc}") from None


# Per-loss optimiser presets, from each method's paper.
_LOSS_PRESETS: dict[str, dict[str, Any]] = {
    "wgan": {
        "lr": 5e-5,
        "betas": (0.0, 0.9),
        "d_steps": 5,
        "why": "WGAN: lr 5e-5, 5 critic steps per G step, no momentum (Arjovsky 2017)",
    },
    "wgan-gp": {
        "lr": 1e-4,
        "betas": (0.0, 0.9),
        "d_steps": 5,
        "why": "WGAN-GP: Adam(1e-4, betas 0, 0.9), 5 critic steps (Gulrajani 2017)",
    },
}

# 2-D mixtures: the plain MLP GAN collapses onto a few modes. With this preset every seed
# captured every mode of ring8 and grid25, at 94.0% and 90.9% high-quality samples
# (README, `ganstudio bench --quality`).
POINTS_PRESET = {
    "steps": 40_000,
    "batch_size": 256,
    "latent_dim": 16,
    "width": 256,
    "g_norm": "none",
    "pack": 4,
    "r1_gamma": 0.1,
    "d_steps": 2,
    "lr_schedule": "late-cosine",
    "ema": 0.999,
}


def resolve(cfg: TrainConfig, info: DataShape) -> TrainConfig:
    """Fill in every automatic choice for this dataset; validate the result."""
    _check_types(cfg)
    notes: list[str] = []
    points = not info.is_image

    arch = cfg.arch
    if arch is None:
        if (
            info.is_image
            and info.sample_shape[1] == info.sample_shape[2]
            and info.image_size in DCGAN_SIZES
        ):
            arch = "dcgan"
        else:
            arch = "mlp"
        notes.append(f"architecture {arch} chosen for {info.kind} of shape {info.sample_shape}")
    if arch not in ARCHITECTURES:
        raise ConfigError(
            f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    if arch == "dcgan":
        if points:
            raise ConfigError("DCGAN needs an image dataset; use the MLP for 2-D points")
        c, h, w = info.sample_shape
        if h != w or h not in DCGAN_SIZES:
            raise ConfigError(
                f"DCGAN supports square images of {DCGAN_SIZES} px, this dataset has {h}x{w}"
            )

    if points and (cfg.hflip or cfg.diffaugment):
        raise ConfigError("flips and DiffAugment are for images, not 2-D points")

    loss = cfg.loss
    if loss not in LOSS_NAMES:
        raise ConfigError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSS_NAMES)}")
    preset = _LOSS_PRESETS.get(loss, {})
    if preset and any(getattr(cfg, f) is None for f in ("lr_g", "lr_d", "d_steps")):
        notes.append(preset["why"])

    def pick(name: str, default: Any) -> Any:
        value = getattr(cfg, name)
        return default if value is None else value

    lr = preset.get("lr", 2e-4)
    b1, b2 = preset.get("betas", (0.5, 0.999))
    pts = POINTS_PRESET if points else {}
    if points and any(getattr(cfg, k) is None for k in POINTS_PRESET):
        notes.append(
            "2-D preset: 40,000 steps of batch 256, latent 16, width 256, PacGAN packing 4, "
            "2 D steps per G step, R1 0.1 (not with WGAN losses), late-cosine learning-rate "
            "decay, EMA 0.999"
        )
    wasserstein = loss in ("wgan", "wgan-gp")  # their critic has its own Lipschitz control
    r1_gamma = pick("r1_gamma", 0.0 if wasserstein else pts.get("r1_gamma", 0.0))

    gp_losses = loss == "wgan-gp" or r1_gamma > 0
    d_norm = cfg.d_norm
    if d_norm is None:
        d_norm = "none" if (points or gp_losses) else "batch"
        if gp_losses and not points:
            notes.append(
                "discriminator without batch norm: gradient penalties need per-sample gradients"
            )
    if d_norm not in D_NORMS:
        raise ConfigError(f"unknown discriminator norm {d_norm!r}; choose one of {D_NORMS}")
    if d_norm == "batch" and gp_losses:
        raise ConfigError(
            "batch norm in the discriminator breaks gradient penalties "
            "(WGAN-GP, R1): choose d_norm layer, spectral or none"
        )

    out = replace(
        cfg,
        arch=arch,
        steps=pick("steps", pts.get("steps", 5000)),
        batch_size=pick("batch_size", pts.get("batch_size", 64)),
        latent_dim=pick("latent_dim", pts.get("latent_dim", 100 if arch == "dcgan" else 64)),
        width=pick("width", pts.get("width", 64 if arch == "dcgan" else 256)),
        d_norm=d_norm,
        g_norm=pick("g_norm", pts.get("g_norm", "none")),
        pack=pick("pack", pts.get("pack", 1) if arch == "mlp" else 1),
        d_steps=pick("d_steps", preset.get("d_steps", pts.get("d_steps", 1))),
        lr_g=pick("lr_g", lr),
        lr_d=pick("lr_d", lr),
        beta1_g=pick("beta1_g", b1),
        beta2_g=pick("beta2_g", b2),
        beta1_d=pick("beta1_d", b1),
        beta2_d=pick("beta2_d", b2),
        ema=pick("ema", pts.get("ema", 0.999)),
        r1_gamma=r1_gamma,
        lr_schedule=pick("lr_schedule", pts.get("lr_schedule", "constant")),
        notes=tuple(notes),
    )
    validate(out)
    return out


def validate(cfg: TrainConfig) -> None:
    """Check a resolved config; raise ConfigError naming the first problem."""

    def positive(name: str, value: float | None, integer: bool = False) -> None:
        if value is None or not math.isfinite(value) or value <= 0:
            raise ConfigError(
                f"{name} must be a positive {'integer' if integer else 'number'}, got {value}"
            )

    for name in (
        "steps",
        "batch_size",
        "latent_dim",
        "width",
        "depth",
        "d_steps",
        "pack",
        "preview_count",
    ):
        positive(name, getattr(cfg, name), integer=True)
    for name in ("lr_g", "lr_d", "gp_weight", "clip"):
        positive(name, getattr(cfg, name))
    for name in ("report_interval", "preview_interval"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name} must be zero or more seconds, got {getattr(cfg, name)}")
    for name in ("lr_g", "lr_d"):
        if getattr(cfg, name) > 1.0:
            raise ConfigError(f"{name} {getattr(cfg, name)} is far too large (try 2e-4)")
    for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
        v = getattr(cfg, name)
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {v}")
    r = Resolved.of(cfg)
    for name in ("hflip", "data_on_device", "amp", "channels_last"):
        value = getattr(cfg, name)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
    try:
        parse_policy(cfg.diffaugment)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if r.g_norm not in G_NORMS:
        raise ConfigError(f"unknown generator norm {r.g_norm!r}; choose one of {G_NORMS}")
    if r.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(
            f"unknown lr_schedule {r.lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}"
        )
    if not 0.0 <= r.ema < 1.0:
        raise ConfigError(f"ema must be in [0, 1) (0 turns it off), got {r.ema}")
    if r.r1_gamma < 0 or not math.isfinite(r.r1_gamma):
        raise ConfigError(f"r1_gamma must be zero or positive, got {r.r1_gamma}")
    if r.batch_size % r.pack:
        raise ConfigError(
            f"batch size {r.batch_size} must be a multiple of the packing degree {r.pack}"
        )
    if r.pack > 1 and r.arch != "mlp":
        raise ConfigError("packing (PacGAN) is only available with the MLP discriminator")
    if r.d_norm == "batch" and r.batch_size // r.pack < 2:
        raise ConfigError("batch norm needs at least 2 samples per batch")
