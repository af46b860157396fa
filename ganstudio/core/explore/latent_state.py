"""The explorer's current latent vector, as the sum of what the user set.

current = psi * (base + sum_i offset_i * e_i + sum_j amount_j * direction_j)

``base`` comes from a seed (or a loaded or clicked vector), the offsets move single latent
dimensions, the amounts move along principal directions (GANSpace), and psi is the
truncation. NumPy only: the window keeps one of these and renders ``current()``.
"""

from __future__ import annotations

import numpy as np


class LatentState:
    def __init__(self, dim: int) -> None:
        if dim < 1:
            raise ValueError("the latent size must be positive")
        self.dim = dim
        self.seed: int | None = 0
        self.base = np.zeros(dim, np.float32)
        self.offsets = np.zeros(dim, np.float32)  # per latent dimension
        self.directions = np.zeros((0, dim), np.float32)  # unit vectors (k, dim)
        self.amounts = np.zeros(0, np.float32)  # along each direction
        self.psi = 1.0

    def set_base(self, z: np.ndarray, seed: int | None = None) -> None:
        """A new starting vector; the slider offsets are kept (reset them to start over)."""
        z = np.asarray(z, np.float32).reshape(-1)
        if z.shape != (self.dim,) or not np.isfinite(z).all():
            raise ValueError(f"expected {self.dim} finite numbers, got shape {z.shape}")
        self.base = z.copy()
        self.seed = seed

    def set_directions(self, directions: np.ndarray) -> None:
        d = np.asarray(directions, np.float32).reshape(-1, self.dim)
        self.directions = d.copy()
        self.amounts = np.zeros(len(d), np.float32)

    def set_offset(self, index: int, value: float) -> None:
        self.offsets[index] = value

    def set_amount(self, index: int, value: float) -> None:
        self.amounts[index] = value

    def reset(self) -> None:
        """Every slider back to zero (the base vector and psi stay)."""
        self.offsets[:] = 0
        self.amounts[:] = 0

    def edited(self) -> np.ndarray:
        """The vector before truncation."""
        z = self.base + self.offsets
        if len(self.amounts):
            z = z + self.amounts @ self.directions
        return z.astype(np.float32)

    def current(self) -> np.ndarray:
        return (self.edited() * np.float32(self.psi)).astype(np.float32)

    def bake(self) -> None:
        """Make the edited vector the new base (its seed no longer describes it)."""
        self.base = self.edited()
        self.seed = None
        self.reset()
