"""Augmentations for small datasets.

Horizontal flips enlarge the real data (flip only what may be mirrored). DiffAugment (Zhao
et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training") transforms real
AND generated images the same random way before the discriminator sees them, with
operations the generator's gradient flows through, so D cannot simply memorise a small
dataset and G is not taught to produce augmented-looking images. This follows the paper's
reference implementation (colour, translation 1/8, cutout 1/2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _rand(x: torch.Tensor, g: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, dtype=x.dtype, device=x.device, generator=g)


def _color(x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    x = x + (_rand(x, g, 1, 1, 1) - 0.5)  # brightness
    if x.shape[1] > 1:  # saturation
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(x, g, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)  # contrast
    return (x - mean) * (_rand(x, g, 1, 1, 1) + 0.5) + mean


def _translation(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=g)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=g)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    gy = torch.clamp(gy.unsqueeze(0) + tx + 1, 0, h + 1)
    gx = torch.clamp(gx.unsqueeze(0) + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # shifted-in pixels are zeros (mid-grey in [-1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=g)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=g)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    # position inside the cut-out square (centred on the offset, cut off at the borders)
    in_y = gy.unsqueeze(0) - oy + ch // 2
    in_x = gx.unsqueeze(0) - ox + cw // 2
    keep = ~((in_y >= 0) & (in_y < ch) & (in_x >= 0) & (in_x < cw))
    return x * keep.unsqueeze(1).to(x.dtype)


_OPS: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def diff_augment(
    x: torch.Tensor, ops: tuple[str, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the DiffAugment operations in order; differentiable with respect to x."""
    for op in ops:
        x = _OPS[op](x, generator)
    return x.contiguous()
