"""Quality metrics in the own feature spaces: the real-data floor, known corruptions (noise,
blur, dropped classes), diversity, 2-D modes, and `ganstudio eval`."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _tiny import run_cli, train_tiny

from ganstudio.core.data import load_dataset
from ganstudio.core.data.builtin.points import ring8_centres
from ganstudio.core.data.dataset import Dataset
from ganstudio.core.quality.evaluation import Evaluator, classifier_score, format_evaluation
from ganstudio.core.quality.features import ExtractorTraining

N = 300  # samples per set
STEPS = 60  # feature network training steps (the default is several times more)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("builtin:digits?n=4000")


@pytest.fixture(scope="module")
def evaluators(digits):
    """A classifier's space (labelled digits) and an autoencoder's (the same, unlabelled)."""
    unlabelled = Dataset(digits.data, digits.info, None)
    out = {}
    for kind, ds in (("classifier", digits), ("autoencoder", unlabelled)):
        ext = ExtractorTraining(ds, steps=STEPS).result()
        assert ext.kind == kind
        out[kind] = Evaluator(ext, ds, n=N, seed=0)
    return out


@pytest.fixture(scope="module")
def spare(digits, evaluators):
    """Indices of real digits in neither half of the evaluators (both use seed 0)."""
    ev = evaluators["classifier"]
    used = torch.zeros(len(digits), dtype=torch.bool)
    used[ev.real_a] = used[ev.real_b] = True
    return (~used).nonzero().squeeze(1)


def noisy(x: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return (x.float() + sigma * torch.randn(x.shape, generator=g)).round().clamp(0, 255).byte()


def blurred(x: torch.Tensor, radius: float) -> torch.Tensor:
    k = torch.exp(-(torch.arange(-4.0, 5.0) ** 2) / (2 * radius**2))
    k = (k / k.sum()).repeat(x.shape[1], 1, 1, 1)
    y = F.conv2d(F.pad(x.float(), (4, 4, 0, 0), mode="replicate"), k, groups=x.shape[1])
    y = F.conv2d(F.pad(y, (0, 0, 4, 4), mode="replicate"), k.transpose(2, 3), groups=x.shape[1])
    return y.round().clamp(0, 255).byte()


def strictly_increasing(values) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


KINDS = ("classifier", "autoencoder")


@pytest.mark.parametrize("kind", KINDS)
def test_the_floor_is_near_zero(kind, evaluators, digits, spare):
    ev = evaluators[kind]
    floor = ev.floor
    assert floor.n == N and abs(floor.kid) < 0.05
    assert floor.precision > 0.85 and floor.recall > 0.85
    assert 0.95 < ev.floor_diversity < 1.05
    # Other real digits score like the floor; dropping half the classes does not.
    same = ev.evaluate(digits.data[spare[:N]])
    half = ev.evaluate(digits.data[spare[digits.labels[spare] < 5][:N]])
    assert abs(same.metrics.kid) < 0.05 and same.metrics.fd < 1.5 * floor.fd
    assert 0.95 < same.diversity < 1.05
    assert floor.fd < 0.5 * half.metrics.fd and half.metrics.kid > 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_grow_with_noise_and_blur(kind, evaluators, digits, spare):
    ev, real = evaluators[kind], digits.data[spare[:N]]
    for corrupt, levels in ((noisy, (16, 32, 64)), (blurred, (0.5, 1.0, 1.5, 2.0))):
        sets = [real] + [corrupt(real, s) for s in levels]
        metrics = [ev.evaluate(x).metrics for x in sets]
        assert strictly_increasing([m.fd for m in metrics]), (corrupt.__name__, metrics)
        assert strictly_increasing([m.kid for m in metrics[1:]]), (corrupt.__name__, metrics)
        assert metrics[-1].recall < metrics[0].recall - 0.2


@pytest.mark.parametrize("kind", KINDS)
def test_dropping_classes(kind, evaluators, digits, spare):
    ev, labels = evaluators[kind], digits.labels[spare]
    results = [ev.evaluate(digits.data[spare[labels < k][:N]]) for k in (10, 5, 2, 1)]
    metrics = [r.metrics for r in results]
    assert strictly_increasing([m.fd for m in metrics]), metrics
    assert strictly_increasing([m.kid for m in metrics]), metrics
    assert strictly_increasing([-m.recall for m in metrics]), metrics
    assert metrics[-1].recall < 0.3 and min(m.precision for m in metrics) > 0.8
    if kind == "classifier":
        scores = [m.score for m in metrics]
        assert strictly_increasing([-s for s in scores]), scores
        assert scores[0] > 6 and scores[-1] < 1.5
    else:
        assert all(m.score is None for m in metrics)


def test_diversity_falls_for_copies(evaluators, digits, spare):
    ev = evaluators["classifier"]
    real = digits.data[spare[:N]]
    assert 0.95 < ev.diversity(real) < 1.05
    two = torch.cat([real[:2]] * (N // 2))
    one = real[:1].repeat(N, 1, 1, 1)
    # The mean distance falls by half or more for copies of two; copies of many distinct
    # samples still score near 1 (a limit of the measure).
    assert ev.diversity(two) < 0.7 and ev.diversity(one) < 1e-6
    assert ev.evaluate(two).diversity == pytest.approx(ev.diversity(two))


def test_classifier_score_known_values():
    assert classifier_score(np.eye(4)) == pytest.approx(4)
    assert classifier_score(np.full((10, 4), 0.25)) == pytest.approx(1)
    assert classifier_score(np.tile(np.eye(4)[0], (6, 1))) == pytest.approx(1)


def test_points_ring8_modes_dropped():
    from ganstudio.core.quality.features import get_extractor

    ring = load_dataset("builtin:ring8?n=8000")
    ev = Evaluator(get_extractor(ring), ring, n=1000, seed=0)
    assert abs(ev.floor.kid) < 0.01 and ev.floor.score > 7.5
    g = torch.Generator().manual_seed(5)
    centres = torch.tensor(ring8_centres(), dtype=torch.float32)

    def mixture(modes: int) -> torch.Tensor:
        pick = torch.randint(modes, (1000,), generator=g)
        return centres[pick] + 0.01 * torch.randn(1000, 2, generator=g)

    all8, half, two = (ev.evaluate(mixture(m)).metrics for m in (8, 4, 2))
    assert abs(all8.kid) < 0.01 and all8.recall > 0.9 and all8.score > 7.5
    assert all8.fd < half.fd < two.fd and all8.kid < half.kid < two.kid
    assert all8.recall > half.recall > two.recall
    assert half.score == pytest.approx(4, rel=0.05) and two.score == pytest.approx(2, rel=0.05)


def test_table_json_and_small_sets(evaluators, digits, spare):
    ev = evaluators["classifier"].evaluate(digits.data[spare[:N]])
    text = format_evaluation(ev)
    for word in ("FD", "KID", "precision", "recall", "class score", "diversity", "floor"):
        assert word in text
    assert ev.features in text
    doc = json.loads(json.dumps(ev.to_dict()))
    assert doc["metrics"]["n"] == N and doc["floor"]["score"] > 1
    # Fewer generated samples than the floor's: said so.
    few = evaluators["classifier"].evaluate(digits.data[spare[:50]])
    assert few.metrics.n == 50 and "only 50 generated samples" in few.notes[0]
    # A small dataset: smaller halves, said so; too small: a clear error.
    small = Dataset(digits.data[:100], digits.info, digits.labels[:100])
    ext = evaluators["classifier"].extractor
    assert "100 samples" in Evaluator(ext, small, n=N).notes[0]
    with pytest.raises(ValueError, match="too few real samples"):
        Evaluator(ext, Dataset(digits.data[:15], digits.info, None), n=N)


# ----------------------------------------------------------------------------------------
# ganstudio eval


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("eval-digits"),
        *("--dataset", "builtin:digits?n=256", "--model", "dcgan", "--width", 4),
        *("--latent-dim", 16, "--steps", 3, "--batch-size", 8),
    )


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


EVAL = ("--samples", 60, "--feature-steps", 5, "--device", "cpu")


def test_cli_eval_table_and_json(image_model, cache, capsys):
    assert run_cli("eval", image_model, *EVAL) == 0  # its own dataset, from the model file
    out, err = capsys.readouterr()
    assert "class score" in out and "floor" in out and "classifier of 10" in out
    assert "sampling 60 samples" in err
    assert list((cache / "features").glob("*.safetensors"))
    folder = image_model.parent  # a run folder works too
    assert run_cli("eval", folder, *EVAL, "--dataset", "builtin:digits?n=256", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"]["n"] == 60 and doc["floor"]["n"] == 60
    assert doc["dataset"] == "builtin:digits?n=256" and doc["inception"] is None
    assert doc["metrics"]["fd"] > doc["floor"]["fd"] and doc["diversity"] >= 0


def test_cli_eval_points(tmp_path, cache, capsys):
    model = train_tiny(
        tmp_path / "ring",
        *("--dataset", "builtin:ring8?n=512", "--model", "mlp", "--width", 16, "--depth", 1),
        *("--latent-dim", 4, "--steps", 2, "--batch-size", 16),
    )
    assert run_cli("eval", model, "--samples", 200, "-q", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["classes"] == 8 and doc["floor"]["score"] > 6 and "2-D points" in doc["features"]


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ("builtin:ring8?n=500", "makes 1x28x28 images, but builtin:ring8?n=500 holds 2-D points"),
        ("builtin:shapes?n=100", "holds 3x32x32 images"),
        ("builtin:digits?n=15", "too few real samples"),
        ("builtin:nothing", "unknown built-in dataset"),
    ],
)
def test_cli_eval_errors(image_model, cache, capsys, dataset, message):
    assert run_cli("eval", image_model, *EVAL, "--dataset", dataset) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_cli_eval_unreadable_files(image_model, tmp_path, cache, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04 pickled")
    assert run_cli("eval", junk, *EVAL) == 2
    assert "not a GAN Studio model file" in capsys.readouterr().err
    assert run_cli("eval", tmp_path / "missing.safetensors", *EVAL) == 2
    assert "no such file" in capsys.readouterr().err
    assert run_cli("eval", image_model, *EVAL, "--inception", junk) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "junk.safetensors" in err


def test_cli_eval_inception(image_model, cache, capsys, monkeypatch):
    """The standard numbers' plumbing, with a stand-in for the 91 MB network."""
    inception = pytest.importorskip("ganstudio.core.quality.inception")
    seen = []

    def outputs(model, images, batch_size=50, device=None, progress=None):
        x = torch.as_tensor(images).float()
        assert x.shape[1:] == (1, 28, 28) and model == "stand-in"
        seen.append(len(x))
        feats = torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3)), x[:, :, 10:18].mean((1, 2, 3))])
        probs = torch.softmax(torch.randn(len(x), inception.CLASSES), 1)
        return feats.T.double().numpy(), probs.double().numpy()

    monkeypatch.setattr(inception, "load_inception", lambda path, device: "stand-in")
    monkeypatch.setattr(inception, "inception_outputs", outputs)
    assert run_cli("eval", image_model, *EVAL, "--inception", "weights.pth", "--json") == 0
    doc = json.loads(capsys.readouterr().out)["inception"]
    assert seen == [60, 60, 60] and doc["n"] == 60
    assert doc["fid"] > doc["fid_floor"] >= 0 and doc["is"] > 1 and doc["is_real"] > 1
    assert run_cli("eval", image_model, *EVAL, "--inception", "weights.pth") == 0
    assert "FID" in capsys.readouterr().out
