"""Projecting a picture into a generator's latent space (core.explore.projection)."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganstudio.core.explore import projection as proj
from ganstudio.core.explore.sampling import latents
from ganstudio.core.explore.vector_files import load_vectors
from ganstudio.core.models import ModelSpec, build
from ganstudio.core.render import to_uint8

DIM = 8


def spread_out(module: nn.Module) -> nn.Module:
    """DCGAN's initialisation (N(0, 0.02)) draws nearly the same grey picture for every
    latent; weights of unit gain make the pictures differ, as a trained model's do."""
    torch.manual_seed(0)
    for layer in module.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 1.0 / (layer.weight.shape[0] * 4) ** 0.5 * 2)
    return module.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def dcgan():
    torch.set_num_threads(1)
    spec = ModelSpec("dcgan_g", {"latent_dim": DIM, "image_size": 28, "channels": 1, "base": 4})
    return spread_out(build(spec))


def generated(module, seed, n=1):
    z = latents(seed, n, DIM)
    with torch.no_grad():
        return z, to_uint8(module(z))


def test_recovers_a_generated_sample_far_better_than_a_random_latent(dcgan):
    z_true, target = generated(dcgan, 123)
    updates = []
    res = proj.project(
        dcgan,
        target[0],
        steps=120,
        starts=4,
        candidates=200,
        extractor=None,
        progress=updates.append,
    )
    _, randoms = generated(dcgan, 7, n=16)
    random_distance = proj.pixel_distances(randoms, target[0]).mean()
    assert res.pixel_distance < 0.25 * random_distance
    assert res.pixel_distance <= res.start_pixel_distance
    # The latent found is nearer the true one than random latents are (about sqrt 2 per value).
    assert np.sqrt(np.mean((res.latent - z_true[0].numpy()) ** 2)) < 1.0
    assert res.latent.dtype == np.float32 and res.latent.shape == (DIM,)
    assert res.reconstruction.dtype == np.uint8 and res.reconstruction.shape == (1, 28, 28)
    assert [u.step for u in updates] == list(range(1, 121))
    assert updates[-1].reconstruction is not None and updates[1].reconstruction is None
    assert res.history.shape == (120, 3) and np.isnan(res.history[:, 2]).all()
    assert res.feature_distance is None and "pixel loss only" in res.features


def test_the_same_arguments_give_the_same_latent(dcgan):
    _, target = generated(dcgan, 5)
    a = proj.project(dcgan, target[0], steps=5, starts=2, candidates=20, extractor=None)
    b = proj.project(dcgan, target[0], steps=5, starts=2, candidates=20, extractor=None)
    np.testing.assert_array_equal(a.latent, b.latent)


@pytest.mark.parametrize("norm", ["shell", "sphere"])
def test_the_latent_is_kept_at_a_typical_norm(dcgan, norm):
    _, target = generated(dcgan, 5)
    res = proj.project(
        dcgan, target[0], steps=10, starts=2, candidates=20, extractor=None, latent_norm=norm
    )
    assert not res.notes[1:]  # optimised, not a start kept
    length = float(np.linalg.norm(res.latent))
    if norm == "sphere":
        assert length == pytest.approx(np.sqrt(DIM), rel=1e-4)
    else:
        assert abs(length - np.sqrt(DIM)) <= proj.SHELL_SPREADS / np.sqrt(2) + 1e-4


def test_cancelling_stops_between_steps(dcgan):
    _, target = generated(dcgan, 5)
    seen = []
    with pytest.raises(proj.ProjectionCancelled):
        proj.project(
            dcgan,
            target[0],
            steps=1000,
            starts=1,
            candidates=4,
            extractor=None,
            progress=seen.append,
            cancelled=lambda: len(seen) >= 3,
        )
    assert len(seen) == 3


def test_feature_loss_with_an_extractor(dcgan, tiny_images):
    from ganstudio.core.quality.features import ExtractorTraining

    extractor = ExtractorTraining(tiny_images, steps=2).result()
    _, target = generated(dcgan, 9)
    res = proj.project(dcgan, target[0], steps=4, starts=2, candidates=16, extractor=extractor)
    assert res.feature_distance is not None and res.feature_distance >= 0
    assert not np.isnan(res.history[:, 2]).any()
    assert "own-feature" in res.loss


def test_fastgan_projects_too():
    spec = ModelSpec("fastgan_g", {"latent_dim": DIM, "image_size": 32, "channels": 3, "base": 2})
    module = build(spec).eval().requires_grad_(False)
    with torch.no_grad():
        target = to_uint8(module(latents(3, 1, DIM)))[0]
    res = proj.project(module, target, steps=3, starts=2, candidates=8, extractor=None)
    assert res.reconstruction.shape == (3, 32, 32)


def test_a_picture_file_is_prepared_like_training_pictures(tmp_path):
    path = tmp_path / "wide.png"
    rgb = np.zeros((60, 120, 3), np.uint8)
    rgb[:, 30:90] = 255  # the centre square is white, the sides black
    Image.fromarray(rgb).save(path)
    target = proj.load_target(path, (1, 28, 28))
    assert target.pixels.shape == (1, 28, 28) and target.pixels.dtype == np.uint8
    assert target.pixels.min() > 200  # centre-cropped: only the white square is left
    assert target.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert proj.load_target(path, (3, 32, 32)).pixels.shape == (3, 32, 32)


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file"), (b"not a picture", "cannot use this picture"), (b"", "empty")],
)
def test_bad_pictures_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(proj.ProjectionError, match=message) as info:
        proj.load_target(path, (1, 28, 28))
    assert str(path) in str(info.value)


def test_a_folder_is_not_a_picture(tmp_path):
    with pytest.raises(proj.ProjectionError, match="cannot read it"):
        proj.load_target(tmp_path, (1, 28, 28))


def test_points_models_and_bad_settings_are_refused(dcgan):
    points = build(ModelSpec("mlp_g", {"latent_dim": 2, "out_shape": [2]})).eval()
    with pytest.raises(proj.ProjectionError, match="needs a picture model"):
        proj.project(points, np.zeros((1, 28, 28), np.uint8), extractor=None)
    target = np.zeros((1, 28, 28), np.uint8)
    for bad in ({"steps": 0}, {"steps": 10_001}, {"starts": 0}, {"starts": 3, "candidates": 2}):
        with pytest.raises(proj.ProjectionError):
            proj.project(dcgan, target, extractor=None, **bad)
    with pytest.raises(proj.ProjectionError, match="prepared as"):
        proj.project(dcgan, proj.load_target(np.zeros((3, 32, 32), np.uint8), (3, 32, 32)))


def test_the_schedule_ramps_up_then_down_and_the_noise_ends_early():
    assert proj.learning_rate(0.0) == 0.0
    assert proj.learning_rate(0.5) == pytest.approx(proj.LEARNING_RATE)
    assert proj.learning_rate(0.9) < proj.LEARNING_RATE / 2
    assert proj.noise_scale(0.0, 64) == pytest.approx(8 * proj.NOISE_FACTOR)
    assert proj.noise_scale(0.8, 64) == 0.0


def test_the_latent_file_carries_its_provenance(dcgan, tmp_path):
    _, target = generated(dcgan, 5)
    res = proj.project(dcgan, target[0], steps=2, starts=1, candidates=4, extractor=None)
    meta = {"content_hash": "abc123", "step": 7}
    written = proj.save_projection(tmp_path / "latent.npy", res, meta)
    assert written == [tmp_path / "latent.npy", tmp_path / "latent.npy.json"]
    z, _ = load_vectors(tmp_path / "latent.npy")  # the explorer's Load vector reads both
    np.testing.assert_array_equal(z[0], res.latent)
    z2, meta2 = load_vectors(tmp_path / "latent.npy.json")
    np.testing.assert_array_equal(z2[0], res.latent)
    assert meta2["model_hash"] == "abc123" and meta2["seed"] is None
    latent, prov = proj.read_projection(tmp_path / "latent.npy")
    np.testing.assert_array_equal(latent, res.latent)
    assert prov["model_hash"] == "abc123" and prov["steps"] == 2 and prov["starts"] == 1
    assert prov["source"]["sha256"] == res.target.sha256
    assert prov["distances"]["pixel"] == pytest.approx(res.pixel_distance, abs=1e-6)
    assert "pyramid" in prov["loss"]
    proj.save_projection(tmp_path / "latent.json", res, meta)
    doc = json.loads((tmp_path / "latent.json").read_text())
    assert doc["projection"]["kind"] == "projection"
    assert proj.read_projection(tmp_path / "latent.json")[1] == prov


def test_the_extractor_is_found_by_the_fingerprint_of_the_training_data(tiny_images):
    from ganstudio.core.quality.features import ExtractorTraining, store_extractor

    extractor, note = proj.find_extractor({})
    assert extractor is None and "does not record" in note
    meta = {"channels": 1, "dataset": {"fingerprint": tiny_images.info.fingerprint}}
    extractor, note = proj.find_extractor(meta)
    assert extractor is None and "no feature extractor is cached" in note
    store_extractor(ExtractorTraining(tiny_images, steps=1).result(), tiny_images)
    extractor, note = proj.find_extractor(meta)
    assert extractor is not None and note.startswith("pixel loss and own features")
