"""Watching a run for trouble the loss curves hide, and saying it in plain words.

Fed every Report (and the quality measurements and mode coverage when there are some);
returns a TrainingWarning when a condition starts, each kind once until it has cleared.
Every warning says what is happening and what to try. The conditions:

- ``d_wins``: the discriminator wins outright, D(x) -> 1 and D(G(z)) -> 0 (probabilistic
  losses only: critic scores have no fixed scale).
- ``exploding``: a network's gradient norm jumped to many times its recent typical value, or
  stopped being a finite number. NaN losses stop the run itself (see Trainer.flush_report).
- ``diversity``: generated samples are far less varied than real ones in the same feature
  space (the quality monitor measures it), or a 2-D generator covers fewer modes than it did.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ganstudio.core.quality.coverage import Coverage
    from ganstudio.core.quality.monitor import Quality

# Steps a condition must hold (a window of per-step statistics) before it is reported.
WINDOW = 200
# D(x) at least this and D(G(z)) at most 1 - this, on average over the window: D wins.
D_WINS = 0.95
# Gradient norms: the median over the last GRAD_RECENT steps against the median over the
# GRAD_REFERENCE steps before them. Warn above GRAD_FACTOR times; clear below GRAD_CLEAR.
GRAD_RECENT = 50
GRAD_REFERENCE = 500
GRAD_FACTOR = 10.0
GRAD_CLEAR = 3.0
# Generated/real diversity in feature space below this: collapse; it clears above the second.
DIVERSITY_LOW = 0.5
DIVERSITY_CLEAR = 0.7
# 2-D mixtures: this many fewer modes captured than the best so far is a collapse, once it
# holds for MODES_PERSIST measurements in a row (one per preview, about every 1-2 s): early
# in a healthy run the coverage swings by several modes from one preview to the next (the
# default ring8 run went 5 -> 2 -> 6 -> 4 of 8 in its first 500 steps, then covered all 8).
MODES_LOST = 2
MODES_PERSIST = 5

COLLAPSE_ADVICE = (
    "Try the best checkpoint saved so far, lower learning rates, PacGAN (pack 2 to 4) for "
    "point sets, an R1 penalty, EMA, or DiffAugment for a small image set."
)


@dataclass(frozen=True)
class TrainingWarning:
    kind: str  # "d_wins" | "exploding" | "diversity"
    step: int
    message: str  # what is happening, in plain words
    advice: str  # what to try

    def text(self) -> str:
        return f"{self.message} {self.advice}"


class StepStats(Protocol):
    """What Diagnostics reads of a training Report (core.training.events): the step and the
    per-step mean D outputs; the gradient norms ``g_grad`` and ``d_grad`` when it has them."""

    @property
    def step(self) -> int: ...
    @property
    def d_real(self) -> npt.ArrayLike: ...
    @property
    def d_fake(self) -> npt.ArrayLike: ...


class Diagnostics:
    """``probabilistic``: D's outputs are probabilities (minimax, non-saturating losses)."""

    def __init__(self, probabilistic: bool, window: int = WINDOW) -> None:
        self.probabilistic = probabilistic
        self.window = window
        self._real: deque[float] = deque(maxlen=window)
        self._fake: deque[float] = deque(maxlen=window)
        self._grads: dict[str, deque[float]] = {
            name: deque(maxlen=GRAD_RECENT + GRAD_REFERENCE)
            for name in ("generator", "discriminator")
        }
        self._best_modes = 0
        self._modes_low = 0  # coverage measurements in a row with modes lost
        self._diverse_before = False
        self.active: set[str] = set()

    def _raise(self, kind: str, step: int, message: str, advice: str) -> list[TrainingWarning]:
        if kind in self.active:
            return []
        self.active.add(kind)
        return [TrainingWarning(kind, int(step), message, advice)]

    def update(self, report: StepStats) -> list[TrainingWarning]:
        """New warnings from one report (its per-step arrays)."""
        out = self._check_d_wins(report)
        g_grad, d_grad = getattr(report, "g_grad", None), getattr(report, "d_grad", None)
        if g_grad is not None and d_grad is not None:
            out += self._check_gradients(report.step, g_grad, d_grad)
        return out

    def _check_d_wins(self, report: StepStats) -> list[TrainingWarning]:
        self._real.extend(np.asarray(report.d_real, np.float64).tolist())
        self._fake.extend(np.asarray(report.d_fake, np.float64).tolist())
        if not self.probabilistic or len(self._real) < self.window:
            return []
        real, fake = float(np.mean(self._real)), float(np.mean(self._fake))
        if not (real >= D_WINS and fake <= 1.0 - D_WINS):
            self.active.discard("d_wins")
            return []
        return self._raise(
            "d_wins",
            report.step,
            f"The discriminator is winning outright: over the last {self.window} steps "
            f"D(x) averaged {real:.3f} and D(G(z)) {fake:.3f}, so it tells real from "
            "generated almost perfectly and the generator learns little from it (with the "
            "minimax loss, nearly nothing).",
            "Try a lower discriminator learning rate (half the generator's), the "
            "non-saturating or hinge loss, an R1 penalty (0.1 to 10), or DiffAugment when "
            "the dataset is small.",
        )

    def _check_gradients(
        self, step: int, g_grad: npt.ArrayLike, d_grad: npt.ArrayLike
    ) -> list[TrainingWarning]:
        worst: tuple[str, float, float] | None = None  # network, recent, reference
        calm = True
        for name, values in (("generator", g_grad), ("discriminator", d_grad)):
            history = self._grads[name]
            history.extend(np.asarray(values, np.float64).tolist())
            if len(history) < GRAD_RECENT + GRAD_REFERENCE // 2:
                continue
            arr = np.asarray(history)
            recent, before = arr[-GRAD_RECENT:], arr[:-GRAD_RECENT]
            reference = float(np.nanmedian(before)) if np.isfinite(before).any() else np.nan
            if not np.isfinite(recent).all():
                worst = worst or (name, float("inf"), reference)
                calm = False
                continue
            now = float(np.median(recent))
            if not (np.isfinite(reference) and reference > 0):
                continue
            if now > GRAD_FACTOR * reference:
                worst = worst or (name, now, reference)
            if now > GRAD_CLEAR * reference:
                calm = False
        if worst is None:
            if calm:
                self.active.discard("exploding")
            return []
        name, now, reference = worst
        what = (
            "is no longer a finite number"
            if not np.isfinite(now)
            else f"jumped to {now:.3g}, {now / reference:.0f} times its typical {reference:.3g}"
        )
        return self._raise(
            "exploding",
            step,
            f"Exploding gradients: the {name}'s gradient norm {what} over the last "
            f"{GRAD_RECENT} steps. Training is about to diverge or already swings wildly.",
            "Try lower learning rates (halve both), an R1 penalty or WGAN-GP instead of weight "
            "clipping, spectral norm in the discriminator, or a learning-rate schedule.",
        )

    def update_quality(self, quality: Quality) -> list[TrainingWarning]:
        """A Quality measurement: warns when diversity falls far below real data's."""
        diversity = getattr(quality, "diversity", None)
        if diversity is None or not np.isfinite(diversity):
            return []
        if diversity >= DIVERSITY_CLEAR:
            self.active.discard("diversity")
            self._diverse_before = True
        # A generator starts out collapsed (its first samples all look alike): only a fall
        # from healthy diversity is a warning.
        if diversity >= DIVERSITY_LOW or not self._diverse_before:
            return []
        return self._raise(
            "diversity",
            quality.step,
            f"Sample diversity is falling: generated samples are only {diversity:.0%} as "
            "varied as real ones in the same feature space. The generator is collapsing onto "
            "a few kinds of output (mode collapse).",
            COLLAPSE_ADVICE,
        )

    def update_coverage(self, step: int, coverage: Coverage | None) -> list[TrainingWarning]:
        """A 2-D mixture's mode coverage (a Coverage): warns when modes are lost."""
        if coverage is None:
            return []
        captured = int(coverage.modes_captured)
        self._best_modes = max(self._best_modes, captured)
        if captured > self._best_modes - MODES_LOST:
            self._modes_low = 0
            if captured >= self._best_modes:
                self.active.discard("diversity")
            return []
        self._modes_low += 1
        if self._modes_low < MODES_PERSIST:
            return []
        return self._raise(
            "diversity",
            step,
            f"Mode collapse: the generator covered {self._best_modes} of the "
            f"{coverage.n_modes} modes earlier and now covers {captured}.",
            COLLAPSE_ADVICE,
        )
