"""Generators and discriminators: MLP (2-D points and small images), DCGAN (28, 32, 64 px)
and FastGAN (28 to 512 px, from core.fastgan).

Every network is rebuilt from a ``ModelSpec`` (a name plus keyword arguments), so a model
file can say exactly what it contains and be opened without running code from it.
"""

from __future__ import annotations

import inspect
import math
import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from ganstudio.core.choices import (
    ARCHITECTURES,
    D_NORMS,
    DCGAN_SIZES,
    FASTGAN_SIZES,
    MAX_DCGAN_WIDTH,
    MAX_FASTGAN_WIDTH,
    MAX_LATENT_DIM,
    MAX_MLP_DEPTH,
    MAX_MLP_WIDTH,
    MAX_PACK,
)
from ganstudio.core.conditioning import MAX_CLASSES, ClassEmbedding, condition_latent, projection
from ganstudio.core.counting import counting, only_counting
from ganstudio.core.errors import UserError
from ganstudio.core.fastgan import FastGANDiscriminator, FastGANGenerator

# ----------------------------------------------------------------------------------------
# What a ModelSpec may ask for: the one place these limits live. build() checks every spec
# against them before it allocates anything, so a config, a model file or a checkpoint that
# asks for a million layers or a trillion weights is refused with a sentence, not an
# allocation. The command line and the window may offer these as the ranges of their fields.

MAX_IMAGE_SIDE = 256  # height and width of the pictures an MLP makes or judges
IMAGE_CHANNELS = (1, 3)  # grayscale or RGB: what every picture path can show and save
POINT_SHAPE = (2,)  # the samples of a point model are 2-D points
MAX_PARAMETERS = 100_000_000  # weights of one network (400 MB as float32)
MAX_DATA_SCALE = 1e12  # |data_mean| and data_std of a point model, in the data's units


class ModelSpecError(UserError, ValueError):
    """A network description asks for something that cannot or should not be built; the
    message names the network and the argument."""


@dataclass(frozen=True)
class ModelSpec:
    """A network described by data: ``build(spec)`` recreates it."""

    name: str
    kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "kwargs": dict(self.kwargs)}

    @staticmethod
    def from_dict(d: object) -> ModelSpec:
        """A spec from its JSON form {"name": ..., "kwargs": {...}}; ModelSpecError for
        anything else."""
        if not isinstance(d, dict):
            raise ModelSpecError(
                f'a network is described by {{"name": ..., "kwargs": {{...}}}}, not {_show(d)}'
            )
        name, kwargs = d.get("name"), d.get("kwargs", {})
        if not isinstance(name, str):
            raise ModelSpecError(f'the network\'s "name" must be text, not {_show(name)}')
        if not isinstance(kwargs, dict):
            raise ModelSpecError(f'{name}: "kwargs" must be an object, not {_show(kwargs)}')
        return ModelSpec(name, dict(kwargs))


_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


_Net = TypeVar("_Net", bound=type[nn.Module])


def _register(name: str) -> Callable[[_Net], _Net]:
    def deco(cls: _Net) -> _Net:
        _REGISTRY[name] = cls
        return cls

    return deco


def _show(value: object) -> str:
    """A value for an error message: repr() cut short (a value from a file may be huge)."""
    return reprlib.repr(value)


# One checker per argument: (name, value, all arguments) -> the value to build with.
_Checker = Callable[[str, object, dict[str, Any]], object]


def _whole(low: int, high: int) -> _Checker:
    def check(name: str, value: object, _args: dict[str, Any]) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelSpecError(
                f"{name} must be a whole number from {low:,} to {high:,}, not {_show(value)}"
            )
        return value

    return check


def _one_of(choices: Sequence[object]) -> _Checker:
    def check(name: str, value: object, _args: dict[str, Any]) -> object:
        if isinstance(value, bool) or value not in choices:
            raise ModelSpecError(
                f"{name} must be one of {', '.join(map(str, choices))}, not {_show(value)}"
            )
        return value

    return check


def _flag(name: str, value: object, _args: dict[str, Any]) -> object:
    if not isinstance(value, bool):
        raise ModelSpecError(f"{name} must be true or false, not {_show(value)}")
    return value


def _sample_shape(name: str, value: object, _args: dict[str, Any]) -> object:
    shape = list(value) if isinstance(value, (list, tuple)) else None
    whole = shape is not None and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
    if whole and shape is not None:
        sides_fit = all(1 <= side <= MAX_IMAGE_SIDE for side in shape[1:])
        if tuple(shape) == POINT_SHAPE or (
            len(shape) == 3 and shape[0] in IMAGE_CHANNELS and sides_fit
        ):
            return shape
    raise ModelSpecError(
        f"{name} must be {list(POINT_SHAPE)} (2-D points) or [channels, height, width] with "
        f"{' or '.join(map(str, IMAGE_CHANNELS))} channels and sides from 1 to "
        f"{MAX_IMAGE_SIDE}, not {_show(value)}"
    )


def _is_scale(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= MAX_DATA_SCALE
    )


def _data_mean(name: str, value: object, args: dict[str, Any]) -> object:
    if value is None:
        return None
    shape = args.get("out_shape", args.get("in_shape", POINT_SHAPE))
    size = shape[-1] if isinstance(shape, (list, tuple)) and shape else 0
    if (
        not isinstance(value, (list, tuple))
        or len(value) != size
        or not all(_is_scale(v) for v in value)
    ):
        raise ModelSpecError(
            f"{name} must be null or a list of {size} finite numbers (the data's mean), "
            f"not {_show(value)}"
        )
    return [float(v) for v in value]


def _data_std(name: str, value: object, _args: dict[str, Any]) -> object:
    if not _is_scale(value) or not value > 0:  # type: ignore[operator]
        raise ModelSpecError(f"{name} must be a positive finite number, not {_show(value)}")
    return float(value)  # type: ignore[arg-type]


_LATENT = _whole(1, MAX_LATENT_DIM)
# Class conditioning (core.conditioning): 0 = unconditional, the default of every network,
# so a spec written before conditioning existed builds the same network.
_CLASSES = _whole(0, MAX_CLASSES)
_MLP_WIDTH, _MLP_DEPTH = _whole(1, MAX_MLP_WIDTH), _whole(0, MAX_MLP_DEPTH)
_DCGAN = {
    "image_size": _one_of(DCGAN_SIZES),
    "channels": _one_of(IMAGE_CHANNELS),
    "base": _whole(1, MAX_DCGAN_WIDTH),
    "classes": _CLASSES,
}
_FASTGAN = {
    "image_size": _one_of(FASTGAN_SIZES),
    "channels": _one_of(IMAGE_CHANNELS),
    "base": _whole(1, MAX_FASTGAN_WIDTH),
    "classes": _CLASSES,
}
_ARGUMENTS: dict[str, dict[str, _Checker]] = {
    "mlp_g": {
        "latent_dim": _LATENT,
        "out_shape": _sample_shape,
        "hidden": _MLP_WIDTH,
        "layers": _MLP_DEPTH,
        "batch_norm": _flag,
        "data_mean": _data_mean,
        "data_std": _data_std,
    },
    "mlp_d": {
        "in_shape": _sample_shape,
        "hidden": _MLP_WIDTH,
        "layers": _MLP_DEPTH,
        "norm": _one_of(D_NORMS),
        "pack": _whole(1, MAX_PACK),
        "data_mean": _data_mean,
        "data_std": _data_std,
    },
    "dcgan_g": {"latent_dim": _LATENT, **_DCGAN},
    "dcgan_d": {**_DCGAN, "norm": _one_of(D_NORMS)},
    "fastgan_g": {"latent_dim": _LATENT, **_FASTGAN},
    "fastgan_d": {**_FASTGAN, "norm": _one_of(D_NORMS)},
}


def _defaults(name: str) -> dict[str, Any]:
    params = inspect.signature(_REGISTRY[name]).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def checked_spec(spec: ModelSpec) -> ModelSpec:
    """The spec with every argument checked against the limits above and written out (the
    defaults of those it leaves out filled in); ModelSpecError naming the network and the
    argument otherwise. Also refuses a network of more than MAX_PARAMETERS weights, counted
    without allocating them."""
    if not isinstance(spec.name, str) or spec.name not in _REGISTRY:
        raise ModelSpecError(
            f"unknown network {_show(spec.name)}; known: {', '.join(sorted(_REGISTRY))}"
        )
    if not isinstance(spec.kwargs, dict):
        raise ModelSpecError(f"{spec.name}: the arguments must be an object")
    checks = _ARGUMENTS[spec.name]
    unknown = sorted(str(k) for k in spec.kwargs if k not in checks)
    if unknown:
        raise ModelSpecError(
            f"bad arguments for network {spec.name!r}: unknown argument "
            f"{', '.join(map(repr, unknown))} (known: {', '.join(checks)})"
        )
    given = _defaults(spec.name) | spec.kwargs
    kwargs = {}
    for key, check in checks.items():
        try:
            kwargs[key] = check(key, given[key], given)
        except ModelSpecError as exc:
            raise ModelSpecError(f"{spec.name}: {exc}") from None
    if kwargs.get("classes") == 0:
        del kwargs["classes"]  # an unconditional spec reads as it did before conditioning
    checked = ModelSpec(spec.name, kwargs)
    count = parameter_count(checked)
    if count > MAX_PARAMETERS:
        raise ModelSpecError(
            f"{spec.name}: the network would have {count:,} weights ({_gigabytes(count * 4)} "
            f"as float32), more than the {MAX_PARAMETERS:,} ({_gigabytes(MAX_PARAMETERS * 4)}) "
            "one network may have: use a smaller width, depth, latent or image size"
        )
    return checked


def _gigabytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def parameter_count(spec: ModelSpec) -> int:
    """How many weights the network of a checked spec has, counted on the meta device (no
    memory is allocated for them; see core.counting)."""
    with only_counting(), torch.device("meta"):
        return count_parameters(_REGISTRY[spec.name](**spec.kwargs))


def build(spec: ModelSpec) -> nn.Module:
    """Instantiate the network a spec describes, after checking it (see checked_spec)."""
    checked = checked_spec(spec)
    return _REGISTRY[checked.name](**checked.kwargs)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv/linear weights N(0, 0.02), norm scales N(1, 0.02).
    Nothing on the meta device (a network built to count or check its weights): there the
    values mean nothing, and the first normal_ imports torch._dynamo (2 s)."""
    if any(p.is_meta for p in module.parameters()):
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            # A spectrally normalised layer's .weight is computed: initialise what it is
            # computed from (writing .weight would fill a temporary).
            weight = m.weight
            if nn.utils.parametrize.is_parametrized(m, "weight"):
                weight = getattr(m.parametrizations, "weight").original  # noqa: B009
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif (
            isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm))
            and m.weight is not None
        ):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------
# Normalisation choices for discriminators. Batch norm couples the samples of a batch, which
# makes gradient penalties (WGAN-GP, R1) ill-defined; "layer" and "none" do not.


def _d_norm_conv(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def _maybe_sn(layer: nn.Module, norm: str) -> nn.Module:
    if norm != "spectral" or counting():
        return layer
    return nn.utils.parametrizations.spectral_norm(layer)


def _check_norm(norm: str) -> None:
    if norm not in D_NORMS:
        raise ValueError(f"unknown discriminator norm {norm!r}; choose one of {D_NORMS}")


# ----------------------------------------------------------------------------------------
# MLP


@_register("mlp_g")
class MLPGenerator(nn.Module):
    """z -> hidden layers (ReLU) -> data. Images get a tanh output reshaped to (C, H, W);
    2-D points a linear output, mapped to raw coordinates by ``data_mean + data_std * out``
    (so the network works at unit scale whatever the data's units)."""

    def __init__(
        self,
        latent_dim: int = 64,
        out_shape: tuple[int, ...] | list[int] = (2,),
        hidden: int = 256,
        layers: int = 3,
        batch_norm: bool = False,
        data_mean: list[float] | None = None,
        data_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.data_mean = list(data_mean) if data_mean else None
        self.data_std = float(data_std)
        self.latent_dim = latent_dim
        self.out_shape = tuple(out_shape)
        self.is_image = len(self.out_shape) == 3
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks.append(nn.Linear(width, hidden))
            if batch_norm:
                blocks.append(nn.BatchNorm1d(hidden))
            blocks.append(nn.ReLU(inplace=True))
            width = hidden
        blocks.append(nn.Linear(width, math.prod(self.out_shape)))
        if self.is_image:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z).view(z.shape[0], *self.out_shape)
        if self.data_mean is not None:
            x = torch.addcmul(x.new_tensor(self.data_mean), x, x.new_tensor(self.data_std))
        return x


@_register("mlp_d")
class MLPDiscriminator(nn.Module):
    """data -> hidden layers (LeakyReLU 0.2) -> one logit per sample.

    ``pack`` > 1 is PacGAN: the discriminator judges ``pack`` samples at once (concatenated),
    which lets it see a lack of diversity and so fights mode collapse. The batch size must be
    a multiple of ``pack``; the output has one score per pack.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...] | list[int] = (2,),
        hidden: int = 256,
        layers: int = 3,
        norm: str = "none",
        pack: int = 1,
        data_mean: list[float] | None = None,
        data_std: float = 1.0,
    ) -> None:
        super().__init__()
        _check_norm(norm)
        self.data_mean = list(data_mean) if data_mean else None
        self.data_std = float(data_std)
        self.in_shape = tuple(in_shape)
        self.pack = int(pack)
        width = math.prod(self.in_shape) * self.pack
        blocks: list[nn.Module] = []
        for _ in range(layers):
            blocks.append(_maybe_sn(nn.Linear(width, hidden), norm))
            if norm == "batch":
                blocks.append(nn.BatchNorm1d(hidden))
            elif norm == "layer":
                blocks.append(nn.LayerNorm(hidden))
            blocks.append(nn.LeakyReLU(0.2, inplace=True))
            width = hidden
        blocks.append(_maybe_sn(nn.Linear(width, 1), norm))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_mean is not None:
            x = (x - x.new_tensor(self.data_mean)) / self.data_std
        return self.net(x.reshape(x.shape[0] // self.pack, -1)).view(-1)


# ----------------------------------------------------------------------------------------
# DCGAN (Radford et al. 2015): transposed convolutions with batch norm and ReLU in G,
# strided convolutions with LeakyReLU(0.2) in D, no pooling, no fully connected hidden layers.


def _dcgan_plan(image_size: int, base: int) -> tuple[int, list[int]]:
    """Spatial size of the first feature map and the channel widths from there up."""
    if image_size == 64:
        return 4, [base * 8, base * 4, base * 2, base]  # 4 -> 8 -> 16 -> 32 -> 64
    if image_size == 32:
        return 4, [base * 4, base * 2, base]  # 4 -> 8 -> 16 -> 32
    if image_size == 28:
        return 7, [base * 2, base]  # 7 -> 14 -> 28
    raise ValueError(f"DCGAN supports image sizes {DCGAN_SIZES}, not {image_size}")


@_register("dcgan_g")
class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images; with ``classes`` > 0 also the class of each (a class
    embedding added to z, core.conditioning): ``forward(z, y)`` or ``forward(z,
    class_weights=w)``."""

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        base: int = 64,
        classes: int = 0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.classes = classes
        self.out_shape = (channels, image_size, image_size)
        self.is_image = True
        start, widths = _dcgan_plan(image_size, base)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for cin, cout in zip(widths, widths[1:]):
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        self.embed = ClassEmbedding(classes, latent_dim) if classes else None

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        class_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        z = condition_latent(self.embed, z.reshape(z.shape[0], self.latent_dim), y, class_weights)
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


@_register("dcgan_d")
class DCGANDiscriminator(nn.Module):
    """images -> one logit each; with ``classes`` > 0 ``forward(x, y)`` adds a projection
    head on the last features (Miyato & Koyama 2018, core.conditioning)."""

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        base: int = 64,
        norm: str = "batch",
        classes: int = 0,
    ) -> None:
        super().__init__()
        _check_norm(norm)
        self.classes = classes
        start, widths = _dcgan_plan(image_size, base)
        widths = widths[::-1]  # base, 2*base, ...
        # As in the paper, the first layer has no normalisation.
        layers: list[nn.Module] = [
            _maybe_sn(nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), norm),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for cin, cout in zip(widths, widths[1:]):
            layers += [
                _maybe_sn(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), norm),
                _d_norm_conv(norm, cout),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(_maybe_sn(nn.Conv2d(widths[-1], 1, start, 1, 0, bias=False), norm))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        self.embed = _maybe_sn(ClassEmbedding(classes, widths[-1], 0.02), norm) if classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is None and y is None:
            return self.net(x).view(-1)
        features = self.net[:-1](x)
        return self.net[-1](features).view(-1) + projection(self.embed, features, y, mean=True)


# ----------------------------------------------------------------------------------------
# FastGAN (Liu et al. 2021): skip-layer excitation in G, a self-supervised D that also
# reconstructs real pictures (core.fastgan, which imports nothing from here).

_REGISTRY.update({"fastgan_g": FastGANGenerator, "fastgan_d": FastGANDiscriminator})


# ----------------------------------------------------------------------------------------
# Architecture families: what the user picks (mlp, dcgan, fastgan) turned into a G/D spec pair.


def model_specs(
    arch: str,
    sample_shape: tuple[int, ...],
    latent_dim: int,
    width: int,
    depth: int,
    d_norm: str,
    pack: int = 1,
    data_mean: list[float] | None = None,
    data_std: float = 1.0,
    g_norm: str = "none",
    classes: int = 0,
) -> tuple[ModelSpec, ModelSpec]:
    """The generator and discriminator specs for an architecture and a data shape.

    ``width`` is the hidden size for MLPs and the base channel count for DCGAN and FastGAN;
    ``depth`` the number of hidden layers of an MLP (ignored by the convolutional networks,
    whose depth follows the image size).
    ``data_mean`` and ``data_std`` (2-D points) let the MLPs work at unit scale.
    ``classes`` > 0: class-conditional DCGAN or FastGAN networks (core.conditioning).
    """
    cond = {"classes": classes} if classes else {}
    if classes and arch not in ("dcgan", "fastgan"):
        raise ValueError("class-conditional training is available for DCGAN and FastGAN only")
    if arch == "mlp":
        scale = {"data_mean": data_mean, "data_std": data_std} if data_mean else {}
        g = ModelSpec(
            "mlp_g",
            {
                "latent_dim": latent_dim,
                "out_shape": list(sample_shape),
                "hidden": width,
                "layers": depth,
                "batch_norm": g_norm == "batch",
                **scale,
            },
        )
        d = ModelSpec(
            "mlp_d",
            {
                "in_shape": list(sample_shape),
                "hidden": width,
                "layers": depth,
                "norm": d_norm,
                "pack": pack,
                **scale,
            },
        )
        return g, d
    if arch == "dcgan":
        if len(sample_shape) != 3:
            raise ValueError("DCGAN needs an image dataset; use the MLP for 2-D points")
        c, h, w = sample_shape
        if h != w or h not in DCGAN_SIZES:
            raise ValueError(
                f"DCGAN supports square images of {', '.join(map(str, DCGAN_SIZES))} px, "
                f"this dataset has {h}x{w}"
            )
        if pack != 1:
            raise ValueError("packing (PacGAN) is only available for the MLP discriminator")
        g = ModelSpec(
            "dcgan_g",
            {"latent_dim": latent_dim, "image_size": h, "channels": c, "base": width, **cond},
        )
        d = ModelSpec(
            "dcgan_d",
            {"image_size": h, "channels": c, "base": width, "norm": d_norm, **cond},
        )
        return g, d
    if arch == "fastgan":
        if len(sample_shape) != 3:
            raise ValueError("FastGAN needs an image dataset; use the MLP for 2-D points")
        c, h, w = sample_shape
        if h != w or h not in FASTGAN_SIZES:
            raise ValueError(
                f"FastGAN supports square images of {', '.join(map(str, FASTGAN_SIZES))} px, "
                f"this dataset has {h}x{w}"
            )
        if pack != 1:
            raise ValueError("packing (PacGAN) is only available for the MLP discriminator")
        g = ModelSpec(
            "fastgan_g",
            {"latent_dim": latent_dim, "image_size": h, "channels": c, "base": width, **cond},
        )
        d = ModelSpec(
            "fastgan_d",
            {"image_size": h, "channels": c, "base": width, "norm": d_norm, **cond},
        )
        return g, d
    raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
