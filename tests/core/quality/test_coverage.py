"""Mode coverage (VEEGAN / PacGAN): known answers on hand-made and real mixture samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganstudio.core.data import load_dataset
from ganstudio.core.data.builtin.points import grid25_centres, ring8_centres
from ganstudio.core.quality.coverage import COVERAGE_SAMPLES, Coverage, mode_coverage

# Probability mass of a 2-D standard Gaussian within radius 3: 1 - exp(-9 / 2).
DISC_MASS = 1 - math.exp(-4.5)


def test_protocol_constant():
    assert COVERAGE_SAMPLES == 2500


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_real_samples_capture_every_mode(name):
    ds = load_dataset(f"builtin:{name}?n={COVERAGE_SAMPLES}")
    cov = mode_coverage(ds.data.numpy(), ds.info.modes, ds.info.mode_sigma)
    assert cov.modes_captured == cov.n_modes == len(ds.info.modes)
    assert abs(cov.hq_fraction - DISC_MASS) < 0.01
    assert sum(cov.per_mode_hq) == round(cov.hq_fraction * COVERAGE_SAMPLES)


def test_hq_fraction_matches_the_disc_mass():
    rng = np.random.default_rng(0)
    centres = grid25_centres()
    n = 200_000  # more than one block of the distance matrix
    x = centres[rng.integers(0, 25, n)] + 0.05 * rng.standard_normal((n, 2))
    cov = mode_coverage(x.astype(np.float32), centres, 0.05)
    assert cov.modes_captured == 25
    assert abs(cov.hq_fraction - DISC_MASS) < 0.002  # 0.9889; 4.5 standard errors
    assert sum(cov.per_mode_hq) == round(cov.hq_fraction * n)


def test_samples_at_one_mode_capture_one():
    centres = ring8_centres()
    x = np.tile(centres[3], (COVERAGE_SAMPLES, 1)) + 0.001
    cov = mode_coverage(x, centres, 0.01)
    assert cov.modes_captured == 1 and cov.n_modes == 8
    assert cov.hq_fraction == 1.0
    assert cov.per_mode_hq == (0, 0, 0, COVERAGE_SAMPLES, 0, 0, 0, 0)
    assert cov.summary() == "1/8 modes, 100.0% high quality"


def test_far_samples_capture_nothing():
    x = np.full((100, 2), 10.0)
    cov = mode_coverage(x, ring8_centres(), 0.01)
    assert cov == Coverage(0, 8, 0.0, (0,) * 8)
    assert cov.summary() == "0/8 modes, 0.0% high quality"


def test_hand_built_example():
    modes = [(0.0, 0.0), (1.0, 0.0), (0.0, 5.0)]
    samples = [
        (0.0, 0.0),  # HQ, mode 0
        (0.29, 0.0),  # HQ, mode 0 (3 sigma = 0.3)
        (0.31, 0.0),  # nearest is mode 0 but just outside 3 sigma
        (1.0, 0.2),  # HQ, mode 1
        (0.5, 0.0),  # halfway: not HQ
        (0.2, 0.2),  # HQ, mode 0 (distance 0.283)
        (0.0, 4.6),  # nearest is mode 2, 0.4 away: not HQ
        (3.0, 3.0),  # far from everything
    ]
    cov = mode_coverage(np.array(samples), modes, 0.1)
    assert cov.per_mode_hq == (3, 1, 0)
    assert cov.modes_captured == 2 and cov.n_modes == 3
    assert cov.hq_fraction == 4 / 8
    assert cov.summary() == "2/3 modes, 50.0% high quality"


def test_nan_and_inf_samples_are_never_high_quality():
    centres = ring8_centres()
    x = np.array([centres[0], [np.nan, 0.0], [np.nan, np.nan], [np.inf, 1.0], centres[5]])
    cov = mode_coverage(x, centres, 0.01)
    assert cov.per_mode_hq == (1, 0, 0, 0, 0, 1, 0, 0)
    assert cov.modes_captured == 2
    assert cov.hq_fraction == 2 / 5
    all_nan = mode_coverage(np.full((10, 2), np.nan), centres, 0.01)
    assert all_nan.modes_captured == 0 and all_nan.hq_fraction == 0.0


@pytest.mark.parametrize(
    ("samples", "modes", "sigma", "message"),
    [
        (np.zeros((0, 2)), [(0.0, 0.0)], 0.1, "at least one sample"),
        (np.zeros(4), [(0.0, 0.0)], 0.1, "(N, 2)"),
        (np.zeros((4, 3)), [(0.0, 0.0)], 0.1, "3 coordinates"),
        (np.zeros((4, 2)), [], 0.1, "non-empty"),
        (np.zeros((4, 2)), [(0.0, 0.0)], 0.0, "sigma must be a positive number"),
        (np.zeros((4, 2)), [(0.0, 0.0)], float("nan"), "sigma must be a positive number"),
    ],
)
def test_bad_input_raises(samples, modes, sigma, message):
    with pytest.raises(ValueError) as exc:
        mode_coverage(samples, modes, sigma)
    assert message in str(exc.value)
