"""What the training loop hands out: reports, previews, snapshots and the outcome.

All are frozen dataclasses of NumPy arrays and plain values, safe to pass to another thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganstudio.core.models import ModelSpec
from ganstudio.core.quality.coverage import Coverage

# Columns of the per-step statistics, in this order. g_grad and d_grad are the L2 norms of
# the gradients of all the network's weights (D: its last update of the step), before the
# optimiser step. Histories saved before they existed read back with NaN there.
STAT_NAMES = ("g_loss", "d_loss", "d_real", "d_fake", "g_grad", "d_grad")


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
    g_grad: np.ndarray  # gradient norm of G's weights
    d_grad: np.ndarray  # gradient norm of D's weights
    images_per_s: float  # real images through the discriminator per second
    steps_per_s: float
    elapsed: float  # seconds of training so far (paused time excluded)
    memory: int | None  # device bytes in use, when measurable
    lr_g: float
    lr_d: float
    d_steps: int
    # --augment auto: the probability of each DiffAugment operation now (else None)
    augment_p: float | None = None
    # A run with a time budget (--minutes): its seconds of training (else None)
    budget_seconds: float | None = None

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
    # Failed because the other processes of a torchrun job are gone: the weights are fine.
    lost_contact: bool = False

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass(frozen=True)
class Field2D:
    """The game on the plane (2-D datasets): what D thinks of every point and where G goes."""

    extent: tuple[float, float, float, float]  # x0, x1, y0, y1 of the heat map
    heat: np.ndarray  # float32 (H, W): D's output on a grid over extent, row 0 at y0
    real: np.ndarray  # float32 (M, 2): a real sample
    fake: np.ndarray  # float32 (N, 2): the current generator's points (fixed latents)
    # float32 (N, 2): -dL_G/dx at each generated point: the direction the generator's loss
    # pushes it (the generator's update moves its points this way, through its weights)
    push: np.ndarray
    manifold: np.ndarray  # float32 (R, C, 2): G of an R x C grid in a plane of latent space
    # int64 (K + 1,): generated points within mode_radius of each mode; last: of none
    mode_counts: np.ndarray
    mode_radius: float = 0.0  # what "on a mode" means: within this distance (3 sigma)


@dataclass(frozen=True)
class Probe:
    """What the discriminator makes of a real and a generated batch, at one moment.

    ``phase`` is "" between whole steps, "d" after the discriminator's half of a step and
    "g" after the generator's half (slow motion). The networks are the ones being trained
    (not the EMA generator); taking a probe changes no training state.
    """

    step: int
    phase: str
    probabilistic: bool  # D's outputs are probabilities (else critic scores)
    d_real: np.ndarray  # float32 (n,): D's output on each real sample (one per pack)
    d_fake: np.ndarray  # float32 (n,): on each generated sample
    # Images only: uint8 (k, C, H, W) real images D finds least real, generated images it
    # finds most real, and their outputs; empty for points.
    least_real: np.ndarray
    least_real_scores: np.ndarray
    most_real: np.ndarray
    most_real_scores: np.ndarray
    field: Field2D | None  # 2-D datasets only
