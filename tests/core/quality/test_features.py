"""The own feature extractor: kinds, inputs, determinism, slices of training, the cache."""

import logging
import time

import numpy as np
import pytest
import torch

from ganstudio.core.data import load_dataset
from ganstudio.core.data.builtin.points import ring8_centres
from ganstudio.core.data.dataset import Dataset, DatasetInfo
from ganstudio.core.quality import features
from ganstudio.core.quality.features import (
    ExtractorTraining,
    cache_path,
    extractor_kind,
    get_extractor,
    load_extractor,
)

STEPS = 20  # enough to have a network; the metrics' tests train longer


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("builtin:digits?n=600")


@pytest.fixture(scope="module")
def classifier(digits):
    return ExtractorTraining(digits, steps=STEPS).result()


def unlabelled(ds: Dataset) -> Dataset:
    return Dataset(ds.data, ds.info, None)


def random_images(n: int, shape: tuple[int, int, int], seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    return Dataset(x, DatasetInfo(f"test:{shape}", "images", n, shape))


def test_kinds(digits):
    assert extractor_kind(digits) == "classifier"
    assert extractor_kind(unlabelled(digits)) == "autoencoder"
    assert extractor_kind(load_dataset("builtin:ring8?n=100")) == "points"
    one_class = Dataset(digits.data, digits.info, torch.zeros(len(digits), dtype=torch.long))
    assert extractor_kind(one_class) == "autoencoder"


def test_classifier_outputs(classifier, digits):
    x = digits.data[:40]
    f = classifier.features(x)
    assert f.dtype == np.float64 and f.shape == (40, classifier.dim) == (40, 128 + 3)
    assert classifier.kind == "classifier" and classifier.num_classes == 10
    probs = classifier.class_probs(x.numpy())  # NumPy input too
    assert probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    # Float images in [-1, 1] are the same pictures as uint8 ones.
    np.testing.assert_allclose(classifier.features(x.float() / 127.5 - 1), f, atol=1e-6)
    text = classifier.describe()
    assert "classifier of 10 labelled classes" in text and "held-out accuracy" in text
    with pytest.raises(ValueError, match=r"expected images \(N, 1, H, W\)"):
        classifier.features(torch.zeros(4, 3, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected images"):
        classifier.features(torch.zeros(4, 2))


def test_rgb_any_size_seeded():
    """1 or 3 channels and any size from 16 to 256; the same seed, the same network."""
    for shape, work in (((3, 16, 16), 32), ((3, 64, 64), 64), ((1, 128, 128), 64)):
        ds = random_images(64, shape)
        a = ExtractorTraining(ds, seed=3, steps=2).result()
        assert a.kind == "autoencoder" and a.meta["work_size"] == work
        assert a.class_probs(ds.data[:5]) is None
        fa = a.features(ds.data[:10])
        assert fa.shape == (10, 128 + 3 * shape[0]) and np.isfinite(fa).all()
    b = ExtractorTraining(ds, seed=3, steps=2).result()
    np.testing.assert_array_equal(b.features(ds.data[:10]), fa)
    c = ExtractorTraining(ds, seed=4, steps=2).result()
    assert not np.allclose(c.features(ds.data[:10]), fa)


def test_training_in_slices(digits):
    t = ExtractorTraining(unlabelled(digits), steps=12)
    assert not t.done and t.progress == 0.0
    assert not t.run_for(0.0)  # one step at least
    assert t.step == 1 and t.progress == pytest.approx(1 / 12)
    last = t.progress
    while not t.run_for(0.01):
        assert last < t.progress < 1.0
        last = t.progress
    assert t.done and t.progress == 1.0 and t.step == 12
    ext = t.result()
    assert ext is t.result() and ext.kind == "autoencoder"
    assert "autoencoder of 600 unlabelled pictures" in ext.describe()
    assert ext.meta["heldout_mse"] > 0


def test_the_time_left_leaves_out_the_first_step_s_one_time_costs(digits):
    t = ExtractorTraining(digits, steps=40)
    calls = [0]

    def slow_first(_module, _inputs):  # the first step pays one-time costs of 0.5 s
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.5)

    t.modules["encoder"].register_forward_pre_hook(slow_first)
    t.run_for(0.0)
    first = t.seconds_left()
    assert first is not None and first > 0.5 * 39  # one step known: it is all there is
    t0 = time.perf_counter()
    t.run_for(0.0)
    t.run_for(0.0)
    later = (time.perf_counter() - t0) / 2  # a step after the first
    per_sample = t.seconds_per_sample()
    assert per_sample is not None
    step = per_sample * t.batch_size / features.FORWARD_SHARE  # the speed it goes by
    assert step == pytest.approx(later, rel=0.2)
    assert step < (0.5 + 2 * later) / 3 * 0.8  # the first step's 0.5 s is not averaged in


def test_points_are_their_own_features(tmp_path):
    ring = load_dataset("builtin:ring8?n=4000")
    t = ExtractorTraining(ring)
    assert t.done and t.progress == 1.0
    ext = get_extractor(ring)
    assert ext.kind == "points" and ext.dim == 2 and ext.num_classes == 8
    f = ext.features(ring.data)
    np.testing.assert_allclose(f.mean(0), 0, atol=1e-9)
    assert f.var(0).mean() == pytest.approx(1, rel=1e-2)
    probs = ext.class_probs(ring8_centres())
    np.testing.assert_allclose(probs, np.eye(8), atol=1e-9)
    assert "modes" in ext.describe()
    assert not (tmp_path / "cache" / "features").exists()  # nothing to cache
    moons = get_extractor(load_dataset("builtin:moons?n=500"))
    assert moons.num_classes == 0 and moons.class_probs(np.zeros((3, 2))) is None
    with pytest.raises(ValueError, match="2-D points"):
        ext.features(np.zeros((3, 3)))


def test_second_call_loads_from_the_cache(digits, monkeypatch):
    calls = []
    ext = get_extractor(digits, progress=calls.append, steps=STEPS)
    assert calls and calls[-1] == 1.0 and all(0 <= c <= 1 for c in calls)
    path = cache_path(digits.info.fingerprint)
    assert path.is_file() and path.name.endswith(f"-v{features.VERSION}.safetensors")
    assert path.read_bytes()[8:9] == b"{"  # safetensors: a length, then a JSON header

    def no_training(*args):
        raise AssertionError("trained again")

    monkeypatch.setattr(ExtractorTraining, "run_for", no_training)
    again = get_extractor(digits, steps=STEPS)
    x = digits.data[:50]
    np.testing.assert_allclose(again.features(x), ext.features(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(again.class_probs(x), ext.class_probs(x), rtol=1e-5, atol=1e-7)
    assert again.describe() == ext.describe() and again.meta == ext.meta


def test_damaged_or_other_cache_is_retrained(digits, caplog):
    ds = unlabelled(digits)
    get_extractor(ds, steps=3)
    path = cache_path(ds.info.fingerprint)
    good = path.read_bytes()
    damages = (
        b"not a safetensors file",
        good[: len(good) // 2],  # cut off
        good.replace(b'\\"kind\\"', b'\\"kine\\"', 1),  # the description lacks a field
        good.replace(b'\\"version\\": 1', b'\\"version\\": 9', 1),  # a newer format
    )
    assert all(d != good for d in damages) and {len(d) for d in damages[2:]} == {len(good)}
    for damage in damages:
        path.write_bytes(damage)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ganstudio.core.quality.features"):
            ext = get_extractor(ds, steps=3)
        assert "damaged feature cache" in caplog.text
        assert ext.kind == "autoencoder"
        assert load_extractor(path).meta == ext.meta  # replaced by a good one
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ganstudio.core.quality.features"):
        other = get_extractor(ds, steps=4)
    assert "other settings" in caplog.text and other.meta["steps"] == 4
    # Without the cache nothing is read or written.
    path.unlink()
    get_extractor(ds, steps=3, use_cache=False)
    assert not path.exists()
