"""Sample-quality metrics in a feature space: Frechet distance, KID, precision and recall.

These are the formulas; which features they compare (a network trained on the user's own
data, or Inception when the user has its weights) is decided elsewhere. All work on float
feature matrices (N, F), in float64, on the CPU or a torch device.

- Frechet distance (the FID formula, Heusel et al. 2017): the distance between Gaussians fitted
  to the two sets. Biased for small N: compare values at the same N only.
- KID (Binkowski et al. 2018): squared MMD with the cubic polynomial kernel
  k(x, y) = (x.y / F + 1)^3, with the unbiased estimator, averaged over random subsets. Its
  expectation is 0 for two samples of the same distribution at any N, so it suits small
  datasets.
- Precision and recall (Kynkaanniemi et al. 2019): a sample lies on a set's manifold if it is
  within the distance from some member of the set to that member's k-th nearest neighbour.
  Precision: the share of generated samples on the real manifold (quality); recall: the share
  of real samples on the generated manifold (coverage).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

# Feature vectors (N, F): an array, anything np.asarray takes, or a tensor.
Features = npt.ArrayLike | torch.Tensor


def _as_features(x: Features, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(torch.float64)
    if t.ndim != 2 or len(t) < 2:
        raise ValueError(f"{name}: expected features of shape (N >= 2, F), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: features contain NaN or infinite values")
    return t


def frechet_distance(real: Features, fake: Features) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) of Gaussians fitted to the sets."""
    a, b = _as_features(real, "real"), _as_features(fake, "fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    # Tr((S_a S_b)^(1/2)) = sum of the square roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2),
    # a symmetric PSD matrix: stable where scipy's sqrtm of the product needs a fix-up.
    w, v = torch.linalg.eigh(cov_a)
    root_a = (v * w.clamp_min(0).sqrt()) @ v.T
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    fd = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return float(fd.clamp_min(0))


def _polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased estimate of the squared MMD between two sets (cubic polynomial kernel)."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    sum_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2 * k_xy.mean())


def mmd2_biased(x: torch.Tensor, y: torch.Tensor) -> float:
    """The plain (V-statistic) estimate, positive even for identical distributions; for tests
    and comparison only."""
    return float(
        _polynomial_kernel(x, x).mean()
        + _polynomial_kernel(y, y).mean()
        - 2 * _polynomial_kernel(x, y).mean()
    )


@dataclass(frozen=True)
class KID:
    mean: float
    std: float  # over the subsets
    subsets: int
    subset_size: int


def kernel_inception_distance(
    real: Features, fake: Features, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> KID:
    """KID: the unbiased squared MMD, averaged over random subsets of both sets (sampled
    without replacement within a subset). ``subset_size`` is capped by the smaller set."""
    a, b = _as_features(real, "real"), _as_features(fake, "fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    size = min(subset_size, len(a), len(b))
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(max(1, subsets)):
        ia = torch.randperm(len(a), generator=g)[:size]
        ib = torch.randperm(len(b), generator=g)[:size]
        values.append(mmd2_unbiased(a[ia], b[ib]))
    v = np.asarray(values)
    return KID(float(v.mean()), float(v.std()), len(values), size)


def _kth_neighbour_radii(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    radii = []
    for part in x.split(chunk):
        d = torch.cdist(part, x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the row itself is at distance 0
    return torch.cat(radii)


def _on_manifold(samples: torch.Tensor, members: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    inside = []
    for part in samples.split(2048):
        inside.append((torch.cdist(part, members) <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def precision_recall(real: Features, fake: Features, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall with k-nearest-neighbour manifolds."""
    a, b = _as_features(real, "real"), _as_features(fake, "fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    if k < 1 or k >= min(len(a), len(b)):
        raise ValueError(f"k must be between 1 and {min(len(a), len(b)) - 1}, not {k}")
    precision = _on_manifold(b, a, _kth_neighbour_radii(a, k)).double().mean()
    recall = _on_manifold(a, b, _kth_neighbour_radii(b, k)).double().mean()
    return PrecisionRecall(float(precision), float(recall), k)
