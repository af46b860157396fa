"""Sampling a trained generator: seeded latents, batched generation, pictures of the result,
and a generator made ready to render from a model file or a training snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ganstudio.core.conditioning import classes_of, run_generator
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.models import ModelSpec, build
from ganstudio.core.render import make_grid, scatter_image, to_uint8

RENDER_BATCH = 256  # latents per forward pass: bounds memory, fixed so results repeat exactly


def latents(seed: int, n: int, latent_dim: int) -> torch.Tensor:
    """n standard-normal latent vectors; the same seed always gives the same vectors."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, latent_dim, generator=g)


@torch.no_grad()
def generate(
    module: nn.Module,
    z: torch.Tensor,
    batch: int = 256,
    classes: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generator output (float, on the CPU) for latents z, in batches to bound memory.

    A conditional generator draws the classes ``classes`` (int64 (n,)) or the mixtures
    ``class_weights`` (n, classes); given neither, classes cycled 0, 1, 2, ... (see
    core.conditioning.run_generator). An unconditional one refuses both (ValueError).
    """
    device = next(module.parameters()).device
    chunks = z.split(batch)
    ys = [None] * len(chunks) if classes is None else classes.split(batch)
    ws = [None] * len(chunks) if class_weights is None else class_weights.split(batch)
    if classes is None and class_weights is None and classes_of(module):
        ys = list(cycled(len(z), classes_of(module)).split(batch))
    return torch.cat(
        [
            run_generator(
                module,
                c.to(device),
                None if y is None else y.to(device),
                None if w is None else w.float().to(device),
            )
            .float()
            .cpu()
            for c, y, w in zip(chunks, ys, ws)
        ]
    )


def cycled(n: int, classes: int) -> torch.Tensor:
    """Class indices 0, 1, ..., classes - 1, 0, 1, ... for n samples (int64)."""
    return torch.arange(n) % max(1, classes)


def class_rows(rows: int, cols: int, classes: Sequence[int]) -> torch.Tensor:
    """The classes of a grid of ``rows`` x ``cols`` with one row per class (``classes``
    cycled over the rows), row by row (int64 (rows * cols,))."""
    per_row = torch.tensor([classes[r % len(classes)] for r in range(rows)], dtype=torch.int64)
    return per_row.repeat_interleave(cols)


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


class GeneratorWeights(Protocol):
    """A copy of a generator's weights as NumPy arrays (a training Snapshot is one)."""

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def state(self) -> Mapping[str, np.ndarray]: ...


@dataclass(frozen=True, eq=False)
class Sampler:
    """A generator in eval mode and whether it makes pictures (else 2-D points)."""

    module: nn.Module
    is_image: bool

    @property
    def classes(self) -> int:
        """How many classes the generator is conditioned on (0: unconditional)."""
        return classes_of(self.module)

    def render(
        self,
        z: np.ndarray,
        classes: np.ndarray | None = None,
        class_weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(images, points) for latents z (n, D) float32: uint8 (n, C, H, W) images and no
        points for an image model, else no images and float32 (n, 2) points. Batched as
        core.explore.exports renders, so the window's pictures equal the command line's.
        A conditional model draws ``classes`` (int (n,)) or mixtures ``class_weights`` (n,
        classes)."""
        out = generate(
            self.module,
            torch.from_numpy(z),
            batch=RENDER_BATCH,
            classes=None if classes is None else torch.as_tensor(classes, dtype=torch.int64),
            class_weights=None if class_weights is None else torch.as_tensor(class_weights),
        )
        if self.is_image:
            return to_uint8(out), None
        return None, out.float().numpy()


def sampler_for(source: GeneratorFile | GeneratorWeights) -> Sampler:
    """A Sampler from an opened model file (its own module) or a weights copy (rebuilt)."""
    if isinstance(source, GeneratorFile):
        return Sampler(source.module.eval(), source.is_image)
    module = build(source.spec)
    state = module.state_dict()
    for key, value in source.state.items():
        state[key] = torch.from_numpy(value).to(state[key].dtype)
    module.load_state_dict(state)
    module.eval().requires_grad_(False)
    return Sampler(module, bool(getattr(module, "is_image", True)))
