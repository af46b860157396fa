"""FastGAN (Liu et al., ICLR 2021): a generator and discriminator that train from as few as
a hundred pictures, at 28 to 512 px.

Written from the paper ("Towards Faster and Stabilized GAN Training for High-fidelity
Few-shot Image Synthesis"); its two ideas are here, with these choices of ours:

- **Skip-layer excitation (SLE)** in the generator: the 4x4 / 8x8 / 16x16 / 32x32 features
  gate the channels of the 64 / 128 / 256 / 512 px features (a small feature map, pooled to
  4x4, becomes one sigmoid weight per channel of a map 16 times larger). The rule is the same
  at every size, so a 64 px generator has one SLE (4 -> 64), a 256 px one three.
  Below 64 px (our addition, for small datasets such as digits) the first features gate
  the last: 4 -> 32 at 32 px, 7 -> 28 at 28 px (the 7x7 map read by one 7x7 convolution).
- **A self-supervised discriminator**: two small decoders reconstruct the real picture from
  D's 8x8 features, and a random quarter of it from the matching quarter of D's 16x16
  features. The paper scores the reconstructions with LPIPS (a pretrained VGG); we cannot
  download one, so the loss is the mean absolute pixel difference (L1) against the real
  picture area-resized to the decoder's output (at most 128 px).

Left out of the authors' model: the generator's noise injection (a generator here maps a
latent to one picture: the explorer, the ONNX export and the quality measures rely on it),
and the discriminator's second input (the picture again at low resolution) and its own
skip-layer excitations. The generator's blocks have one convolution each.

Widths follow the paper's tables, scaled by ``base`` (the paper's ngf/ndf; base 64 gives its
widths) and capped at MAX_CHANNELS per layer. Generator channels per resolution:
4: 16b, 8: 8b, 16: 4b, 32: 2b, 64: 2b, 128: b, 256: b/2, 512: b/4. Discriminator: its
features at resolution r have 64b/r channels (8: 8b, 16: 4b ... 256: b/4, 512: b/8) and its
head 16b. The residual downsampling stops at 8x8 features.

28 px pictures (MNIST's size) follow the 32 px plan with every side times 7/8, as DCGAN's
28 px plan does (core.models): G starts at 7x7 (the 8x8 widths) and goes 7 -> 14 -> 28, D
goes 28 -> 14 -> 7 and its decoders start from 7x7 features. At 28 and 32 px the
decoders reconstruct the whole picture at its own size and the quarter at half of it.

The discriminator's ``norm`` uses the DCGAN vocabulary (core.choices.D_NORMS), but every
choice except "none" spectral-normalises the convolutions, as the paper does; ``norm`` then
names the normalisation of the features: "batch" (the paper's spectral + batch norm, the
default), "layer" (GroupNorm with one group), "spectral" (spectral norm alone, safe with
gradient penalties) or "none" (neither). The decoders always use batch norm: they see only
real pictures and never enter D's score, so they do not disturb a gradient penalty.

With ``classes`` > 0 both are class-conditional (core.conditioning): G adds a class
embedding to z, D adds a projection head on its head features; the reconstruction path is
unchanged.

PyTorch only (no import of core.models, which registers these networks).
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.core.choices import D_NORMS, FASTGAN_SIZES
from ganstudio.core.conditioning import ClassEmbedding, condition_latent, projection
from ganstudio.core.counting import counting

MAX_CHANNELS = 1024  # widest layer, whatever the base
RECON_SIZE = 128  # largest side of a reconstruction
_FEATURE_SIZE = 8  # D's last feature map, and where the whole-picture decoder starts
_SMALL = 28  # the one size whose plan is another's (32 px) times 7/8

# Channel multipliers of ``base`` per resolution (the paper's tables).
_G_WIDTHS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25}
_DECODER_WIDTHS = {16: 2, 32: 1, 64: 1, 128: 0.5}


def _width(base: int, multiplier: float) -> int:
    return max(1, min(MAX_CHANNELS, int(multiplier * base)))


def _d_width(base: int, resolution: int) -> int:
    return _width(base, 64 / resolution)


def _nominal(side: int, image_size: int) -> int:
    """The resolution of the width tables a feature map of ``side`` uses: its own, or at
    28 px that of the 32 px plan (7 -> 8, 14 -> 16, 28 -> 32)."""
    return side * 8 // 7 if image_size == _SMALL else side


def _g_start(image_size: int) -> int:
    """The side of G's first feature map: 4, or 7 at 28 px."""
    return 7 if image_size == _SMALL else 4


def _d_feature(image_size: int) -> int:
    """The side of D's last feature map: 8, or 7 at 28 px."""
    return 7 if image_size == _SMALL else _FEATURE_SIZE


def _check(image_size: int, channels: int, base: int) -> None:
    if image_size not in FASTGAN_SIZES:
        raise ValueError(f"FastGAN supports image sizes {FASTGAN_SIZES}, not {image_size}")
    if channels < 1 or base < 1:
        raise ValueError("FastGAN needs at least one channel and a base width of 1 or more")


_Layer = TypeVar("_Layer", bound=nn.Module)


def _init(layer: _Layer) -> _Layer:
    """The DCGAN initialisation: weights N(0, 0.02), norm scales N(1, 0.02), biases 0;
    nothing on the meta device (see core.models.dcgan_init)."""
    if layer.weight.is_meta:
        return layer
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(layer.weight, 0.0, 0.02)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    elif isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(layer.weight, 1.0, 0.02)
        nn.init.zeros_(layer.bias)
    return layer


class SpectralNorm(nn.Module):
    """A convolution's weight divided by its largest singular value, estimated by power
    iteration (one step per training forward): the algorithm, buffers and state-dict names
    of torch.nn.utils.parametrizations.spectral_norm. Unlike it, the 15 warm-up iterations
    are skipped on the meta device, where core.models counts the weights of a network: there
    they cost about 25 ms per layer and mean nothing."""

    _u: torch.Tensor  # estimates of the top left and right singular vectors (buffers)
    _v: torch.Tensor

    def __init__(self, weight: torch.Tensor, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps
        h, w = weight.flatten(1).shape
        self.register_buffer("_u", F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps))
        self.register_buffer("_v", F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps))
        if not weight.is_meta:
            self._power_method(weight.flatten(1), 15)

    @torch.no_grad()
    def _power_method(self, matrix: torch.Tensor, iterations: int) -> None:
        for _ in range(iterations):
            # In place (out=): the estimates are buffers that DDP broadcasts and checkpoints keep.
            F.normalize(torch.mv(matrix, self._v), dim=0, eps=self.eps, out=self._u)
            F.normalize(torch.mv(matrix.H, self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = weight.flatten(1)
        if self.training:
            self._power_method(matrix, 1)
        # Copies: the in-place updates above must not change what autograd saved.
        u = self._u.clone(memory_format=torch.contiguous_format)
        v = self._v.clone(memory_format=torch.contiguous_format)
        return weight / torch.vdot(u, torch.mv(matrix, v))

    def right_inverse(self, value: torch.Tensor) -> torch.Tensor:
        return value


def _conv(
    cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, sn: bool = False
) -> nn.Module:
    """A bias-free convolution, initialised, then spectral-normalised when ``sn``."""
    conv = _init(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False))
    if sn and not counting():  # (spectral norm adds no weights)
        nn.utils.parametrize.register_parametrization(conv, "weight", SpectralNorm(conv.weight))
    return conv


def _batch_norm(channels: int) -> nn.Module:
    return _init(nn.BatchNorm2d(channels))


class GLU(nn.Module):
    """Gated linear unit over channels: the first half times the sigmoid of the second."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


def _up_block(cin: int, cout: int) -> nn.Sequential:
    """Twice the resolution: nearest upsampling, 3x3 conv, batch norm, GLU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        _conv(cin, 2 * cout, 3, padding=1),
        _batch_norm(2 * cout),
        GLU(),
    )


class SkipExcitation(nn.Module):
    """SLE: a small feature map (side ``small_size``) becomes one weight in (0, 1) per
    channel of a large one, which it multiplies. A map of 4 * 2^k is pooled to 4x4 and read
    by a 4x4 convolution (the paper's); any other (7x7 at 28 px) by one convolution of its
    own size."""

    def __init__(self, small_size: int, small_channels: int, big_channels: int) -> None:
        super().__init__()
        # A fixed pooling (not adaptive): the sizes are known, and it exports to ONNX.
        pool = small_size // 4 if small_size % 4 == 0 else 1
        kernel = small_size // pool
        self.net = nn.Sequential(
            nn.AvgPool2d(pool) if pool > 1 else nn.Identity(),
            _init(nn.Conv2d(small_channels, big_channels, kernel, bias=False)),
            nn.SiLU(),
            _init(nn.Conv2d(big_channels, big_channels, 1, bias=False)),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.net(small)


class FastGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]; with
    ``classes`` > 0, ``forward(z, y)`` or ``forward(z, class_weights=w)``."""

    def __init__(
        self,
        latent_dim: int = 256,
        image_size: int = 256,
        channels: int = 3,
        base: int = 64,
        classes: int = 0,
    ) -> None:
        super().__init__()
        _check(image_size, channels, base)
        self.latent_dim = latent_dim
        self.classes = classes
        self.out_shape = (channels, image_size, image_size)
        self.is_image = True
        self.start = start = _g_start(image_size)
        sides = [start << i for i in range(int(math.log2(image_size // start)) + 1)]
        width = {r: _width(base, _G_WIDTHS[_nominal(r, image_size)]) for r in sides}
        # The first block, 1x1 -> 4x4 or 7x7 (core.explore.latent takes GANSpace features
        # after it).
        self.head = nn.Sequential(
            _init(nn.ConvTranspose2d(latent_dim, 2 * width[start], start, 1, 0, bias=False)),
            _batch_norm(2 * width[start]),
            GLU(),
        )
        sizes = sides[1:]
        self.sizes = sizes
        self.ups = nn.ModuleList(_up_block(width[r // 2], width[r]) for r in sizes)
        # SLE: the features at r / 16 gate those at r, from 64 px on; below, the first
        # features gate the last (4 -> 32, 7 -> 28).
        if image_size >= 64:
            self.gated = [r for r in sizes if r >= 64]
            self.sources = [r // 16 for r in self.gated]
        else:
            self.gated, self.sources = [image_size], [start]
        self.excite = nn.ModuleList(
            SkipExcitation(s, width[s], width[r]) for s, r in zip(self.sources, self.gated)
        )
        self.to_image = nn.Sequential(_conv(width[image_size], channels, 3, padding=1), nn.Tanh())
        self.embed = ClassEmbedding(classes, latent_dim) if classes else None

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor | None = None,
        class_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        z = condition_latent(self.embed, z.reshape(z.shape[0], self.latent_dim), y, class_weights)
        x = self.head(z.reshape(z.shape[0], self.latent_dim, 1, 1))
        source_of = dict(zip(self.gated, self.sources))
        sources = set(self.sources)
        kept = {self.start: x} if self.start in sources else {}
        excite = iter(self.excite)
        for size, up in zip(self.sizes, self.ups):
            x = up(x)
            if size in source_of:
                x = next(excite)(kept.pop(source_of[size]), x)
            if size in sources:
                kept[size] = x
        return self.to_image(x)


class _DownBlock(nn.Module):
    """Half the resolution, residual: (strided 4x4 conv, norm, LReLU, 3x3 conv, norm, LReLU)
    averaged with (2x2 average pool, 1x1 conv, norm, LReLU)."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__()
        sn = norm != "none"
        self.main = nn.Sequential(
            _conv(cin, cout, 4, 2, 1, sn=sn),
            _feature_norm(norm, cout),
            nn.LeakyReLU(0.2),
            _conv(cout, cout, 3, 1, 1, sn=sn),
            _feature_norm(norm, cout),
            nn.LeakyReLU(0.2),
        )
        self.skip = nn.Sequential(
            nn.AvgPool2d(2),
            _conv(cin, cout, 1, sn=sn),
            _feature_norm(norm, cout),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) * 0.5


def _feature_norm(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return _batch_norm(channels)
    if norm == "layer":
        return _init(nn.GroupNorm(1, channels))
    return nn.Identity()


class Decoder(nn.Module):
    """Features at 8x8 (7x7 at 28 px: ``start``) -> a picture of side ``out_size`` (16 to
    128; 14 or 28 from 7x7) in [-1, 1]."""

    def __init__(
        self, cin: int, channels: int, base: int, out_size: int, start: int = _FEATURE_SIZE
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        size, width = start, cin
        while size < out_size:
            size *= 2
            multiplier = _DECODER_WIDTHS[size * _FEATURE_SIZE // start]
            blocks.append(_up_block(width, _width(base, multiplier)))
            width = _width(base, multiplier)
        blocks += [_conv(width, channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def quarters(x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Quarter ``which[i]`` (0 top left, 1 top right, 2 bottom left, 3 bottom right) of each
    sample i of x (N, C, H, W): (N, C, H/2, W/2). Views and one gather: no host sync."""
    n, _, h, w = x.shape
    parts = x.unflatten(2, (2, h // 2)).unflatten(4, (2, w // 2)).permute(0, 2, 4, 1, 3, 5)
    rows = torch.arange(n, device=x.device)
    return parts[rows, which // 2, which % 2]


def _l1_to(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference to ``target`` area-resized to the reconstruction's size."""
    size = reconstruction.shape[-1]
    if target.shape[-1] != size:
        target = F.interpolate(target, size=(size, size), mode="area")
    return (reconstruction.float() - target.float()).abs().mean()


class FastGANDiscriminator(nn.Module):
    """images (N, channels, image_size, image_size) -> one logit per image (N,).

    ``D(x, recon=True, generator=g)`` also returns the reconstruction loss of x (a scalar),
    the quarter to reconstruct drawn per image from ``g``. With ``classes`` > 0, ``D(x, y)``.
    """

    reconstructs = True  # the trainer adds the reconstruction loss on real pictures

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        base: int = 64,
        norm: str = "batch",
        classes: int = 0,
    ) -> None:
        super().__init__()
        self.classes = classes
        _check(image_size, channels, base)
        if norm not in D_NORMS:
            raise ValueError(f"unknown discriminator norm {norm!r}; choose one of {D_NORMS}")
        sn = norm != "none"
        feature = _d_feature(image_size)
        widths = {
            r: _d_width(base, _nominal(r, image_size))
            for r in (image_size >> i for i in range(int(math.log2(image_size // feature)) + 1))
        }  # image_size ... 8 (or 7)
        self.stem = nn.Sequential(
            _conv(channels, widths[image_size], 3, 1, 1, sn=sn), nn.LeakyReLU(0.2)
        )
        self.downs = nn.ModuleList(
            _DownBlock(widths[r], widths[r // 2], norm) for r in list(widths)[:-1]
        )
        c8, c16, head = _d_width(base, 8), _d_width(base, 16), _width(base, 16)
        self.logits = nn.Sequential(
            _conv(c8, head, 1, sn=sn),
            _feature_norm(norm, head),
            nn.LeakyReLU(0.2),
            _conv(head, 1, 4, sn=sn),  # 8x8 -> 5x5 (7x7 -> 4x4) patch logits, averaged
        )
        self.whole = Decoder(c8, channels, base, min(RECON_SIZE, image_size), feature)
        self.quarter = Decoder(c16, channels, base, min(RECON_SIZE, image_size // 2), feature)
        self.embed: nn.Module | None = None
        if classes:
            self.embed = ClassEmbedding(classes, head, 0.02)
            if sn:
                nn.utils.parametrize.register_parametrization(
                    self.embed, "weight", SpectralNorm(self.embed.weight)
                )

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        recon: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        f = f16 = self.stem(x)
        for down in self.downs:
            f16 = f
            f = down(f)
        if self.embed is None and y is None:
            logits = self.logits(f).flatten(1).mean(1)
        else:  # the projection head reads the head's features (before the patch logits)
            h = self.logits[:3](f)
            logits = self.logits[3](h).flatten(1).mean(1) + projection(self.embed, h, y, mean=True)
        if not recon:
            return logits
        n = x.shape[0]
        which = torch.randint(0, 4, (n,), generator=generator, device=x.device)
        real = x.detach()
        loss = _l1_to(self.whole(f), real) + _l1_to(
            self.quarter(quarters(f16, which)), quarters(real, which)
        )
        return logits, loss
