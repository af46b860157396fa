"""What the training loop hands out: reports, previews, snapshots and the outcome.

All are frozen dataclasses of NumPy arrays and plain values, safe to pass to another thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganstudio.core.coverage import Coverage
from ganstudio.core.models import ModelSpec

# Columns of the per-step statistics, in this order.
STAT_NAMES = ("g_loss", "d_loss", "d_real", "d_fake")


@dataclass(frozen=True)
class Report:
    """Everything since the previous report. Arrays hold one entry per generator step."""

    step: int  # generator steps done
    total_steps: int
    steps: np.ndarray  # int64 step numbers (1-based) of the rows below
    g_loss: np.ndarray
    d_loss: np.ndarray
    d_real: np.ndarray  # mean D(x): a probability for minimax/non-saturating, else a score
    d_fake: np.ndarray  # mean D(G(z)), likewise
    images_per_s: float  # real images through the discriminator per second
    steps_per_s: float
    elapsed: float  # seconds of training so far (paused time excluded)
    memory: int | None  # device bytes in use, when measurable
    lr_g: float
    lr_d: float
    d_steps: int

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(getattr(self, k))) for k in STAT_NAMES if len(self.steps)}


@dataclass(frozen=True)
class Preview:
    """Samples of the (EMA) generator from fixed latents."""

    step: int
    version: int  # the Snapshot of the same version holds the weights that drew it
    grid: np.ndarray  # uint8 (H, W, 3): image grid, or empty for points
    samples: np.ndarray  # uint8 (N, C, H, W) images, or float32 (N, 2) points
    coverage: Coverage | None  # 2-D mixtures only


@dataclass(frozen=True)
class Snapshot:
    """A versioned copy of the sampling generator's weights, on the CPU."""

    version: int
    step: int
    spec: ModelSpec
    state: dict[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    status: str  # "completed" | "stopped" | "failed"
    message: str
    step: int

    @property
    def ok(self) -> bool:
        return self.status != "failed"
