"""Nearest real images: exact copies at distance 0, the same answer as a brute-force NumPy
search, chunking that changes nothing, and features in place of pixels."""

import numpy as np
import pytest
import torch

from ganstudio.core.quality.neighbours import nearest_real


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 3, 8, 8), dtype=np.uint8)


def brute_force(queries, data, k):
    q = queries.reshape(len(queries), -1).astype(np.float64) / 127.5 - 1
    x = data.reshape(len(data), -1).astype(np.float64) / 127.5 - 1
    d = np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


def test_an_image_of_the_dataset_is_its_own_nearest_neighbour_at_distance_zero(images):
    data = torch.from_numpy(images)
    queries = images[[5, 123, 299]]
    idx, dist = nearest_real(queries, data, k=4)
    assert idx.shape == (3, 4) and dist.shape == (3, 4) and idx.dtype == np.int64
    assert idx[:, 0].tolist() == [5, 123, 299]
    assert (dist[:, 0] == 0).all()
    assert (np.diff(dist, axis=1) >= 0).all()  # nearest first


def test_agrees_with_a_brute_force_search(images):
    rng = np.random.default_rng(1)
    queries = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    idx, dist = nearest_real(queries, torch.from_numpy(images), k=8)
    want_idx, want_dist = brute_force(queries, images, 8)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-5)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunking_gives_the_same_result(images, chunk):
    rng = np.random.default_rng(2)
    queries = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    whole = nearest_real(queries, images, k=6, chunk=len(images))
    calls = []
    parts = nearest_real(
        queries, images, k=6, chunk=chunk, progress=lambda d, t: calls.append((d, t))
    )
    np.testing.assert_array_equal(parts[0], whole[0])
    np.testing.assert_allclose(parts[1], whole[1], rtol=1e-6)
    assert calls[-1] == (300, 300) and len(calls) == -(-300 // chunk)


def test_k_larger_than_the_dataset_returns_every_image(images):
    idx, dist = nearest_real(images[:2], images[:3], k=10)
    assert idx.shape == (2, 3) and sorted(idx[0].tolist()) == [0, 1, 2]


def test_features_replace_pixels():
    # Mean brightness as the only feature: the nearest image is the one of closest brightness.
    levels = np.array([0, 50, 100, 200, 250], np.uint8)
    data = np.broadcast_to(levels[:, None, None, None], (5, 1, 4, 4)).copy()
    query = np.full((1, 1, 4, 4), 190, np.uint8)
    seen = []

    def brightness(batch: torch.Tensor) -> np.ndarray:
        seen.append(batch.dtype)
        return batch.float().mean(dim=(1, 2, 3), keepdim=True).numpy()

    idx, dist = nearest_real(query, data, k=2, features=brightness)
    assert idx[0].tolist() == [3, 4]
    assert dist[0].tolist() == pytest.approx([10.0, 60.0])
    assert set(seen) == {torch.uint8}


def test_shapes_must_match(images):
    with pytest.raises(ValueError, match="do not match"):
        nearest_real(images[:1, :1], images)
