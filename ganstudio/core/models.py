"""Generators and discriminators: MLP (2-D points and small images) and DCGAN (28, 32, 64 px).

Every network is rebuilt from a ``ModelSpec`` (a name plus keyword arguments), so a model
file can say exactly what it contains and be opened without running code from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import nn

from ganstudio.core.choices import ARCHITECTURES, D_NORMS, DCGAN_SIZES  # noqa: E402,F401


@dataclass(frozen=True)
class ModelSpec:
    """A network described by data: ``build(spec)`` recreates it."""

    name: str
    kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "kwargs": dict(self.kwargs)}

    @staticmethod
    def from_dict(d: dict) -> ModelSpec:
        return ModelSpec(str(d["name"]), dict(d.get("kwargs", {})))


_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


_Net = TypeVar("_Net", bound=type[nn.Module])


def _register(name: str) -> Callable[[_Net], _Net]:
    def deco(cls: _Net) -> _Net:
        _REGISTRY[name] = cls
        return cls

    return deco


def build(spec: ModelSpec) -> nn.Module:
    """Instantiate the network a spec describes."""
    if spec.name not in _REGISTRY:
        raise ValueError(f"unknown network {spec.name!r}; known: {', '.join(sorted(_REGISTRY))}")
    try:
        return _REGISTRY[spec.name](**spec.kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for network {spec.name!r}: {exc}") from None


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv/linear weights N(0, 0.02), norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
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
    return nn.utils.parametrizations.spectral_norm(layer) if norm == "spectral" else layer


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
    def __init__(
        self, latent_dim: int = 100, image_size: int = 64, channels: int = 3, base: int = 64
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


@_register("dcgan_d")
class DCGANDiscriminator(nn.Module):
    def __init__(
        self, image_size: int = 64, channels: int = 3, base: int = 64, norm: str = "batch"
    ) -> None:
        super().__init__()
        _check_norm(norm)
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


# ----------------------------------------------------------------------------------------
# Architecture families: what the user picks ("mlp" or "dcgan") turned into a G/D spec pair.


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
) -> tuple[ModelSpec, ModelSpec]:
    """The generator and discriminator specs for an architecture and a data shape.

    ``width`` is the hidden size for MLPs and the base channel count for DCGAN; ``depth`` the
    number of hidden layers of an MLP (ignored by DCGAN, whose depth follows the image size).
    ``data_mean`` and ``data_std`` (2-D points) let the MLPs work at unit scale.
    """
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
            "dcgan_g", {"latent_dim": latent_dim, "image_size": h, "channels": c, "base": width}
        )
        d = ModelSpec("dcgan_d", {"image_size": h, "channels": c, "base": width, "norm": d_norm})
        return g, d
    raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
