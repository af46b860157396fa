"""Watching a run for trouble the loss curves hide, and saying it in plain words.

Fed every Report; returns a TrainingWarning when a condition starts (each kind once, until it
has cleared). So far: a discriminator that wins outright. NaN losses already stop the run
(see Trainer.flush_report).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

# Steps a condition must hold (a window of per-step statistics) before it is reported.
WINDOW = 200
# D(x) at least this and D(G(z)) at most 1 - this, on average over the window: D wins.
D_WINS = 0.95


@dataclass(frozen=True)
class TrainingWarning:
    kind: str  # "d_wins"
    step: int
    message: str  # what is happening, in plain words
    advice: str  # what to try

    def text(self) -> str:
        return f"{self.message} {self.advice}"


class Diagnostics:
    """``probabilistic``: D's outputs are probabilities (minimax, non-saturating losses)."""

    def __init__(self, probabilistic: bool, window: int = WINDOW) -> None:
        self.probabilistic = probabilistic
        self.window = window
        self._real: deque[float] = deque(maxlen=window)
        self._fake: deque[float] = deque(maxlen=window)
        self.active: set[str] = set()

    def update(self, report) -> list[TrainingWarning]:
        """New warnings from one report (its per-step arrays)."""
        self._real.extend(np.asarray(report.d_real, np.float64).tolist())
        self._fake.extend(np.asarray(report.d_fake, np.float64).tolist())
        if not self.probabilistic or len(self._real) < self.window:
            return []
        real, fake = float(np.mean(self._real)), float(np.mean(self._fake))
        wins = real >= D_WINS and fake <= 1.0 - D_WINS
        if not wins:
            self.active.discard("d_wins")
            return []
        if "d_wins" in self.active:
            return []
        self.active.add("d_wins")
        return [
            TrainingWarning(
                "d_wins",
                int(report.step),
                f"The discriminator is winning outright: over the last {self.window} steps "
                f"D(x) averaged {real:.3f} and D(G(z)) {fake:.3f}, so it tells real from "
                "generated almost perfectly and the generator learns little from it (with the "
                "minimax loss, nearly nothing).",
                "Try a lower discriminator learning rate (half the generator's), the "
                "non-saturating or hinge loss, an R1 penalty (0.1 to 10), or DiffAugment when "
                "the dataset is small.",
            )
        ]
