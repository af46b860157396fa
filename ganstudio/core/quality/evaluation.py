"""Sample quality against the real data, with the floor that real data itself reaches.

An `Evaluator` draws two disjoint random halves of the real data, A and B (n samples each,
fewer when the dataset is small), and computes their features once (see
`ganstudio.core.quality.features`). Generated samples (n of them) are then compared with A:

- FD: the Frechet distance (the FID formula) between Gaussians fitted to the features.
- KID: the unbiased squared MMD with the cubic polynomial kernel (0 for equal distributions
  at any n, up to noise; it can come out slightly negative).
- precision and recall: k-nearest-neighbour manifolds (k = 3): the share of generated
  samples that fall among real ones (quality), and of real samples covered by generated
  ones (variety).
- score: a classifier score in the spirit of the Inception Score, exp(E KL(p(y|x) || p(y)))
  with the extractor's classes (at most the number of classes); None without classes.
- diversity: the mean pairwise feature distance of the generated samples divided by that
  of the real samples in A (1: as varied as real data; well below 1: collapse). Caveat:
  a mean distance does not see repetition: copies of one sample score 0 and copies of two
  about a half, but copies of twenty distinct samples still score near 1.

The floor is the same metrics for B against A: what a perfect generator would score at
this sample size. FD in particular is biased upwards for small n, and precision and recall
of real data are well below 1; the floor says how far from "as good as real data" a value
is. Caveat: values are comparable only at the same n, against the same real halves (same
seed) and with the same feature extractor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ganstudio.core.data.dataset import Dataset
from ganstudio.core.quality.features import FeatureExtractor, Samples
from ganstudio.core.quality.metrics import frechet_distance, mmd2_unbiased, precision_recall

MIN_SAMPLES = 10  # per set; below this the metrics mean nothing
NEIGHBOURS = 3  # k of the precision and recall manifolds


@dataclass(frozen=True)
class QualityMetrics:
    fd: float
    kid: float
    precision: float
    recall: float
    score: float | None  # classifier score; None without classes
    n: int  # generated (or real B) samples compared with the n real samples of A

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    metrics: QualityMetrics
    floor: QualityMetrics  # real samples B against A
    features: str  # the feature space, in words
    diversity: float  # generated spread / real spread
    floor_diversity: float  # the same for real samples B
    classes: int  # of the classifier score (0: none)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "metrics": self.metrics.to_dict(),
            "floor": self.floor.to_dict(),
            "features": self.features,
            "diversity": self.diversity,
            "floor_diversity": self.floor_diversity,
            "classes": self.classes,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


def classifier_score(probs: np.ndarray) -> float:
    """exp(mean over samples of KL(p(y|x) || p(y))), p(y) the mean of p(y|x)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    p /= p.sum(1, keepdims=True)
    kl = (p * (np.log(p) - np.log(p.mean(0, keepdims=True)))).sum(1)
    return float(math.exp(kl.mean()))


def mean_pairwise_distance(features: np.ndarray | torch.Tensor) -> float:
    """The mean Euclidean distance between distinct rows."""
    t = torch.as_tensor(features, dtype=torch.float64)
    return float(torch.pdist(t).mean()) if len(t) > 1 else 0.0


class _Reference:
    """The real half A that samples are compared with: its features and their spread."""

    def __init__(self, features: np.ndarray) -> None:
        self.a = torch.from_numpy(features)
        self.spread = mean_pairwise_distance(self.a)

    def ratio(self, features: np.ndarray) -> float:
        return mean_pairwise_distance(features) / self.spread if self.spread > 0 else 1.0

    def metrics(self, features: np.ndarray, probs: np.ndarray | None) -> QualityMetrics:
        b = torch.from_numpy(features)
        pr = precision_recall(self.a, b, k=NEIGHBOURS)
        return QualityMetrics(
            fd=frechet_distance(self.a, b),
            kid=mmd2_unbiased(self.a, b),
            precision=pr.precision,
            recall=pr.recall,
            score=None if probs is None else classifier_score(probs),
            n=len(b),
        )

    def compare(
        self, features: np.ndarray, probs: np.ndarray | None
    ) -> tuple[QualityMetrics, float]:
        """The metrics of ``features`` against A, and their diversity ratio."""
        return self.metrics(features, probs), self.ratio(features)


@dataclass(frozen=True)
class ComparisonCost:
    """Seconds of an Evaluator's work besides running the extractor: ``spread``, A's mean
    pairwise distance (once, with the real features); ``compare``, one set's metrics and
    diversity against A (the floor's, then each evaluation's); ``embedding``, what the
    extractor took for the measured features (0 when timed on made-up features)."""

    spread: float
    compare: float
    embedding: float = 0.0


def comparison_cost(n: int, dim: int, seed: int = 0) -> ComparisonCost:
    """What comparing n features of ``dim`` numbers with n real ones costs on this machine,
    timed on random features before any real ones exist (the metrics' nearest-neighbour
    distances, kernels and covariances take as long for any values), after a warm-up at an
    eighth of n that pays the first calls' one-time costs. For an estimate of the time an
    Evaluator will take (core.quality.monitor)."""
    gen = torch.Generator().manual_seed(seed)
    n = max(int(n), MIN_SAMPLES)
    for size in (max(MIN_SAMPLES, n // 8), n):
        a, b = (torch.randn(size, dim, generator=gen).numpy() for _ in range(2))
        t0 = time.perf_counter()
        reference = _Reference(a)
        t1 = time.perf_counter()
        reference.compare(b, None)
        t2 = time.perf_counter()
    return ComparisonCost(spread=t1 - t0, compare=t2 - t1)


class Evaluator:
    """Compares generated samples with real data A; real data B against A is the floor.

    ``samples`` (for `evaluate` and `diversity`) are what the extractor accepts: uint8
    images (N, C, H, W), float images in [-1, 1], or float points (N, 2).
    """

    def __init__(
        self, extractor: FeatureExtractor, dataset: Dataset, n: int = 1000, seed: int = 0
    ) -> None:
        count = len(dataset)
        half = min(int(n), count // 2)
        if half < MIN_SAMPLES:
            raise ValueError(
                f"{dataset.info.name}: too few real samples to evaluate against ({count}; "
                f"at least {2 * MIN_SAMPLES} are needed)"
            )
        self.extractor = extractor
        self.n = half
        self.requested = int(n)
        self.notes: tuple[str, ...] = ()
        if half < n:
            self.notes = (
                f"the dataset has {count} samples: {half} generated and {half} real samples "
                f"are compared, not {n}",
            )
        perm = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
        # The real halves A and B, as indices into dataset.data.
        self.real_a, self.real_b = perm[:half], perm[half : 2 * half]
        data = dataset.data
        t0 = time.perf_counter()
        fa, _ = extractor.features_and_probs(data[self.real_a.to(data.device)])
        fb, probs_b = extractor.features_and_probs(data[self.real_b.to(data.device)])
        t1 = time.perf_counter()
        self._reference = _Reference(fa)
        t2 = time.perf_counter()
        self.floor, self.floor_diversity = self._reference.compare(fb, probs_b)
        # What the real features cost (ComparisonCost's parts; embedding: both halves).
        self.cost = ComparisonCost(
            spread=t2 - t1, compare=time.perf_counter() - t2, embedding=t1 - t0
        )

    def _features(self, samples: Samples) -> tuple[np.ndarray, np.ndarray | None]:
        samples = samples[: self.n]
        if len(samples) < max(MIN_SAMPLES, NEIGHBOURS + 1):
            raise ValueError(f"too few generated samples to evaluate ({len(samples)})")
        return self.extractor.features_and_probs(samples)

    def evaluate(self, samples: Samples) -> Evaluation:
        """Metrics of (the first n) generated samples against the real data."""
        start = time.perf_counter()
        f, probs = self._features(samples)
        notes = self.notes
        if len(f) < self.n:
            notes += (
                f"only {len(f)} generated samples against the floor's {self.n}: FD reads "
                "higher and precision and recall differ by sample size alone",
            )
        metrics, diversity = self._reference.compare(f, probs)
        return Evaluation(
            metrics=metrics,
            floor=self.floor,
            features=self.extractor.describe(),
            diversity=diversity,
            floor_diversity=self.floor_diversity,
            classes=self.extractor.num_classes,
            notes=notes,
            seconds=time.perf_counter() - start,
        )

    def diversity(self, samples: Samples) -> float:
        """Only the diversity ratio (cheap: one pass through the extractor, one distance
        matrix), for a collapse warning during training."""
        return self._reference.ratio(self._features(samples)[0])


_ROWS = (
    ("FD", "fd", "lower", "distance between the real and generated feature distributions"),
    ("KID", "kid", "lower", "kernel distance; ~0 for the same distribution at any n"),
    ("precision", "precision", "higher", "share of generated samples among real ones: quality"),
    ("recall", "recall", "higher", "share of real samples covered by generated ones: variety"),
)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def format_evaluation(ev: Evaluation) -> str:
    """A table for people: each metric, its value, the real-data floor, what it means."""
    m, f = ev.metrics, ev.floor
    rows = [("metric", "value", "floor", "better", "meaning")]
    for name, key, better, meaning in _ROWS:
        rows.append((name, _fmt(getattr(m, key)), _fmt(getattr(f, key)), better, meaning))
    if m.score is not None:
        rows.append(
            (
                "class score",
                _fmt(m.score),
                _fmt(f.score),
                "higher",
                f"confident and varied classes (1 to {ev.classes}), like the Inception Score",
            )
        )
    rows.append(
        (
            "diversity",
            _fmt(ev.diversity),
            _fmt(ev.floor_diversity),
            "~1",
            "feature spread of generated / real samples; well below 1: mode collapse",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"features: {ev.features}",
        f"{m.n} generated samples against {f.n} real ones; floor: {f.n} other real samples",
        "",
    ]
    for r in rows:
        cells = [r[0].ljust(widths[0]), *(r[i].rjust(widths[i]) for i in (1, 2)), r[3]]
        lines.append("  ".join([*cells[:3], cells[3].ljust(widths[3]), r[4]]).rstrip())
    lines.append("")
    lines += [f"note: {n}" for n in ev.notes]
    lines.append("The floor is what real data itself scores at this sample size.")
    lines.append("Values compare only at the same n, with the same feature extractor.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Per class: how well a class-conditional model draws each class it is asked for.

FEW_PER_CLASS = 200  # below this many samples per class, a per-class FD reads high


@dataclass(frozen=True)
class ClassQuality:
    """One class of a conditional model: the share of its samples that the dataset's
    classifier assigns to it, and FD against that class's real pictures (with its floor:
    other real pictures of the class, when there are enough)."""

    index: int
    name: str
    n: int  # generated samples of the class
    real: int  # real pictures of the class compared with them
    accuracy: float | None  # None without a classifier
    fd: float
    fd_floor: float | None  # None when the class has too few real pictures for two sets

    def to_dict(self) -> dict:
        return asdict(self)


def per_class_quality(
    extractor: FeatureExtractor,
    dataset: Dataset,
    draw: Callable[[int, int], Samples],
    class_names: Sequence[str],
    per_class: int,
    seed: int = 0,
) -> tuple[list[ClassQuality], list[str]]:
    """Per-class measures of a conditional model (``draw(class, n)`` gives n samples of a
    class) against the dataset's labelled pictures; and notes on what limits them."""
    if dataset.labels is None:
        return [], ["per-class measures need labelled data; this dataset has no labels"]
    labels = dataset.labels.cpu().long()
    gen = torch.Generator().manual_seed(seed)
    out: list[ClassQuality] = []
    notes: list[str] = []
    classifier = extractor.num_classes >= len(class_names)
    if not classifier:
        notes.append("no classifier of these classes: the per-class share is not measured")
    smallest = per_class
    for c, name in enumerate(class_names):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        m = min(per_class, len(idx) // 2 if len(idx) >= 2 * MIN_SAMPLES else len(idx))
        if m < MIN_SAMPLES:
            notes.append(f"class {name}: {len(idx)} real pictures, too few to compare")
            continue
        smallest = min(smallest, m)
        data = dataset.data
        fa, _ = extractor.features_and_probs(data[idx[:m].to(data.device)])
        floor = None
        if len(idx) >= 2 * m:
            fb, _ = extractor.features_and_probs(data[idx[m : 2 * m].to(data.device)])
            floor = frechet_distance(torch.from_numpy(fa), torch.from_numpy(fb))
        fg, probs = extractor.features_and_probs(draw(c, m))
        accuracy = None
        if classifier and probs is not None:
            accuracy = float((np.asarray(probs).argmax(1) == c).mean())
        fd = frechet_distance(torch.from_numpy(fa), torch.from_numpy(fg))
        out.append(ClassQuality(c, str(name), len(fg), m, accuracy, fd, floor))
    if out and smallest < FEW_PER_CLASS:
        notes.append(
            f"per-class FD compares only {smallest} to {per_class} samples per class: it reads "
            "higher than the overall FD from the small sample alone; compare it with its floor"
        )
    return out, notes


def format_per_class(rows: Sequence[ClassQuality], notes: Sequence[str]) -> str:
    """A table of the per-class measures, for people."""
    lines = ["", "per class (samples drawn for the class):"]
    header = ("class", "n", "classified as it", "FD", "FD floor")
    table = [header] + [
        (
            r.name,
            str(r.n),
            "-" if r.accuracy is None else f"{100 * r.accuracy:.1f}%",
            _fmt(r.fd),
            _fmt(r.fd_floor),
        )
        for r in rows
    ]
    widths = [max(len(t[i]) for t in table) for i in range(len(header))]
    for t in table:
        lines.append(
            "  ".join([t[0].ljust(widths[0]), *(t[i].rjust(widths[i]) for i in (1, 2, 3, 4))])
        )
    accuracies = [r.accuracy for r in rows if r.accuracy is not None]
    if accuracies:
        lines.append(
            f"mean share classified as the requested class: {100 * np.mean(accuracies):.1f}%"
        )
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
