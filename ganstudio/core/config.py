"""Training configuration: every choice the trainer makes, with defaults that depend on the data.

``TrainConfig`` fields left as ``None`` mean "pick for me". ``resolve(config, info)`` fills them
in from the dataset and the loss (for example WGAN-GP gets Adam(1e-4, betas (0, 0.9)) and 5
critic steps, as in its paper) and records why in ``notes``, so the run folder says exactly
what ran. Invalid combinations raise ``ConfigError`` with a sentence a user can act on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import reprlib
import stat
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol

from ganstudio.core.choices import (
    ARCHITECTURES,
    AUGMENT_MODES,
    D_NORMS,
    DCGAN_SIZES,
    DEFAULT_AUGMENT_POLICY,
    DEFAULT_DATASET,
    FASTGAN_SIZES,
    LOSS_NAMES,
    LR_SCHEDULES,
    MAX_DCGAN_WIDTH,
    MAX_LATENT_DIM,
    MAX_MLP_DEPTH,
    MAX_MLP_WIDTH,
    MAX_PACK,
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
    @property
    def class_names(self) -> tuple[str, ...]: ...


G_NORMS = ("batch", "none")
CONDITIONAL_ARCHITECTURES = ("dcgan", "fastgan")  # those with class-conditional networks


def lr_factor(schedule: str, progress: float) -> float:
    """Multiplier of the base learning rates at ``progress`` (0 to 1, the share of the
    budget spent: steps or time): 1 throughout, or decaying to 0.

    late-cosine holds the full rate for the first half of the run, then decays like cosine:
    fast learning first, precise samples at the end.
    """
    if schedule == "constant":
        return 1.0
    t = min(max(progress, 0.0), 1.0)
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
    # Or train for this long (minutes of training, pauses excluded): alone, the step budget is
    # unbounded; with steps, whichever ends first. The learning-rate schedule and the ETA
    # follow the budget that is nearer its end.
    minutes: float | None = None
    # Start from the weights of this model file or checkpoint (fine-tuning): the networks are
    # its, the optimisers, steps and schedule new.
    init_from: str | None = None
    batch_size: int | None = None  # 64 for images, 256 for 2-D points
    # model
    # "mlp" | "dcgan" | "fastgan"; pictures of 28 and 32 px get DCGAN, from 64 px FastGAN
    arch: str | None = None
    latent_dim: int | None = None  # 100 for DCGAN, 256 for FastGAN, 64 for MLPs
    width: int | None = None  # MLP hidden size or DCGAN / FastGAN base channels (64)
    depth: int = 3  # MLP hidden layers
    d_norm: str | None = None  # batch | layer | spectral | none
    g_norm: str | None = None  # MLP generator: batch | none (DCGAN's G always uses batch norm)
    pack: int | None = None  # PacGAN packing degree for the MLP discriminator
    # Class-conditional networks (DCGAN, FastGAN) trained on the dataset's labels. None:
    # off, until `bench --images` shows that conditioning draws better (README).
    conditional: bool | None = None
    # objective
    # None: chosen by `bench --images` for pictures (PICTURE_RECIPE), nonsaturating for points
    loss: str | None = None
    d_steps: int | None = None  # discriminator updates per generator update
    # R1 penalty weight (0 = off; 2-D preset 0.1); with rpgan also R2's, as in R3GAN (default 1)
    r1_gamma: float | None = None
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
    # How often the DiffAugment operations apply: off | always | auto (to each sample with a
    # probability that rises while D overfits the real data: StyleGAN2-ADA). None: always
    # when operations are given, else off. always/auto without operations use all three.
    augment: str | None = None
    augment_target: float = 0.6  # auto: the wanted mean sign of D's real outputs (ADA's 0.6)
    augment_kimg: float = 100.0  # auto: thousands of real images for p to cross 0 to 1
    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool | None = None  # bf16 autocast; on by default on CUDA when supported
    data_on_device: bool | None = None  # None: when it takes under half the free GPU memory
    channels_last: bool | None = None
    # reporting
    report_interval: float = 0.1  # seconds of wall time between reports
    # Shortest spacing (seconds) of preview grids / EMA snapshots, and of probes; a costly
    # one is spaced further (core.spacing.Spacing): a new preview at least every 2 s.
    preview_interval: float = 1.0
    preview_count: int = 64  # images in a preview grid (points: 2,500 for mode coverage)
    notes: tuple[str, ...] = ()  # filled by resolve(): why each automatic choice was made

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"settings must be a table of names and values, got {short_repr(d)}")
        known = {f.name: f for f in fields(TrainConfig)}
        clean: dict[str, Any] = {}
        for key, value in d.items():
            name = str(key).replace("-", "_")
            if name not in known:
                raise ConfigError(f"unknown setting {short_repr(key)}")
            if name in clean:
                raise ConfigError(f"{name} is given twice (as {name} and with dashes)")
            if name == "notes":
                if not isinstance(value, (list, tuple)):
                    raise ConfigError(f"notes must be a list of text, got {short_repr(value)}")
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
    conditional: bool
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
    augment: str
    loss: str

    @staticmethod
    def of(cfg: TrainConfig) -> Resolved:
        """The choices of ``cfg``; ConfigError if ``resolve()`` has not filled them in."""
        values = {f.name: getattr(cfg, f.name) for f in fields(Resolved)}
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise ConfigError(f"the settings are not resolved: {', '.join(missing)} unset")
        return Resolved(**values)


@dataclass(frozen=True)
class Range:
    """The values a number may take: ``low`` to ``high``, either end included unless open.

    The one description of a numeric setting's range: TrainConfig checks its fields with it
    and the command line's options (cli.common) parse with it, so both say the same.
    """

    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    high_open: bool = False
    note: str = ""  # what the unit is, or what an end means: "seconds", "0 = off"

    def contains(self, value: object) -> bool:
        """Whether ``value`` (an int, or a float for a real range; never a bool) is allowed."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """'a whole number between 1 and 1,048,576', 'a number above 0 and at most 1' ..."""
        lo, hi = _number_text(self.low), _number_text(self.high)
        if self.low_open or self.high_open:
            first = f"above {lo}" if self.low_open else f"at least {lo}"
            bounds = f"{first} and {f'below {hi}' if self.high_open else f'at most {hi}'}"
        else:
            bounds = f"between {lo} and {hi}"
        what = "a whole number" if self.integer else "a number"
        return f"{what} {bounds}" + (f" ({self.note})" if self.note else "")


def _number_text(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


def short_repr(value: object) -> str:
    """repr() cut short: a value from a file may be huge or nested thousands deep."""
    return reprlib.repr(value)


SEED_MAX = 2**32 - 1  # seeds feed torch.Generator.manual_seed, offsets added (rank, step)
# Steps are written into file names with 7 digits (core.runs.layout), which sort by name.
MAX_STEPS = 9_999_999
MAX_MINUTES = 366 * 24 * 60  # a year
MAX_BATCH = 2**20  # the global batch (split among torchrun processes)

# The range of every numeric TrainConfig field, used by the command line too.
LIMITS: dict[str, Range] = {
    "seed": Range(0, SEED_MAX, integer=True),
    "steps": Range(1, MAX_STEPS, integer=True),
    "minutes": Range(0, MAX_MINUTES, low_open=True, note="minutes of training"),
    "batch_size": Range(1, MAX_BATCH, integer=True),
    "latent_dim": Range(1, MAX_LATENT_DIM, integer=True),
    # The MLP's hidden units or DCGAN's base channels (core.models bounds each, and the
    # weights of one network).
    "width": Range(1, max(MAX_MLP_WIDTH, MAX_DCGAN_WIDTH), integer=True),
    "depth": Range(1, MAX_MLP_DEPTH, integer=True),
    "pack": Range(1, MAX_PACK, integer=True),
    "d_steps": Range(1, 100, integer=True),
    "r1_gamma": Range(0, 1000, note="0 = off"),
    "gp_weight": Range(0, 1000, low_open=True),
    "clip": Range(0, 100, low_open=True),
    "lr_g": Range(0, 1, low_open=True),
    "lr_d": Range(0, 1, low_open=True),
    "beta1_g": Range(0, 1, high_open=True),
    "beta2_g": Range(0, 1, high_open=True),
    "beta1_d": Range(0, 1, high_open=True),
    "beta2_d": Range(0, 1, high_open=True),
    "ema": Range(0, 1, high_open=True, note="0 = off"),
    "augment_target": Range(0, 1),
    "augment_kimg": Range(0, 1e6, low_open=True, note="thousands of images"),
    "report_interval": Range(0, 1e9, note="seconds"),
    "preview_interval": Range(0, 1e9, note="seconds"),
    "preview_count": Range(1, 10_000, integer=True),
}

_TEXT = ("dataset", "device", "diffaugment")
_OPTIONAL_TEXT = ("loss", "arch", "d_norm", "g_norm", "lr_schedule", "augment", "init_from")
_FLAGS = ("hflip",)
_OPTIONAL_FLAGS = ("amp", "data_on_device", "channels_last", "conditional")
_CHOICES: dict[str, tuple[str, ...]] = {
    "arch": ARCHITECTURES,
    "d_norm": D_NORMS,
    "g_norm": G_NORMS,
    "loss": tuple(LOSS_NAMES),
    "lr_schedule": LR_SCHEDULES,
    "augment": AUGMENT_MODES,
}


def check_number(name: str, value: object) -> None:
    """ConfigError naming ``name`` and its range unless ``value`` is in ``LIMITS[name]``."""
    limit = LIMITS[name]
    if not limit.contains(value):
        raise ConfigError(f"{name} must be {limit.describe()}, got {short_repr(value)}")


def _check_types(cfg: TrainConfig) -> None:
    """Every field set has the right type and range (the automatic ones may still be None)."""
    automatic = {f.name for f in fields(TrainConfig) if f.default is None}
    for name in LIMITS:
        value = getattr(cfg, name)
        if value is not None or name not in automatic:
            check_number(name, value)
    for name in (*_TEXT, *_OPTIONAL_TEXT):
        value = getattr(cfg, name)
        if value is None and name in _OPTIONAL_TEXT:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, got {short_repr(value)}")
        allowed = _CHOICES.get(name)
        if allowed is not None and value not in allowed:
            raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")
    for name in (*_FLAGS, *_OPTIONAL_FLAGS):
        value = getattr(cfg, name)
        if not (isinstance(value, bool) or (value is None and name in _OPTIONAL_FLAGS)):
            raise ConfigError(f"{name} must be true or false, got {short_repr(value)}")
    if not all(isinstance(n, str) for n in cfg.notes):
        raise ConfigError("notes must be a list of text")


MAX_SETTINGS_BYTES = 1 << 20  # a settings file is a few hundred bytes


def load_toml(path: str | Path) -> TrainConfig:
    """Read a TOML file of settings (same names as the command-line options), either at the
    top level or in a [train] table. ConfigError naming the file and the field for anything
    else: not a regular file, not TOML, an unknown name, a value of the wrong type or range."""
    p = Path(path)
    data = _read_toml(p)
    table = data.pop("train", None)
    if table is not None:
        if not isinstance(table, dict):
            raise ConfigError(
                f"{p}: train must be a table of settings ([train]), got {short_repr(table)}"
            )
        both = sorted(set(table) & set(data))
        if both:
            raise ConfigError(f"{p}: {both[0]} is given both in [train] and at the top level")
        data |= table
    try:
        return TrainConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def _read_toml(p: Path) -> dict[str, Any]:
    """The parsed file; only a regular file is opened (never a FIFO, a device or a folder)."""
    try:
        # O_NONBLOCK: opening a FIFO returns at once (then refused) instead of waiting.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a settings file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{p}: is a folder, not a settings file")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{p}: is not a regular file (a pipe or a device?)")
        if info.st_size > MAX_SETTINGS_BYTES:
            raise ConfigError(
                f"{p}: is {info.st_size:,} bytes, too large for a settings file "
                f"(at most {MAX_SETTINGS_BYTES:,})"
            )
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not valid TOML (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: not valid TOML (nested too deeply)") from None


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

# The default recipe for pictures (a DCGAN when no other architecture is asked for), chosen
# by `ganstudio bench --images` on builtin:digits, 5 minutes per recipe on a 2-core CPU
# (README, "Which recipe draws best"): hinge loss with a spectrally normalised discriminator
# reached FD 2.58 against 6.39 for the non-saturating loss with batch norm (floor 0.62).
PICTURE_RECIPE = {
    "loss": "hinge",
    "d_norm": "spectral",
    "why": "pictures: hinge loss with a spectrally normalised discriminator (the best FD of "
    "`ganstudio bench --images` in equal time)",
}

# Pictures of 64 px and more train a FastGAN by default: on builtin:shapes?size=64, 10 minutes
# each on the 2-core CPU (`bench --images`, README), FastGAN width 8 with the hinge loss and
# adaptive augmentation reached FD 45.1, the DCGAN with the non-saturating loss 74.0 and the
# DCGAN with the hinge loss and a spectrally normalised D (the 28 px default) collapsed onto
# one kind of shape (FD 234, recall 0.001). Below 64 px the DCGAN stays (digits: FD 2.58
# against FastGAN's 10.9).
FASTGAN_FROM = 64
# FastGAN's base width on the CPU, where width 64 would make a step take seconds; on a GPU
# the paper's 64.
FASTGAN_CPU_WIDTH = 8
# FastGAN's own loss, which also beat rpgan in every `bench --images` table (digits: FD 10.9
# against 21.7; shapes at 64 px: 45.1 against 111.2).
FASTGAN_LOSS = "hinge"

# R1 and R2 weight of the relativistic loss when none is given. Digits (28 px, DCGAN width
# 32, batch 64, one seed) after 300 steps: at 0.1 and 0.3 the generator had collapsed onto
# one or two shapes, at 1 it drew varied digits, at 3 blurrier ones; on ring8 0.1 and 1 both
# captured all 8 modes by step 4,000 (HQ 33% and 31%).
RPGAN_GAMMA = 1.0

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


def _default_width(arch: str, accelerator: bool) -> int:
    if arch == "fastgan":
        return 64 if accelerator else FASTGAN_CPU_WIDTH
    return 64 if arch == "dcgan" else 256


def resolve(cfg: TrainConfig, info: DataShape, accelerator: bool = False) -> TrainConfig:
    """Fill in every automatic choice for this dataset; validate the result. ``accelerator``:
    the run trains on a GPU (CUDA or MPS), where a wider FastGAN pays off."""
    _check_types(cfg)
    notes: list[str] = []
    points = not info.is_image

    arch = cfg.arch
    if arch is None:
        square = info.is_image and info.sample_shape[1] == info.sample_shape[2]
        if square and info.image_size in DCGAN_SIZES and info.image_size < FASTGAN_FROM:
            arch = "dcgan"
        elif square and info.image_size in FASTGAN_SIZES:
            arch = "fastgan"
        else:
            arch = "mlp"
        notes.append(f"architecture {arch} chosen for {info.kind} of shape {info.sample_shape}")
    if arch == "dcgan":
        if points:
            raise ConfigError("DCGAN needs an image dataset; use the MLP for 2-D points")
        c, h, w = info.sample_shape
        if h != w or h not in DCGAN_SIZES:
            raise ConfigError(
                f"DCGAN supports square images of {DCGAN_SIZES} px, this dataset has {h}x{w}"
            )
    if arch == "fastgan":  # asked for, or automatic for pictures from 64 px
        if points:
            raise ConfigError("FastGAN needs an image dataset; use the MLP for 2-D points")
        c, h, w = info.sample_shape
        if h != w or h not in FASTGAN_SIZES:
            raise ConfigError(
                f"FastGAN supports square images of {', '.join(map(str, FASTGAN_SIZES))} px, "
                f"this dataset has {h}x{w} (prepare your pictures at one of those sizes, "
                "or try builtin:shapes?size=64)"
            )

    try:
        diffaugment = ",".join(parse_policy(cfg.diffaugment))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    augment = cfg.augment or (
        "always" if diffaugment else ("auto" if arch == "fastgan" and not points else "off")
    )
    if points and (cfg.hflip or diffaugment or augment != "off"):
        raise ConfigError("flips and DiffAugment are for images, not 2-D points")
    if augment == "off" and diffaugment:
        notes.append(f"augment off: the DiffAugment operations {diffaugment} are not applied")
        diffaugment = ""
    elif augment != "off" and not diffaugment:
        diffaugment = DEFAULT_AUGMENT_POLICY
        notes.append(f"augment {augment}: DiffAugment operations {diffaugment}")

    conditional = bool(cfg.conditional)
    if conditional and arch not in CONDITIONAL_ARCHITECTURES:
        raise ConfigError(
            f"conditional training is available for {' and '.join(CONDITIONAL_ARCHITECTURES)} "
            f"image models, not {arch}: choose --arch dcgan or fastgan, or leave it off"
        )
    if cfg.conditional is None and len(info.class_names) > 1 and not points:
        notes.append(
            "conditional off: the labels are not used (conditioning is not on by default "
            "until `ganstudio bench --images` shows it draws better); --conditional uses them"
        )

    loss = cfg.loss
    picture_recipe = loss is None and not points and arch == "dcgan"
    if loss is None:
        if picture_recipe:
            loss = PICTURE_RECIPE["loss"]
            notes.append(PICTURE_RECIPE["why"])
        elif arch == "fastgan":
            loss = FASTGAN_LOSS
            notes.append(f"FastGAN: the {FASTGAN_LOSS} loss (the paper's; `bench --images` agrees)")
        else:
            loss = "nonsaturating"
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
    if loss == "rpgan":
        # R3GAN: the relativistic loss converges only with both penalties (R1 on real, R2 on
        # generated data), one gamma for both.
        r1_gamma = pick("r1_gamma", RPGAN_GAMMA)
        if cfg.r1_gamma is None:
            notes.append(
                f"rpgan: R1 and R2 penalties with gamma {RPGAN_GAMMA:g} (R3GAN, Huang 2024)"
            )
    else:
        r1_gamma = pick("r1_gamma", 0.0 if wasserstein else pts.get("r1_gamma", 0.0))

    gp_losses = loss == "wgan-gp" or r1_gamma > 0
    d_norm = cfg.d_norm
    if d_norm is None and picture_recipe:
        d_norm = PICTURE_RECIPE["d_norm"]
    if d_norm is None:
        if arch == "fastgan":  # the paper's spectral + batch norm; spectral alone with GP
            d_norm = "spectral" if gp_losses else "batch"
        else:
            d_norm = "none" if (points or gp_losses) else "batch"
        if gp_losses and not points:
            notes.append(
                "discriminator without batch norm: gradient penalties need per-sample gradients"
            )
    if d_norm == "batch" and gp_losses:
        raise ConfigError(
            "batch norm in the discriminator breaks gradient penalties "
            "(WGAN-GP, R1, R2): choose d_norm layer, spectral or none"
        )

    out = replace(
        cfg,
        arch=arch,
        steps=pick("steps", MAX_STEPS if cfg.minutes else pts.get("steps", 5000)),
        batch_size=pick("batch_size", pts.get("batch_size", 64)),
        latent_dim=pick(
            "latent_dim",
            pts.get("latent_dim", {"dcgan": 100, "fastgan": 256}.get(arch, 64)),
        ),
        width=pick("width", pts.get("width", _default_width(arch, accelerator))),
        d_norm=d_norm,
        g_norm=pick("g_norm", pts.get("g_norm", "none")),
        pack=pick("pack", pts.get("pack", 1) if arch == "mlp" else 1),
        conditional=conditional,
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
        augment=augment,
        diffaugment=diffaugment,
        loss=loss,
        notes=tuple(notes),
    )
    validate(out)
    return out


def validate(cfg: TrainConfig) -> None:
    """Check a resolved config; raise ConfigError naming the first problem."""
    _check_types(cfg)
    r = Resolved.of(cfg)
    try:
        ops = parse_policy(cfg.diffaugment)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if (r.augment == "off") != (not ops):
        raise ConfigError(
            f"augment {r.augment} needs DiffAugment operations exactly when it is not off "
            f"(diffaugment is {cfg.diffaugment!r})"
        )
    if r.batch_size % r.pack:
        raise ConfigError(
            f"batch size {r.batch_size} must be a multiple of the packing degree {r.pack}"
        )
    if r.pack > 1 and r.arch != "mlp":
        raise ConfigError("packing (PacGAN) is only available with the MLP discriminator")
    if r.d_norm == "batch" and r.batch_size // r.pack < 2:
        raise ConfigError("batch norm needs at least 2 samples per batch")
