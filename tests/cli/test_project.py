"""`ganstudio project`: a picture's latent, written with its provenance; bad inputs refused
with one clear line."""

import hashlib

import numpy as np
import pytest
from _tiny import run_cli, train_tiny
from PIL import Image

from ganstudio.core.explore.projection import read_projection
from ganstudio.core.explore.vector_files import load_vectors
from ganstudio.core.modelfile import read_metadata


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("project-digits"),
        *("--dataset", "builtin:digits?n=64", "--model", "dcgan", "--width", 4),
        *("--latent-dim", 8, "--steps", 2, "--batch-size", 8),
    )


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "seven.png"
    a = np.zeros((40, 40), np.uint8)
    a[8:12, 8:32] = 255
    a[12:34, 26:30] = 255
    Image.fromarray(a).save(path)
    return path


def project(*args):
    return run_cli("project", *args, "--steps", 3, "--starts", 2, "--candidates", 16, "-q")


def test_writes_the_latent_with_its_provenance_and_the_reconstruction(
    digits_model, picture, tmp_path, capsys
):
    out, rec = tmp_path / "latent.npy", tmp_path / "found.png"
    assert project(digits_model, picture, "-o", out, "--reconstruction", rec) == 0
    printed = capsys.readouterr()
    assert "pixel distance" in printed.out and "wrote" in printed.err
    z, _ = load_vectors(out)
    assert z.shape == (1, 8) and z.dtype == np.float32
    latent, prov = read_projection(out)
    np.testing.assert_array_equal(latent, z[0])
    assert prov["model_hash"] == read_metadata(digits_model)["content_hash"]
    assert prov["source"]["sha256"] == hashlib.sha256(picture.read_bytes()).hexdigest()
    assert prov["steps"] == 3 and prov["starts"] == 2 and prov["candidates"] == 16
    assert prov["distances"]["pixel"] >= 0
    assert "pixel loss only" in prov["features"]  # no extractor cached for its data
    assert Image.open(rec).size == (28, 28)


def test_a_json_latent_file(digits_model, picture, tmp_path):
    out = tmp_path / "latent.json"
    assert project(digits_model, picture, "-o", out, "--seed", 3) == 0
    assert read_projection(out)[1]["seed"] == 3


def test_bad_inputs_are_refused_in_one_line(digits_model, picture, tmp_path, capsys):
    points = train_tiny(
        tmp_path / "ring",
        *("--dataset", "builtin:ring8?n=256", "--model", "mlp", "--width", 8, "--depth", 1),
        *("--latent-dim", 2, "--steps", 1, "--batch-size", 16),
    )
    capsys.readouterr()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    not_picture = tmp_path / "notes.png"
    not_picture.write_text("hello")
    cases = [
        ((points, picture, "-o", tmp_path / "a.npy"), "projection needs a picture model"),
        ((junk, picture, "-o", tmp_path / "a.npy"), str(junk)),
        ((digits_model, not_picture, "-o", tmp_path / "a.npy"), str(not_picture)),
        ((digits_model, tmp_path / "missing.png", "-o", tmp_path / "a.npy"), "no such file"),
        ((digits_model, picture, "-o", tmp_path / "a.txt"), ".npy or .json"),
        (
            (
                digits_model,
                picture,
                "-o",
                tmp_path / "a.npy",
                "--reconstruction",
                tmp_path / "r.jpg",
            ),
            ".png",
        ),
    ]
    for args, message in cases:
        assert project(*args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "a.npy").exists()
    assert run_cli("project", digits_model, picture, "-o", tmp_path / "a.npy", "--steps", 0) == 2
    assert "--steps must be" in capsys.readouterr().err
