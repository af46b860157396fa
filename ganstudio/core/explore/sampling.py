"""Sampling a trained generator: seeded latents, batched generation, pictures of the result."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ganstudio.core.render import make_grid, scatter_image, to_uint8


def latents(seed: int, n: int, latent_dim: int) -> torch.Tensor:
    """n standard-normal latent vectors; the same seed always gives the same vectors."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, latent_dim, generator=g)


@torch.no_grad()
def generate(module: nn.Module, z: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Generator output (float, on the CPU) for latents z, in batches to bound memory."""
    device = next(module.parameters()).device
    return torch.cat([module(c.to(device)).float().cpu() for c in z.split(batch)])


def samples_array(out: torch.Tensor, is_image: bool) -> np.ndarray:
    """Raw samples as saved to .npy: float32 (N, 2) points or uint8 (N, H, W, C) images."""
    if is_image:
        return to_uint8(out).transpose(0, 2, 3, 1).copy()
    return out.numpy().astype(np.float32)


def picture(
    out: torch.Tensor,
    is_image: bool,
    rows: int,
    cols: int,
    modes: np.ndarray | None = None,
    upscale: int = 1,
) -> np.ndarray:
    """An image grid (image models) or a scatter plot (2-D models) as uint8 (H, W, 3)."""
    if is_image:
        return make_grid(to_uint8(out), rows, cols, upscale=upscale)
    return scatter_image(out.numpy(), size=512, modes=modes)
