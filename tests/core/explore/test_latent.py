"""Latent maths: seeded vectors, truncation, lerp/slerp, easing, keyframe paths, neighbours,
and GANSpace directions on tiny trained generators."""

import numpy as np
import pytest
import torch

from ganstudio.cli import main
from ganstudio.core.explore import latent, sampling
from ganstudio.core.explore.latent import (
    EASINGS,
    ease,
    keyframe_path,
    lerp,
    neighbours,
    pca_directions,
    seed_vector,
    seed_vectors,
    slerp,
    truncate,
)
from ganstudio.core.modelfile import load_generator

D = 16


def _train(folder, *args):
    assert (
        main(
            [
                *map(str, args),
                "--out",
                str(folder),
                "-q",
                "--device",
                "cpu",
                "--seed",
                "0",
                "--metrics-every",
                "0",
            ]
        )
        == 0
    )
    return load_generator(folder / "generator.safetensors")


@pytest.fixture(scope="module")
def mlp_gen(tmp_path_factory):
    """A 2-D MLP generator with batch norm (first block: Linear, BatchNorm1d, ReLU)."""
    torch.set_num_threads(1)
    return _train(
        tmp_path_factory.mktemp("ring8"),
        *("train", "--dataset", "builtin:ring8?n=512", "--model", "mlp", "--g-norm", "batch"),
        *("--width", 32, "--depth", 2, "--latent-dim", 12, "--steps", 5, "--batch-size", 32),
    )


@pytest.fixture(scope="module")
def dcgan_gen(tmp_path_factory):
    """A 28 px DCGAN generator (first block: ConvTranspose2d, BatchNorm2d, ReLU)."""
    torch.set_num_threads(1)
    return _train(
        tmp_path_factory.mktemp("digits"),
        *("train", "--dataset", "builtin:digits?n=256", "--model", "dcgan"),
        *("--width", 4, "--latent-dim", D, "--steps", 3, "--batch-size", 8),
    )


def _pair(norm_b=None):
    a, b = seed_vector(1, D), seed_vector(2, D)
    if norm_b is not None:
        b = (b / np.linalg.norm(b) * norm_b).astype(np.float32)
    return a, b


def test_seed_vectors_are_the_samplers_latents():
    assert seed_vector(7, D).dtype == np.float32 and seed_vector(7, D).shape == (D,)
    assert np.array_equal(seed_vector(7, D), sampling.latents(7, 1, D)[0].numpy())
    grid = seed_vectors(5, 4, D)
    assert grid.shape == (4, D) and grid.dtype == np.float32
    for i in range(4):
        assert np.array_equal(grid[i], seed_vector(5 + i, D))


def test_truncation_scales_towards_zero():
    z = seed_vectors(0, 3, D)
    assert np.array_equal(truncate(z, 1.0), z)
    assert np.allclose(truncate(z, 0.5), z * 0.5) and truncate(z[0], 0.7).shape == (D,)
    for psi in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="truncation"):
            truncate(z, psi)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_endpoints_are_exact_and_shapes_follow_t(interpolate):
    a, b = _pair(norm_b=2.5)
    assert np.array_equal(interpolate(a, b, 0.0), a)
    assert np.array_equal(interpolate(a, b, 1.0), b)
    path = interpolate(a, b, np.linspace(0, 1, 7))
    assert path.shape == (7, D) and path.dtype == np.float32
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    mid = interpolate(a, b, 0.5)
    assert mid.shape == (D,) and mid.dtype == np.float32
    with pytest.raises(ValueError, match="same size"):
        interpolate(a, b[:-1], 0.5)


def test_slerp_keeps_the_norm_of_equal_norm_vectors():
    a, b = _pair(norm_b=None)
    b = (b / np.linalg.norm(b) * np.linalg.norm(a)).astype(np.float32)
    norms = np.linalg.norm(slerp(a, b, np.linspace(0, 1, 50)), axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(a), rtol=1e-6)
    # while lerp cuts the corner
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.99 * np.linalg.norm(a)


def test_slerp_interpolates_the_norm_linearly_on_the_great_circle():
    e0, e1 = np.eye(D, dtype=np.float32)[:2]
    mid = slerp(e0, 3 * e1, 0.5)
    np.testing.assert_allclose(mid, 2.0 * (e0 + e1) / np.sqrt(2), atol=1e-6)
    a, b = _pair(norm_b=4.0)
    t = np.linspace(0, 1, 9)
    norms = np.linalg.norm(slerp(a, b, t), axis=1)
    np.testing.assert_allclose(norms, (1 - t) * np.linalg.norm(a) + t * 4.0, rtol=1e-5)


def test_parallel_opposite_and_zero_vectors_give_no_nan():
    a = seed_vector(3, D)
    t = np.linspace(0, 1, 11)
    parallel = slerp(a, 2 * a, t)
    np.testing.assert_allclose(parallel, lerp(a, 2 * a, t), rtol=1e-6)

    opposite = slerp(a, -a, t)
    assert np.isfinite(opposite).all()
    np.testing.assert_allclose(np.linalg.norm(opposite, axis=1), np.linalg.norm(a), rtol=1e-6)
    assert np.array_equal(opposite[-1], -a)
    assert abs(opposite[5] @ a) < 1e-4 * (a @ a)  # halfway: perpendicular
    assert np.array_equal(opposite, slerp(a, -a, t))  # the same circle every time

    zero = np.zeros(D, np.float32)
    assert np.isfinite(slerp(zero, a, t)).all() and np.array_equal(slerp(zero, a, 1.0), a)


@pytest.mark.parametrize("name", EASINGS)
def test_easings_map_the_unit_interval_monotonically(name):
    assert ease(0.0, name) == 0.0 and ease(1.0, name) == 1.0
    assert isinstance(ease(0.3, name), float)
    y = ease(np.linspace(0, 1, 101), name)
    assert (np.diff(y) >= 0).all() and y.min() >= 0 and y.max() <= 1


def test_easing_shapes_and_unknown_names():
    assert ease(0.25, "ease-in") < 0.25 < ease(0.25, "ease-out")
    assert ease(0.1, "ease-in-out") < 0.1 and ease(0.9, "ease-in-out") > 0.9
    assert ease(0.5, "ease-in-out") == 0.5 and ease(0.3, "linear") == 0.3
    with pytest.raises(ValueError, match="unknown easing 'bounce'"):
        ease(0.5, "bounce")


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
@pytest.mark.parametrize("easing", ["linear", "ease-in-out"])
def test_keyframe_path_frame_counts(mode, easing):
    keys = seed_vectors(1, 3, D)
    path = keyframe_path(keys, 4, mode, easing)
    assert path.shape == (4 * 2 + 1, D) and path.dtype == np.float32
    for j, key in enumerate(keys):
        assert np.array_equal(path[4 * j], key)  # every key is hit exactly
    looped = keyframe_path(keys, 4, mode, easing, loop=True)
    assert looped.shape == (4 * 3, D)
    assert np.array_equal(looped[:9], path)
    assert not np.array_equal(looped[-1], keys[0])  # heads back to the first key...
    assert np.linalg.norm(looped[-1] - keys[0]) < np.linalg.norm(keys[2] - keys[0])
    assert len(keyframe_path(keys[:2], 1)) == 2 and len(keyframe_path(keys[:2], 1, loop=True)) == 2


@pytest.mark.parametrize(
    "keys, kwargs, message",
    [
        (np.zeros((1, D)), {}, "at least 2 keyframes"),
        (np.zeros(D), {}, "at least 2 keyframes"),
        (np.ones((2, D)), {"steps": 0}, "steps"),
        (np.ones((2, D)), {"mode": "cubic"}, "unknown interpolation mode"),
        (np.ones((2, D)), {"easing": "bounce"}, "unknown easing"),
    ],
)
def test_keyframe_path_errors(keys, kwargs, message):
    with pytest.raises(ValueError, match=message):
        keyframe_path(keys, **({"steps": 3} | kwargs))


def test_neighbours():
    z = seed_vector(9, D)
    near = neighbours(z, 6, 0.2, seed=1)
    assert near.shape == (6, D) and near.dtype == np.float32
    assert np.array_equal(near[0], z)
    assert not np.array_equal(near[1], z)
    assert np.array_equal(near, neighbours(z, 6, 0.2, seed=1))
    assert not np.array_equal(near[1:], neighbours(z, 6, 0.2, seed=2)[1:])
    spread = neighbours(z, 400, 0.2, seed=3)[1:] - z
    assert 0.17 < spread.std() < 0.23
    assert np.array_equal(neighbours(z, 3, 0.0), np.stack([z] * 3))
    with pytest.raises(ValueError, match="neighbours"):
        neighbours(z, 0, 0.1)


@pytest.mark.parametrize("which", ["mlp", "dcgan"])
def test_pca_directions_shapes_norms_and_determinism(which, mlp_gen, dcgan_gen):
    gen = mlp_gen if which == "mlp" else dcgan_gen
    rng = torch.get_rng_state()
    d = pca_directions(gen.module, k=5, n_samples=500, seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the global random state is left alone
    assert not gen.module.training
    assert d.vectors.shape == (5, gen.latent_dim) and d.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d.vectors, axis=1), 1.0, atol=1e-5)
    assert d.stdev.shape == (5,) and (d.stdev > 0).all()
    assert d.explained.shape == (5,) and (d.explained > 0).all() and d.explained.sum() <= 1
    assert (np.diff(d.explained) <= 1e-7).all()  # strongest first
    again = pca_directions(gen.module, k=5, n_samples=500, seed=0)
    assert np.array_equal(d.vectors, again.vectors) and np.array_equal(d.stdev, again.stdev)
    other = pca_directions(gen.module, k=5, n_samples=500, seed=1)
    assert not np.array_equal(d.vectors, other.vectors)


def test_pca_directions_are_capped_by_the_latent_size_and_keep_the_mode(mlp_gen):
    d = pca_directions(mlp_gen.module, k=50, n_samples=300)
    assert d.vectors.shape == (mlp_gen.latent_dim, mlp_gen.latent_dim)
    mlp_gen.module.train()
    try:
        pca_directions(mlp_gen.module, k=2, n_samples=100)
        assert mlp_gen.module.training
    finally:
        mlp_gen.module.eval()
    with pytest.raises(ValueError):
        pca_directions(mlp_gen.module, k=0)


@pytest.mark.parametrize("which", ["mlp", "dcgan"])
def test_direction_zero_moves_the_first_principal_coordinate(which, mlp_gen, dcgan_gen):
    gen = mlp_gen if which == "mlp" else dcgan_gen
    d = pca_directions(gen.module, k=3, n_samples=1000, seed=0)
    feats = latent.first_block_features(gen.module, sampling.latents(0, 1000, gen.latent_dim))
    centred = feats - feats.mean(0)
    first_pc = torch.linalg.svd(centred, full_matrices=False).Vh[0]

    base = seed_vectors(100, 64, gen.latent_dim)
    f0 = latent.first_block_features(gen.module, base)

    def moved(direction):
        f1 = latent.first_block_features(gen.module, base + 0.5 * direction)
        return float(((f1 - f0) @ first_pc).abs().mean())

    g = np.random.default_rng(0)
    randoms = g.standard_normal((20, gen.latent_dim)).astype(np.float32)
    randoms /= np.linalg.norm(randoms, axis=1, keepdims=True)
    random_moves = [moved(r) for r in randoms]
    assert moved(d.vectors[0]) > 2 * np.mean(random_moves)
    assert moved(d.vectors[0]) > max(random_moves)


def test_a_sampler_renders_the_same_pictures_from_a_file_or_a_weights_copy(dcgan_gen):
    from types import SimpleNamespace

    z = sampling.latents(3, 5, dcgan_gen.spec.kwargs["latent_dim"]).numpy()
    images, points = sampling.sampler_for(dcgan_gen).render(z)
    assert points is None and images.dtype == np.uint8 and images.shape == (5, 1, 28, 28)
    weights = SimpleNamespace(
        spec=dcgan_gen.spec,
        state={
            k: v.detach().numpy().copy()
            for k, v in dcgan_gen.module.state_dict().items()
            if v.is_floating_point()
        },
    )
    copied, _ = sampling.sampler_for(weights).render(z)
    np.testing.assert_array_equal(copied, images)


def test_a_sampler_of_a_2d_model_renders_points(mlp_gen):
    z = sampling.latents(0, 7, mlp_gen.spec.kwargs["latent_dim"]).numpy()
    images, points = sampling.sampler_for(mlp_gen).render(z)
    assert images is None and points.dtype == np.float32 and points.shape == (7, 2)
