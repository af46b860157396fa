"""The command line end to end: train a run folder, then sample from its generator."""

import json

import numpy as np
import pytest
from PIL import Image

from ganstudio.cli import main
from ganstudio.core.modelfile import load_generator, read_metadata


def run_cli(*args):
    return main([str(a) for a in args])


def test_train_ring8_then_sample(tmp_path, capsys):
    out = tmp_path / "ring8"
    assert (
        run_cli(
            "train",
            "--dataset",
            "builtin:ring8?n=5000",
            "--model",
            "mlp",
            "--loss",
            "nonsaturating",
            "--steps",
            300,
            "--out",
            out,
            "--width",
            64,
            "--device",
            "cpu",
        )
        == 0
    )
    for name in (
        "config.json",
        "metrics.jsonl",
        "generator.safetensors",
        "checkpoints/step_0000300.safetensors",
    ):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["steps"] == 300 and config["dataset"]["kind"] == "points"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["type"] == "train"]
    assert train and train[-1]["step"] == 300 and np.isfinite(train[-1]["g_loss"])
    assert any(r["type"] == "coverage" and r["n_modes"] == 8 for r in records)
    assert records[-1]["type"] == "end" and records[-1]["status"] == "completed"
    assert sorted(p.name for p in (out / "previews").iterdir())[-1] == "step_0000300.png"

    meta = read_metadata(out / "generator.safetensors")
    assert meta["step"] == 300 and meta["dataset"]["kind"] == "points"

    npy = tmp_path / "samples.npy"
    assert (
        run_cli("sample", out / "generator.safetensors", "--n", 2500, "--seed", 0, "-o", npy) == 0
    )
    arr = np.load(npy)
    assert arr.shape == (2500, 2) and arr.dtype == np.float32 and np.isfinite(arr).all()
    # same seed, same samples
    assert (
        run_cli("sample", out / "generator.safetensors", "--n", 2500, "-o", tmp_path / "again.npy")
        == 0
    )
    assert np.array_equal(arr, np.load(tmp_path / "again.npy"))

    png = tmp_path / "scatter.png"
    assert run_cli("sample", out / "generator.safetensors", "--grid", "8x8", "-o", png) == 0
    assert Image.open(png).size == (512, 512)


def test_train_digits_then_sample_grid(tmp_path):
    out = tmp_path / "digits"
    assert (
        run_cli(
            "train",
            "--dataset",
            "builtin:digits?n=2000",
            "--steps",
            200,
            "--metrics-every",
            0,
            "--batch-size",
            16,
            "--width",
            8,
            "--out",
            out,
            "-q",
            "--device",
            "cpu",
        )
        == 0
    )
    gen = load_generator(out / "generator.safetensors")
    assert gen.is_image and gen.meta["image_size"] == 28 and gen.meta["channels"] == 1

    png = tmp_path / "grid.png"
    assert (
        run_cli("sample", out / "generator.safetensors", "--grid", "4x6", "--seed", 0, "-o", png)
        == 0
    )
    img = Image.open(png)
    pad = 2
    assert img.size == (6 * 28 + 7 * pad, 4 * 28 + 5 * pad)
    assert img.text["ganstudio.seed"] == "0" and img.text["ganstudio.grid"] == "4x6"

    npy = tmp_path / "digits.npy"
    assert run_cli("sample", out / "generator.safetensors", "--n", 10, "-o", npy) == 0
    arr = np.load(npy)
    assert arr.shape == (10, 28, 28, 1) and arr.dtype == np.uint8

    # Every command that reads a model takes the run folder too: its model file, or its
    # newest checkpoint while it trains (no model file yet).
    assert run_cli("sample", out, "--n", 10, "-o", tmp_path / "folder.npy") == 0
    assert np.array_equal(arr, np.load(tmp_path / "folder.npy"))
    assert run_cli("export", "grid", out, "--grid", "2x2", "-o", tmp_path / "g.png") == 0
    assert Image.open(tmp_path / "g.png").size == (2 * 28 + 3 * pad, 2 * 28 + 3 * pad)
    (out / "generator.safetensors").unlink()
    assert run_cli("sample", out, "--n", 10, "-o", tmp_path / "ckpt.npy") == 0
    assert np.load(tmp_path / "ckpt.npy").shape == (10, 28, 28, 1)


def test_train_with_the_relativistic_loss_and_adaptive_augmentation(tmp_path):
    """`--loss rpgan --augment auto`: the run's settings say so and the metrics log holds the
    augmentation probability of every report."""
    out = tmp_path / "ada"
    assert (
        run_cli(
            "train",
            "--dataset",
            "builtin:digits?n=256",
            "--steps",
            12,
            "--batch-size",
            8,
            "--width",
            8,
            "--loss",
            "rpgan",
            "--augment",
            "auto",
            "--augment-target",
            0.5,
            "--augment-kimg",
            0.064,
            "--metrics-every",
            0,
            "--out",
            out,
            "-q",
            "--device",
            "cpu",
        )
        == 0
    )
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["loss"], cfg["augment"], cfg["diffaugment"]) == (
        "rpgan",
        "auto",
        "color,translation,cutout",
    )
    assert (cfg["augment_target"], cfg["augment_kimg"], cfg["r1_gamma"]) == (0.5, 0.064, 1.0)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["type"] == "train"]
    assert train and all(0.0 <= r["augment_p"] <= 1.0 for r in train)
    assert records[-1]["status"] == "completed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "builtin:nope"], "unknown built-in dataset"),
        (["train", "--config", "."], "is a folder"),
        (["train", "--config", "/no/such.toml"], "not found"),
        (["sample", "/no/such/model.safetensors", "-o", "x.png"], "no such file"),
    ],
)
def test_user_errors_are_one_clear_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_folder_with_no_model_in_it_is_one_clear_line(tmp_path, capsys):
    out = ["-o", tmp_path / "x.png"]
    for command, extra in (
        (["sample"], out),
        (["export", "grid"], out),
        (["eval"], []),
        (["project"], [tmp_path / "p.png", "-o", tmp_path / "z.npy"]),
    ):
        assert run_cli(*command, tmp_path, *extra) == 2, command
        assert "a folder with no model in it" in capsys.readouterr().err, command


def test_sample_rejects_a_file_that_is_not_a_model(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 3)
    assert run_cli("sample", junk, "-o", tmp_path / "x.png") == 2
    assert "not a GAN Studio model file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_train_for_minutes_then_resume_for_longer(tmp_path, capsys):
    out = tmp_path / "timed"
    tiny = ["--dataset", "builtin:ring8?n=512", "--width", 8, "--batch-size", 16, "--device", "cpu"]
    assert run_cli("train", *tiny, "--minutes", 0.01, "--out", out, "-q") == 0
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["minutes"] == 0.01
    end = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert end["status"] == "completed" and "minute" in end["message"]
    capsys.readouterr()
    # The checkpoint has trained its whole budget: a resume needs a larger one.
    assert run_cli("train", "--resume", out, "-q") == 2
    assert "--minutes" in capsys.readouterr().err
    assert run_cli("train", "--resume", out, "--minutes", 0.02, "-q") == 0
    end = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert end["status"] == "completed" and end["step"] > 0
