"""Metrics in a feature space: zero on identical sets, growing with known corruptions, KID
unbiased on small sets, precision and recall telling quality from coverage."""

import numpy as np
import pytest
import torch

from ganstudio.core.quality.metrics import (
    frechet_distance,
    kernel_inception_distance,
    mmd2_biased,
    mmd2_unbiased,
    precision_recall,
)

DIM = 16


def gaussian(n, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, scale, size=(n, DIM))


def clusters(n, seed, which=(0, 1, 2, 3, 4)):
    """A mixture of 5 well-separated clusters; ``which`` keeps some of them (mode dropping)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(5, DIM) * 8.0
    labels = rng.choice(np.asarray(which), size=n)
    return centres[labels] + rng.normal(0, 1, size=(n, DIM))


def test_frechet_distance_matches_an_independent_computation():
    a, b = gaussian(3000, 0), gaussian(3000, 1, shift=0.3, scale=1.4)
    cov_a, cov_b = np.cov(a.T), np.cov(b.T)
    trace_root = np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real.clip(0)).sum()
    expected = (
        np.square(a.mean(0) - b.mean(0)).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    # Gaussians N(0, I) and N(m, s^2 I): ||m||^2 + F (1 - s)^2, up to sampling noise.
    assert frechet_distance(a, b) == pytest.approx(DIM * 0.09 + DIM * 0.16, rel=0.1)


def test_identical_sets_are_zero():
    a = gaussian(500, 0)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert mmd2_unbiased(torch.as_tensor(a), torch.as_tensor(a)) < 1e-2
    pr = precision_recall(a, a)
    assert pr.precision == 1.0 and pr.recall == 1.0


@pytest.mark.parametrize("corruption", ["noise", "shift"])
def test_metrics_grow_with_corruption(corruption):
    real = gaussian(1500, 0)
    levels = [0.0, 0.5, 1.0, 2.0]
    fds, kids, precisions = [], [], []
    for level in levels:
        fake = gaussian(1500, 1)
        if corruption == "noise":
            fake = fake + np.random.default_rng(2).normal(0, level, size=fake.shape)
        else:
            fake = fake + level
        fds.append(frechet_distance(real, fake))
        kids.append(kernel_inception_distance(real, fake, subsets=10, subset_size=500).mean)
        precisions.append(precision_recall(real, fake, k=3).precision)
    assert all(x < y for x, y in zip(fds, fds[1:])), fds
    assert all(x < y for x, y in zip(kids, kids[1:])), kids
    assert all(x >= y for x, y in zip(precisions, precisions[1:])), precisions
    # k-NN manifolds of 1,500 points in 16-D miss some of their own distribution (the
    # estimate for identical distributions is about 0.8 here), so the check is relative.
    assert precisions[0] > 0.7 and precisions[-1] < 0.5 * precisions[0]


def test_dropping_modes_lowers_recall_and_raises_the_distances():
    real = clusters(1500, 0)
    results = []
    for kept in ((0, 1, 2, 3, 4), (0, 1, 2, 3), (0, 1, 2), (0, 1), (0,)):
        fake = clusters(1500, 1, kept)
        pr = precision_recall(real, fake, k=3)
        results.append((frechet_distance(real, fake), pr.recall, pr.precision))
    fds, recalls, precisions = zip(*results)
    assert all(x < y for x, y in zip(fds, fds[1:])), fds
    assert all(x > y for x, y in zip(recalls, recalls[1:])), recalls
    # What is generated stays as good (precision near its value for the full mixture): only
    # coverage suffers.
    assert max(precisions) - min(precisions) < 0.1 and min(precisions) > 0.7


def test_kid_is_unbiased_on_small_sets():
    """Two samples of 20 from the same distribution: the unbiased estimates average to zero
    (within their standard error), the plain estimate is always positive."""
    unbiased, biased = [], []
    for trial in range(300):
        x = torch.as_tensor(gaussian(20, 2 * trial))
        y = torch.as_tensor(gaussian(20, 2 * trial + 1))
        unbiased.append(mmd2_unbiased(x, y))
        biased.append(mmd2_biased(x, y))
    u, b = np.asarray(unbiased), np.asarray(biased)
    stderr = u.std() / np.sqrt(len(u))
    assert abs(u.mean()) < 3 * stderr
    assert (b > 0).all() and b.mean() > 10 * stderr
    # and KID sees a real difference at the same small size
    different = kernel_inception_distance(gaussian(20, 0), gaussian(20, 1, shift=1.0), subsets=1)
    assert different.mean > 10 * stderr and different.subset_size == 20


def test_bad_features_are_refused_with_a_reason():
    a = gaussian(50, 0)
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(a, a[:, :8])
    bad = a.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kernel_inception_distance(a, bad)
    with pytest.raises(ValueError, match="N >= 2"):
        precision_recall(a[:1], a)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(a, a, k=50)
