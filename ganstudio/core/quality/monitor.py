"""Sample-quality metrics measured in the background of a training run, within a time budget.

``QualityMonitor`` is a trainer task (``run_training(trainer, tasks=(monitor,))``): between steps it
does one small piece of work and then waits, so that all its work together takes at most
``budget`` (5%) of the run's wall time, and evaluations come at most every ``interval``
seconds. Its pieces, in order:

1. the feature extractor: the dataset's cached one, or trained here a slice at a time (for
   2-D point sets the points themselves are the features: nothing to train), then cached;
   before its first slice, one piece times the metrics on made-up features, so that the
   work left (``Quality.work_left``) counts them before there are real features to time;
2. the real features and the floor (two halves of the real data against each other);
3. from then on, evaluations: ``n`` samples of the sampling generator (EMA when there is
   one) from fixed latents, compared with the real half (Frechet distance, KID, precision,
   recall, the classifier score and diversity; see core.quality.evaluation).

Each piece ends with a ``Quality`` event for ``on_quality``. When the run ends, ``final`` does
whatever is left of 1 and 2 at once and measures the generator the run leaves (``final=True``),
however short the run was. Nothing here touches the
training's random state: the latents come from the monitor's own generator, and PyTorch's
global generator is forked around the work. A failure turns metrics off for the run (an
"off" event says why) and never stops training.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ganstudio.core.render import to_uint8

if TYPE_CHECKING:
    from ganstudio.core.config import TrainConfig
    from ganstudio.core.data.dataset import Dataset, DatasetInfo
    from ganstudio.core.quality.evaluation import ComparisonCost, Evaluator, QualityMetrics
    from ganstudio.core.quality.features import ExtractorTraining, FeatureExtractor

log = logging.getLogger(__name__)

BUDGET = 0.05  # largest share of wall time the monitor may take
INTERVAL = 120.0  # seconds between evaluations (at least)
SAMPLES = 1000  # generated samples per evaluation (and real ones in each half)
SLICE = 0.25  # seconds of extractor training per piece of work
UNKNOWN_PIECE = 1.0  # what a piece is taken to cost before any of its kind was measured
METRIC_KEYS = ("fd", "kid", "precision", "recall", "score")


@dataclass(frozen=True)
class Quality:
    """Sample-quality metrics measured during training (see core.quality.monitor), or their state.

    ``status``: "preparing" (the feature extractor is being trained: ``progress``),
    "ready" (``metrics`` at ``step``), or "off" (``message`` says why).
    Metric names: fd, kid, precision, recall, and score when the data has classes; the
    ``floor`` holds the same metrics between two halves of the real data (what "as good as
    real data" reads at this sample size). ``diversity``: spread of generated samples over
    that of real ones in the same feature space (1 = as diverse; near 0 = collapse).
    """

    step: int
    status: str
    progress: float = 0.0
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    diversity: float | None = None
    seconds: float = 0.0  # what the evaluation cost
    final: bool = False  # the measurement of the generator a run ended with
    # Seconds of the monitor's own work before a measurement is in hand, that measurement
    # included, at the speed measured so far (preparing: the extractor's training and the
    # real features left; ready: what this evaluation cost); None: not known yet.
    work_left: float | None = None

    def seconds_at_end(self, training_left: float, budget: float = BUDGET) -> float:
        """How long the final measurement will take once training ends ``training_left``
        seconds from now, if the monitor goes on taking ``budget`` of the time until then:
        a ready monitor measures once more, a preparing one does what the time till then
        leaves of its work (``math.inf`` while that is not known yet). 0 when metrics are
        off."""
        if self.status == "ready":
            return self.seconds
        if self.status != "preparing":
            return 0.0
        if self.work_left is None:
            return math.inf
        return max(0.0, self.work_left - budget * max(0.0, training_left))


class MonitoredTrainer(Protocol):
    """What the monitor reads of the trainer it runs in (a core.training Trainer)."""

    @property
    def step(self) -> int: ...
    @property
    def data(self) -> Dataset: ...
    @property
    def device(self) -> torch.device: ...
    @property
    def config(self) -> TrainConfig: ...
    @property
    def info(self) -> DatasetInfo: ...
    def sample(self, z: torch.Tensor) -> torch.Tensor: ...


def _numbers(metrics: QualityMetrics | dict[str, float | None]) -> dict[str, float]:
    values = asdict(metrics) if not isinstance(metrics, dict) else dict(metrics)
    return {k: float(v) for k in METRIC_KEYS if (v := values.get(k)) is not None}


class QualityMonitor:
    """A trainer task that measures sample quality (see the module docstring)."""

    def __init__(
        self,
        on_quality: Callable[[Quality], None],
        interval: float = INTERVAL,
        budget: float = BUDGET,
        samples: int = SAMPLES,
        use_cache: bool = True,
        seed: int = 0,
        extractor_steps: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.on_quality = on_quality
        self.interval = float(interval)
        self.budget = float(budget)
        self.samples = int(samples)
        self.use_cache = use_cache
        self.seed = seed
        self.extractor_steps = extractor_steps  # None: the extractor's default
        self.clock = clock
        self.state = "start"  # start | training | real | ready | off
        self.spent = 0.0  # seconds of work so far
        self.started_at: float | None = None
        self.evaluations = 0
        self._next = 0.0
        self._training: ExtractorTraining | None = None
        self._extractor: FeatureExtractor | None = None
        self._evaluator: Evaluator | None = None
        self._z: torch.Tensor | None = None
        self._last: Quality | None = None  # the last evaluation's event
        self._per_sample: float | None = None  # embedding cost, when trained here
        # The metrics' own cost, timed on made-up features when the extractor is trained
        # here (its work left is estimated before there are real features to time).
        self._comparison: ComparisonCost | None = None
        self._sampling: float | None = None  # seconds to generate an evaluation's samples

    # ------------------------------------------------------------------------------
    def __call__(self, trainer: MonitoredTrainer) -> None:
        now = self.clock()
        if self.started_at is None:
            self.started_at = now
        if self.state == "off" or now < self._next:
            return
        evaluated = False
        try:
            with torch.random.fork_rng(devices=[]):
                evaluated = self._work(trainer)
        except Exception as exc:  # metrics must never stop training
            log.warning("quality metrics turned off", exc_info=True)
            self.state = "off"
            self.on_quality(Quality(trainer.step, "off", message=f"quality metrics are off: {exc}"))
        done = self.clock()
        cost = done - now
        self.spent += cost
        wait = cost / self.budget - cost
        if evaluated:
            wait = max(wait, self.interval - cost)
        self._next = done + wait

    def upcoming(self) -> float:
        """Seconds the next call will take: 0 when nothing is due, else the next piece's
        cost as measured (a slice of extractor training; the real features at the measured
        cost per sample and of a comparison; the last evaluation, or the first one's
        estimate), or UNKNOWN_PIECE before it can be known (the piece that times the
        metrics included).
        The training loop sends a preview due within that time before the call."""
        if self.state == "off" or self.clock() < self._next:
            return 0.0
        if self.state == "start":
            return SLICE
        if self.state == "training":
            return SLICE if self._comparison is not None else UNKNOWN_PIECE
        if self.state == "real":
            if self._per_sample is None:
                return UNKNOWN_PIECE
            extra = 0.0 if (c := self._comparison) is None else c.spread + c.compare
            return self._per_sample * 2 * self.samples + extra
        if self._last is not None:
            return self._last.seconds
        estimate = self._evaluation_estimate()
        return UNKNOWN_PIECE if estimate is None else estimate

    def final(self, trainer: MonitoredTrainer, cancelled: Callable[[], bool] = bool) -> bool:
        """Measure the generator as the run leaves it: first whatever the budget had not yet
        allowed (the feature extractor, the real data), a slice at a time with "preparing"
        events, until ``cancelled()`` says to give up. When the last evaluation was of this
        very step, that one is sent again marked final (the generator has not changed since);
        nothing happens when metrics are off or the final measurement was sent already. True
        when a final measurement was sent."""
        if self.state == "off" or (self._last is not None and self._last.final):
            return False
        if self._last is not None and self._last.step == trainer.step:
            self._last = replace(self._last, final=True)
            self.on_quality(self._last)
            return True
        try:
            with torch.random.fork_rng(devices=[]):
                while self.state != "ready":
                    if cancelled():
                        return False
                    self._work(trainer)
                self._work(trainer, final=True)
        except Exception as exc:
            log.warning("the final quality measurement failed", exc_info=True)
            self.state = "off"
            self.on_quality(Quality(trainer.step, "off", message=f"quality metrics are off: {exc}"))
            return False
        return True

    def share(self) -> float:
        """The share of wall time the monitor has taken so far."""
        if self.started_at is None:
            return 0.0
        return self.spent / max(self.clock() - self.started_at, 1e-9)

    # ------------------------------------------------------------------------------
    def _work(self, trainer: MonitoredTrainer, final: bool = False) -> bool:
        """One piece of work. True when it was an evaluation."""
        from ganstudio.core.quality import features

        if self.state == "start":
            dataset = trainer.data
            training = self._training = features.ExtractorTraining(
                dataset, trainer.device, seed=self.seed, steps=self.extractor_steps
            )
            cached = (
                features.cached_extractor(dataset, training, trainer.device)
                if self.use_cache and not training.done
                else None
            )
            self._extractor = cached or (training.result() if training.done else None)
            self.state = "real" if self._extractor is not None else "training"
            self._emit_preparing(trainer)
            return False
        if self.state == "training":
            assert self._training is not None  # made in the "start" state
            if self._comparison is None:  # a piece of its own, before the first slice
                from ganstudio.core.quality.evaluation import comparison_cost

                n = min(self.samples, len(trainer.data) // 2)
                self._comparison = comparison_cost(n, features.DIM, seed=self.seed)
                self._sampling = self._time_sampling(trainer, n)
                self._emit_preparing(trainer)
                return False
            finished = self._training.run_for(SLICE)
            self._per_sample = self._training.seconds_per_sample()  # as measured so far
            if finished:
                extractor = self._extractor = self._training.result()
                log.info("feature extractor trained: %s", extractor.describe())
                if self.use_cache:
                    features.store_extractor(extractor, trainer.data)
                self.state = "real"
            self._emit_preparing(trainer)
            return False
        assert self._extractor is not None  # the states from "real" on have one
        if self.state == "real":
            from ganstudio.core.quality.evaluation import Evaluator

            self._evaluator = Evaluator(
                self._extractor, trainer.data, n=self.samples, seed=self.seed
            )
            gen = torch.Generator().manual_seed(self.seed + 17)
            n = self._evaluator.n
            latent_dim = trainer.config.latent_dim
            assert latent_dim is not None  # a trainer's config is resolved
            self._z = torch.randn(n, latent_dim, generator=gen)
            if self._sampling is None:
                self._sampling = self._time_sampling(trainer, n)
            self.state = "ready"
            self._emit_preparing(trainer)
            return False
        # ready: an evaluation
        assert self._evaluator is not None and self._z is not None  # made in the "real" state
        t0 = self.clock()
        out = trainer.sample(self._z)
        samples = to_uint8(out) if trainer.info.is_image else out.cpu().numpy().astype(np.float32)
        ev = self._evaluator.evaluate(samples)
        seconds = self.clock() - t0
        self.evaluations += 1
        self._last = Quality(
            trainer.step,
            "ready",
            progress=1.0,
            message=self._extractor.describe(),
            metrics=_numbers(ev.metrics),
            floor=_numbers(ev.floor),
            diversity=None if ev.diversity is None else float(ev.diversity),
            seconds=seconds,
            final=final,
            work_left=seconds,
        )
        self.on_quality(self._last)
        return True

    def _emit_preparing(self, trainer: MonitoredTrainer) -> None:
        if self.state == "training" and self._training is not None:
            progress = float(self._training.progress)
            message = f"training a feature extractor on this dataset ({progress:.0%})"
        else:
            progress = 1.0
            message = (
                "measuring the real data"
                if self.state == "real"
                else "ready: the first measurement comes next"
            )
        self.on_quality(
            Quality(
                trainer.step,
                "preparing",
                progress=progress,
                message=message,
                work_left=self._work_left(len(trainer.data)),
            )
        )

    def _work_left(self, count: int) -> float | None:
        """Seconds of work before the first measurement is in hand (see Quality.work_left):
        the real features embed 2 n real samples, measure A's spread and compare B with A;
        an evaluation generates n samples, embeds and compares them (the comparisons as
        timed on made-up features: on 2 cores 0.3 s each at n = 1000 and 128 features, as
        much as the embedding; with them and the generating left out, the ETA read 0.5-1 s
        short at a first run's end)."""
        n = min(self.samples, count // 2)
        c = self._comparison
        extra = (0.0 if c is None else c.spread + 2 * c.compare) + (self._sampling or 0.0)
        if self.state == "training":
            assert self._training is not None  # made in the "start" state
            left = self._training.seconds_left()
            if left is None or self._per_sample is None:
                return None
            return left + self._per_sample * 3 * n + extra
        if self.state == "real":
            return None if self._per_sample is None else self._per_sample * 3 * n + extra
        if self.state == "ready":
            return self._evaluation_estimate()
        return None

    def _evaluation_estimate(self) -> float | None:
        """What an evaluation will cost, from the real features' parts: generating its
        samples, half their embedding (n samples, not 2 n) and one comparison (None before
        them)."""
        if self._evaluator is None:
            return None
        cost = self._evaluator.cost
        return (self._sampling or 0.0) + cost.embedding / 2 + cost.compare

    def _time_sampling(self, trainer: MonitoredTrainer, n: int) -> float:
        """Seconds that generating ``n`` samples takes (an evaluation's first part: 0.24 s
        for 1000 digits of the default DCGAN on 2 cores), timed on an eighth of them after
        a warm-up of 8, from latents of the monitor's own generator."""
        latent_dim = trainer.config.latent_dim
        assert latent_dim is not None  # a trainer's config is resolved
        gen = torch.Generator().manual_seed(self.seed + 29)
        trainer.sample(torch.randn(min(8, n), latent_dim, generator=gen))
        part = max(1, n // 8)
        z = torch.randn(part, latent_dim, generator=gen)
        t0 = self.clock()
        out = trainer.sample(z)
        if trainer.info.is_image:
            to_uint8(out)
        return (self.clock() - t0) * n / part
