"""The built-in generated datasets: shapes, determinism, statistics and option errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganstudio.core.data import IMAGES, POINTS, DatasetError, builtin_names, load_dataset
from ganstudio.core.data.builtin.common import seeded_generator
from ganstudio.core.data.builtin.shapes import SHAPE_NAMES, shape_colours

# Small sizes where generation takes more than a blink.
SPECS = {
    "ring8": "builtin:ring8",
    "grid25": "builtin:grid25",
    "spiral": "builtin:spiral",
    "moons": "builtin:moons",
    "digits": "builtin:digits?n=2000",
    "shapes": "builtin:shapes?n=500",
}


def test_every_builtin_is_listed():
    assert sorted(builtin_names()) == sorted(f"builtin:{name}" for name in SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_loads_with_dtype_shape_and_kind(name):
    ds = load_dataset(SPECS[name])
    info = ds.info
    assert info.name == f"builtin:{name}"
    assert info.count == len(ds) == len(ds.labels)
    assert tuple(ds.data.shape[1:]) == info.sample_shape
    assert ds.labels.dtype == torch.int64
    assert info.fingerprint
    if info.kind == POINTS:
        assert ds.data.dtype == torch.float32 and info.sample_shape == (2,)
        assert torch.isfinite(ds.data).all()
    else:
        assert info.kind == IMAGES and ds.data.dtype == torch.uint8
    if info.class_names:
        assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < len(info.class_names)


@pytest.mark.parametrize("name", SPECS)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = (load_dataset(SPECS[name], seed=s) for s in (7, 7, 8))
    assert torch.equal(a.data, b.data) and torch.equal(a.labels, b.labels)
    assert a.info.fingerprint == b.info.fingerprint
    assert not torch.equal(a.data, c.data)
    assert a.info.fingerprint != c.info.fingerprint


@pytest.mark.parametrize(
    "spec",
    ["builtin:spiral", "builtin:moons", "builtin:digits?n=300", "builtin:shapes?n=300"],
)
def test_data_does_not_depend_on_thread_count(spec):
    # These sizes are large enough for torch to split the element-wise work across threads.
    torch.set_num_threads(1)
    one = load_dataset(spec, seed=3)
    torch.set_num_threads(2)
    two = load_dataset(spec, seed=3)
    assert torch.equal(one.data, two.data)


def test_n_option_sets_the_count():
    assert len(load_dataset("builtin:ring8?n=1234")) == 1234
    assert load_dataset("builtin:moons?n=10").info.count == 10


def _check_mixture(ds, centres: np.ndarray, sigma: float) -> None:
    modes = np.array(ds.info.modes)
    np.testing.assert_allclose(modes, centres, atol=1e-12)
    assert ds.info.mode_sigma == sigma
    x = ds.data.double()
    for k, centre in enumerate(centres):
        pts = x[ds.labels == k]
        assert len(pts) > 0.5 * len(x) / len(centres)
        # Means sit on the centre (within 5 standard errors); stds match sigma.
        tol = 5 * sigma / math.sqrt(len(pts))
        np.testing.assert_allclose(pts.mean(0).numpy(), centre, atol=tol)
        np.testing.assert_allclose(pts.std(0).numpy(), [sigma, sigma], rtol=0.1)


def test_ring8_has_eight_distinct_modes_on_the_unit_circle():
    ds = load_dataset("builtin:ring8")
    modes = np.array(ds.info.modes)
    assert modes.shape == (8, 2)
    np.testing.assert_allclose(np.hypot(modes[:, 0], modes[:, 1]), 1.0, atol=1e-12)
    gaps = np.linalg.norm(modes[:, None] - modes[None], axis=2) + np.eye(8) * 10
    assert gaps.min() > 0.7  # neighbours are 2 sin(pi/8) = 0.765 apart: none coincide
    angles = np.sort(np.mod(np.arctan2(modes[:, 1], modes[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-9)
    _check_mixture(ds, modes, 0.01)


def test_grid25_centres():
    ds = load_dataset("builtin:grid25")
    modes = np.array(ds.info.modes)
    assert modes.shape == (25, 2)
    expected = {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert set(ds.info.modes) == expected
    _check_mixture(ds, modes, 0.05)


@pytest.mark.parametrize("name", ["spiral", "moons"])
def test_unimodal_shapes_have_no_modes_and_two_labels(name):
    ds = load_dataset(f"builtin:{name}")
    assert ds.info.modes == () and ds.info.mode_sigma is None
    assert set(ds.labels.tolist()) == {0, 1}
    assert ds.data.abs().max() < 2.0  # on the scale of the other point sets


def test_moons_lie_on_their_half_circles():
    ds = load_dataset("builtin:moons?n=20000")
    x = ds.data.double() + torch.tensor([0.5, 0.25], dtype=torch.float64)  # undo centring
    upper, lower = x[ds.labels == 0], x[ds.labels == 1]
    r_upper = upper.norm(dim=1)
    r_lower = (lower - torch.tensor([1.0, 0.5], dtype=torch.float64)).norm(dim=1)
    assert abs(r_upper.mean() - 1) < 0.01 and abs(r_lower.mean() - 1) < 0.01
    assert upper[:, 1].mean() > 0.5 and lower[:, 1].mean() < 0.0


def test_digits_look_like_mnist():
    ds = load_dataset("builtin:digits?n=2000")
    assert ds.data.shape == (2000, 1, 28, 28)
    assert ds.info.class_names == tuple(str(d) for d in range(10))
    assert set(ds.labels.tolist()) == set(range(10))
    x = ds.data.float() / 255
    assert x.max() == 1.0  # stroke cores are saturated white
    border = torch.cat(
        [
            x[..., :2, :].flatten(1),
            x[..., -2:, :].flatten(1),
            x[..., :, :2].flatten(1),
            x[..., :, -2:].flatten(1),
        ],
        dim=1,
    )
    assert border.mean() < 0.005  # black background, digits centred
    assert 0.08 < x.mean() < 0.2  # MNIST's mean intensity is 0.13
    means = torch.stack([x[ds.labels == d].mean(0).flatten() for d in range(10)])
    gaps = torch.cdist(means, means) + torch.eye(10) * 100
    assert gaps.min() > 1.0  # each class has its own mean image


def test_digits_centre_of_mass_is_central():
    ds = load_dataset("builtin:digits?n=500")
    x = ds.data[:, 0].double()
    coords = torch.arange(28, dtype=torch.float64) + 0.5
    mass = x.sum((1, 2))
    cy = (x.sum(2) * coords).sum(1) / mass
    cx = (x.sum(1) * coords).sum(1) / mass
    assert (cx - 14).abs().max() < 3.5 and (cy - 14).abs().max() < 3.5
    assert abs(cx.mean() - 14) < 0.5 and abs(cy.mean() - 14) < 0.5


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_sizes(size):
    ds = load_dataset(f"builtin:shapes?size={size}&n=200")
    assert ds.data.shape == (200, 3, size, size)
    assert ds.info.sample_shape == (3, size, size)
    assert ds.info.class_names == SHAPE_NAMES and len(SHAPE_NAMES) >= 4
    assert set(ds.labels.tolist()) == set(range(len(SHAPE_NAMES)))
    # Every image has something in it: a shape standing out from its background.
    spread = ds.data.float().flatten(1).std(1)
    assert spread.min() > 10


def test_shape_colours_stand_out_from_the_background():
    c1, c2, fill = shape_colours(seeded_generator(0), 20000)
    dist = torch.minimum((fill - c1).norm(dim=1), (fill - c2).norm(dim=1))
    assert (dist > 0.5).float().mean() > 0.99
    assert dist.min() > 0.3


def test_default_sizes():
    ds = load_dataset("builtin:shapes")
    assert ds.data.shape == (20000, 3, 32, 32)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("builtin:shapes?size=48", "size must be 32 or 64, got 48"),
        ("builtin:shapes?size=big", "size must be 32 or 64, got 'big'"),
        ("builtin:shapes?n=-1", "n must be between 1 and 200,000, got -1"),
        ("builtin:shapes?n=abc", "n must be a whole number, got 'abc'"),
        ("builtin:shapes?colour=red", "unknown option 'colour'"),
        ("builtin:digits?n=0", "n must be between 1 and 200,000, got 0"),
        ("builtin:digits?n=2.5", "n must be a whole number"),
        ("builtin:ring8?n=", "n must be a whole number, got ''"),
        ("builtin:ring8?n=3000000", "n must be between 1 and 2,000,000"),
        ("builtin:grid25?size=64", "unknown option 'size' for builtin:grid25; options are: n"),
    ],
)
def test_bad_options_raise_dataset_error(spec, message):
    with pytest.raises(DatasetError) as exc:
        load_dataset(spec)
    assert message in str(exc.value)
    assert spec in str(exc.value)  # the message names the spec


def test_unknown_dataset_lists_the_names():
    with pytest.raises(DatasetError) as exc:
        load_dataset("builtin:nope")
    text = str(exc.value)
    assert "builtin:nope" in text
    for name in SPECS:
        assert f"builtin:{name}" in text


def test_digit_templates_are_ordered_variant_major():
    # digits() picks template variant * 10 + label, so the label must be the glyph drawn.
    from ganstudio.core.data.builtin.digits import digit_templates

    _, template_digit, _, _ = digit_templates()
    assert torch.equal(template_digit, torch.arange(10).repeat(len(template_digit) // 10))
