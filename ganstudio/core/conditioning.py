"""Class conditioning shared by the networks: a generator's class embedding, a
discriminator's projection head, and the one helper every caller of a generator uses.

Generator: a learned embedding of the class is added to the latent vector before the first
layer (for a linear first layer the same as concatenating a one-hot class, the original
conditional GAN's input). ``forward(z, y)`` takes class indices; ``forward(z,
class_weights=w)`` a mixture of classes (w (N, classes), rows summing to 1 for a blend
between classes at a fixed latent, as the explorer draws).

Discriminator: the projection head of Miyato & Koyama ("cGANs with Projection
Discriminator", 2018): logit = psi(phi(x)) + <embed(y), sum of phi(x) over space>.

A network with ``classes`` = 0 has neither and keeps ``forward(z)`` / ``forward(x)``.
PyTorch only: imported by core.fastgan and core.models.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_CLASSES = 1000  # the largest class count a network may be built for


def classes_of(module: nn.Module) -> int:
    """How many classes a network is conditioned on (0: unconditional)."""
    return int(getattr(module, "classes", 0) or 0)


class ClassEmbedding(nn.Module):
    """Class indices (or class mixtures) -> vectors of ``dim``, initialised N(0, ``std``)."""

    def __init__(self, classes: int, dim: int, std: float = 1.0) -> None:
        super().__init__()
        self.classes = classes
        self.weight = nn.Parameter(torch.randn(classes, dim) * std)

    def forward(
        self, y: torch.Tensor | None = None, class_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        if class_weights is not None:
            return class_weights.to(self.weight.dtype) @ self.weight
        if y is None:
            raise ValueError("a conditional network needs class indices y or class_weights")
        return self.weight[y]


def condition_latent(
    embed: ClassEmbedding | None,
    z: torch.Tensor,
    y: torch.Tensor | None,
    class_weights: torch.Tensor | None,
) -> torch.Tensor:
    """z with the class embedding added (z itself for an unconditional generator)."""
    if embed is None:
        if y is not None or class_weights is not None:
            raise ValueError("this generator is unconditional: it takes no classes")
        return z
    return z + embed(y, class_weights).to(z.dtype)


def projection(
    embed: nn.Module | None, features: torch.Tensor, y: torch.Tensor | None, mean: bool = False
) -> torch.Tensor | float:
    """The projection term <embed(y), features pooled over space> (N,), or 0 without classes.
    Summed over space (Miyato's), or averaged when ``mean``: DCGAN's and FastGAN's own logit
    is a spectrally normalised map of the whole feature map (or a mean of patch logits), and
    a summed projection outweighs it several times over (on digits, a DCGAN with it
    collapsed: FD 197 against 4.1 unconditional in `bench --images`)."""
    if embed is None:
        if y is not None:
            raise ValueError("this discriminator is unconditional: it takes no classes")
        return 0.0
    if y is None:
        raise ValueError("a conditional discriminator needs the class indices y")
    pooled = features
    if features.ndim > 2:
        pooled = features.flatten(2).mean(2) if mean else features.flatten(2).sum(2)
    return (embed(y).to(pooled.dtype) * pooled).sum(1)


def cycled_classes(n: int, classes: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Class indices 0, 1, ..., classes - 1, 0, 1, ... for n samples (int64)."""
    return torch.arange(n, device=device) % max(1, classes)


def run_generator(
    module: nn.Module,
    z: torch.Tensor,
    y: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The generator's output for z: what every caller outside the trainer's step uses.

    A conditional generator given no classes draws them cycled (0, 1, 2, ...), so a grid
    row by row shows every class; an unconditional one refuses classes (ValueError).
    """
    if classes_of(module) == 0:
        if y is not None or class_weights is not None:
            raise ValueError("this generator is unconditional: it takes no classes")
        return module(z)
    if class_weights is not None:
        return module(z, class_weights=class_weights.to(z.device))
    if y is None:
        y = cycled_classes(len(z), classes_of(module), z.device)
    return module(z, y.to(z.device))


def run_discriminator(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, **kwargs: object
) -> torch.Tensor:
    """D(x) or, for a conditional discriminator, D(x, y)."""
    if y is None:
        return module(x, **kwargs)
    return module(x, y, **kwargs)
