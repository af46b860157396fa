"""`ganstudio export dataset` and `ganstudio FILE_OR_FOLDER`: what a bare argument means,
what the window is asked to open, and the errors said before the window opens."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.cli import build_parser, main, split_paths
from ganstudio.core.opening import OpenPathError, classify

COMMANDS = ("train", "sample", "export")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from ganstudio.core.modelfile import save_generator
    from ganstudio.core.models import ModelSpec, build

    torch.manual_seed(0)
    spec = ModelSpec("dcgan_g", {"latent_dim": 8, "image_size": 28, "channels": 1, "base": 4})
    state = {k: v.numpy() for k, v in build(spec).state_dict().items() if v.is_floating_point()}
    path = tmp_path_factory.mktemp("model") / "generator.safetensors"
    save_generator(path, spec, state, {"step": 1, "dataset": {"kind": "images"}})
    return path


def test_export_dataset_writes_pictures_and_a_manifest(model_file, tmp_path, capsys):
    out = tmp_path / "synthetic"
    argv = ["export", "dataset", str(model_file), "--n", "6", "--seed", "3", "-o", str(out)]
    assert main([*argv, "--truncation", "0.5"]) == 0
    err = capsys.readouterr().err
    assert "6 pictures (no classes), seeds 3 to 8" in err and "wrote 6 pictures" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["truncation"] == 0.5
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:05d}.png" for i in range(6)]
    # Again into the same folder: refused unless asked.
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv[:4], "2", *argv[5:], "--overwrite", "-q"]) == 0
    assert capsys.readouterr().err.startswith("wrote 2 pictures")
    assert len(list(out.glob("*.png"))) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "X"], "give the number of pictures with --n N"),
        (["--n", "3"], "give the dataset folder with -o FOLDER"),
        (["--n", "3", "--per-class", "2", "-o", "X"], "--per-class needs a model with classes"),
        (["--n", "3", "--grid", "2x2", "-o", "X"], "--grid does not apply"),
        (["--n", "0", "-o", "X"], "--n must be"),
    ],
)
def test_export_dataset_refusals(model_file, tmp_path, capsys, extra, message):
    extra = [str(tmp_path / "x") if a == "X" else a for a in extra]
    assert main(["export", "dataset", str(model_file), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_bare_path_is_split_from_the_options():
    assert split_paths(["train", "--steps", "3"], COMMANDS) == (["train", "--steps", "3"], [])
    assert split_paths(["a.png"], COMMANDS) == ([], ["a.png"])
    assert split_paths(["-v", "--threads", "2", "m.safetensors"], COMMANDS) == (
        ["-v", "--threads", "2"],
        ["m.safetensors"],
    )
    assert split_paths(["--threads=2", "x", "y"], COMMANDS) == (["--threads=2"], ["x", "y"])
    assert split_paths(["--", "-odd.png"], COMMANDS) == ([], ["-odd.png"])
    assert split_paths(["./train"], COMMANDS) == ([], ["./train"])
    assert split_paths([], COMMANDS) == ([], [])
    assert "FILE_OR_FOLDER" in build_parser().format_help()


@pytest.fixture
def window_calls(monkeypatch):
    """What the window would have been asked to open (the window itself is not started)."""
    import ganstudio.gui.app

    calls = []
    monkeypatch.setattr(
        ganstudio.gui.app, "main", lambda open_paths=(): calls.append(list(open_paths)) or 0
    )
    return calls


def test_a_path_opens_the_window_on_it(model_file, window_calls):
    assert main([str(model_file)]) == 0
    assert window_calls == [[str(model_file)]]


def test_a_built_in_dataset_s_name_goes_to_the_window(window_calls):
    assert main(["builtin:digits"]) == 0  # the window checks the name (it lists them)
    assert window_calls == [["builtin:digits"]]


def test_no_argument_still_opens_the_window(window_calls):
    assert main([]) == 0
    assert window_calls == [[]]


def test_a_missing_path_is_an_error_before_the_window(tmp_path, capsys, window_calls):
    assert main([str(tmp_path / "gone.png")]) == 2
    assert "gone.png: no such file or folder" in capsys.readouterr().err
    assert main(["trian"]) == 2
    assert "trian is neither a command (train, " in capsys.readouterr().err
    assert window_calls == []


def test_a_command_wins_over_a_file_of_its_name(tmp_path, monkeypatch, capsys, window_calls):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample").mkdir()
    assert main(["sample"]) == 2  # the command, which needs its model
    err = capsys.readouterr().err
    assert "use: ganstudio ./sample" in err
    assert main(["./sample"]) == 0
    assert window_calls == [["./sample"]]


def save_png(path, with_provenance):
    picture = np.zeros((4, 4, 3), np.uint8)
    if not with_provenance:
        Image.fromarray(picture).save(path)
        return
    from ganstudio.core.explore.exports import save_grid

    prov = {
        "app": "ganstudio",
        "provenance_version": 1,
        "kind": "sample",
        "model_hash": "abc",
        "latent_dim": 8,
        "truncation": 1.0,
        "seeds": [1],
    }
    save_grid(path, picture, prov)


def test_what_a_path_is(tmp_path, model_file):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    pics = tmp_path / "pics"
    pics.mkdir()
    save_png(tmp_path / "export.png", True)
    save_png(tmp_path / "plain.png", False)
    (tmp_path / "walk.gif").write_bytes(b"GIF89a")
    (tmp_path / "walk.gif.json").write_text("{}")
    (tmp_path / "digits.zip").write_bytes(b"PK")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    assert classify(model_file).kind == "model"
    assert classify(run).kind == "run"
    assert classify(pics).kind == "dataset"
    assert classify(tmp_path / "export.png").kind == "export"
    assert classify(tmp_path / "walk.gif").kind == "export"
    assert classify(tmp_path / "walk.gif.json").kind == "export"
    assert classify(tmp_path / "digits.zip").kind == "dataset"
    assert classify(tmp_path / "train-images-idx3-ubyte").kind == "dataset"
    with pytest.raises(OpenPathError, match="a picture without GAN Studio provenance"):
        classify(tmp_path / "plain.png")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OpenPathError, match="not something GAN Studio opens"):
        classify(tmp_path / "notes.txt")
    with pytest.raises(OpenPathError, match="no such file or folder"):
        classify(tmp_path / "gone")
    (tmp_path / "lone.gif").write_bytes(b"GIF89a")
    with pytest.raises(OpenPathError, match="lone.gif.json"):
        classify(tmp_path / "lone.gif")
