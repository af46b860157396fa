"""Class-conditional models from the command line: training on class subfolders, the model
file's class names, sampling and exporting by class, ONNX with a class input, eval per class,
and the errors (unknown class, unconditional model, data without labels)."""

import json

import numpy as np
import pytest
import torch
from _tiny import run_cli, train_tiny
from PIL import Image

from ganstudio.core.explore import exports, sampling
from ganstudio.core.modelfile import load_generator

CLASSES = ("circle", "square")


def _labelled_folder(root):
    """16 pictures of 28 px per class in class subfolders: bright discs and dark squares."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    for k in range(16):
        disc = ((yy - 14) ** 2 + (xx - 14) ** 2 < rng.integers(20, 120)).astype(np.uint8) * 255
        square = np.full((28, 28), 255, np.uint8)
        a, b = rng.integers(4, 10), rng.integers(18, 24)
        square[a:b, a:b] = 0
        for name, pic in zip(CLASSES, (disc, square)):
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pic).save(root / name / f"{k:02d}.png")
    return root


@pytest.fixture(scope="module")
def cond_model(tmp_path_factory):
    root = _labelled_folder(tmp_path_factory.mktemp("pics") / "shapes")
    out = tmp_path_factory.mktemp("run")
    args = ("--dataset", f"{root}?size=28&mode=gray", "--conditional", "--width", 4)
    args += ("--latent-dim", 8, "--steps", 3, "--batch-size", 8)
    return train_tiny(out, *args)


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain")
    args = ("--dataset", "builtin:digits?n=128", "--width", 4, "--latent-dim", 8)
    return train_tiny(out, *args, "--steps", 2, "--batch-size", 8)


def test_the_model_file_records_the_classes(cond_model):
    gen = load_generator(cond_model)
    assert gen.classes == 2 and gen.class_names == CLASSES
    assert gen.meta["class_names"] == list(CLASSES)
    assert gen.spec.kwargs["classes"] == 2
    # A class picks the picture: the same latent drawn as each class differs.
    z = sampling.latents(0, 2, gen.latent_dim)
    a = sampling.generate(gen.module, z, classes=torch.tensor([0, 0]))
    b = sampling.generate(gen.module, z, classes=torch.tensor([1, 1]))
    assert not torch.equal(a, b)


def test_sample_by_class_and_clear_errors(cond_model, plain_model, tmp_path, capsys):
    one = tmp_path / "square.png"
    assert run_cli("sample", cond_model, "--class", "square", "--grid", "2x2", "-o", one) == 0
    with Image.open(one) as im:
        assert im.text["ganstudio.classes"] == "square"
    both = tmp_path / "both.png"
    assert run_cli("sample", cond_model, "--classes", "circle,square", "-o", both) == 0
    with Image.open(both) as im:
        assert im.text["ganstudio.classes"] == "circle,square"
    assert run_cli("sample", cond_model, "--class", "1", "-o", tmp_path / "n.npy") == 0
    assert np.load(tmp_path / "n.npy").shape == (64, 28, 28, 1)
    capsys.readouterr()

    assert run_cli("sample", cond_model, "--class", "triangle", "-o", tmp_path / "x.png") == 2
    err = capsys.readouterr().err
    assert "unknown class 'triangle'" in err and "classes: circle, square" in err
    assert run_cli("sample", plain_model, "--class", "3", "-o", tmp_path / "y.png") == 2
    assert "this model is unconditional" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_export_grid_by_class_reproduces(cond_model, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    args = ("--grid", "2x3", "--classes", "square,circle", "-o", grid)
    assert run_cli("export", "grid", cond_model, *args) == 0
    prov = exports.read_provenance(grid)
    assert prov["classes"] == [1, 1, 1, 0, 0, 0]
    assert prov["class_names"] == ["square"] * 3 + ["circle"] * 3
    again = tmp_path / "again.png"
    assert run_cli("export", "reproduce", grid, "--model", cond_model, "-o", again) == 0
    with Image.open(grid) as a, Image.open(again) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # The classes matter: the same seeds drawn as the other classes give another picture.
    gen = load_generator(cond_model)
    swapped = exports.render_provenance(gen, prov | {"classes": [0, 0, 0, 1, 1, 1]})
    assert not np.array_equal(swapped, exports.render_provenance(gen, prov))

    walk = tmp_path / "walk.gif"
    args = ("--seeds", "1,2", "--steps", 2, "--class", "circle", "-o", walk)
    assert run_cli("export", "interpolation", cond_model, *args) == 0
    assert json.loads((tmp_path / "walk.gif.json").read_text())["classes"] == [0]
    capsys.readouterr()
    assert (
        run_cli("export", "grid", cond_model, "--class", "hexagon", "-o", tmp_path / "h.png") == 2
    )
    assert "classes: circle, square" in capsys.readouterr().err


def test_onnx_of_a_conditional_model_has_a_class_input(cond_model, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "cond.onnx"
    assert run_cli("export", cond_model, "--onnx", out) == 0
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    assert names == ["z", "class"] and sess.get_inputs()[1].type == "tensor(int64)"
    gen = load_generator(cond_model)
    z = sampling.latents(5, 4, gen.latent_dim)
    y = torch.tensor([0, 1, 1, 0])
    expected = sampling.generate(gen.module, z, classes=y).numpy()
    (got,) = sess.run(["samples"], {"z": z.numpy(), "class": y.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_eval_measures_each_class(cond_model, capsys):
    gen = load_generator(cond_model)
    spec = gen.meta["dataset"]["spec"]
    args = ("--samples", 20, "--feature-steps", 3, "--device", "cpu", "-q", "--json")
    assert run_cli("eval", cond_model, "--dataset", spec, *args) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["per_class"]
    assert [r["name"] for r in rows] == list(CLASSES)
    for r in rows:
        assert r["n"] == r["real"] == 10
        assert 0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["fd"])
    assert any("samples per class" in n for n in doc["per_class_notes"])


def test_conditional_training_without_labels_is_a_clear_error(tmp_path, capsys):
    root = tmp_path / "flat"
    root.mkdir()
    for k in range(8):
        Image.fromarray(np.full((28, 28), 30 * k, np.uint8)).save(root / f"{k}.png")
    args = ("--dataset", f"{root}?size=28", "--conditional", "--steps", 1, "--out", tmp_path / "r")
    assert run_cli("train", *args, "-q", "--device", "cpu") == 2
    assert "conditional training needs labelled pictures" in capsys.readouterr().err
