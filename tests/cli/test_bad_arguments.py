"""Absurd numbers on the command line: every numeric option of every command refuses them
while the arguments are parsed, with one line ``error: ...`` naming the option and its range,
and exit status 2; never a traceback, never any work done first."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from ganstudio.cli import build_parser, main
from ganstudio.cli.common import NumberArg, float_range, int_range
from ganstudio.core.config import LIMITS, Range

# Bad for every numeric option: not numbers, not finite, or far beyond any range.
ALWAYS_BAD = [
    "1e30",
    "-1",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    str(2**70),
    "1" * 5000,  # more digits than int() converts
    "abc",
    "",
    "0x10",
]


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def _numeric_options() -> list[tuple[tuple[str, ...], str, argparse.Action]]:
    out = []
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            if action.option_strings and (
                isinstance(action.type, NumberArg) or action.type in (int, float)
            ):
                out.append((path, action.option_strings[-1], action))
    return out


OPTIONS = _numeric_options()
IDS = [" ".join((*path, option)) for path, option, _ in OPTIONS]


def _edges(limit: Range) -> list[str]:
    """Values just outside the range (the end itself where it is open), and fractions for a
    whole-number range."""
    if limit.integer:
        bad = [str(int(limit.low) - 1), str(int(limit.high) + 1), "1.5", "2.0", "1e3"]
    else:
        step = max(abs(limit.low), abs(limit.high), 1.0) * 1e-3
        bad = [repr(limit.low - step), repr(limit.high + step)]
    if limit.low_open:
        bad.append(repr(limit.low))
    if limit.high_open:
        bad.append(repr(limit.high))
    return bad


def _refused(argv: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2, argv  # parse errors return the status, as all usage errors do
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert option in lines[0], err
    return lines[0]


def test_the_walk_finds_the_numeric_options_of_every_command():
    commands = {path[0] for path, _, _ in OPTIONS}
    assert {"train", "sample", "export", "eval", "bench", "data"} <= commands
    assert len(OPTIONS) >= 40


@pytest.mark.parametrize("path, option, action", OPTIONS, ids=IDS)
def test_every_numeric_option_has_a_range(path, option, action):
    """A bare int or float parses 2**70 or nan: each option says which numbers it takes."""
    assert isinstance(action.type, NumberArg) or action.choices, f"{path} {option}"


@pytest.mark.parametrize("path, option, action", OPTIONS, ids=IDS)
def test_absurd_values_end_in_one_line_and_status_2(path, option, action, capsys):
    limit = action.type.limit if isinstance(action.type, NumberArg) else None
    values = ALWAYS_BAD + (_edges(limit) if limit else [])
    for value in values:
        line = _refused([*path, f"{option}={value}"], option, capsys)
        if limit is not None:
            assert limit.describe() in line, line


@pytest.mark.parametrize("path, option, action", OPTIONS, ids=IDS)
def test_the_ends_of_each_range_are_accepted(path, option, action):
    if not isinstance(action.type, NumberArg):
        return
    limit = action.type.limit
    for end, open_ in ((limit.low, limit.low_open), (limit.high, limit.high_open)):
        if open_:
            continue
        value = action.type(str(int(end)) if limit.integer else repr(float(end)))
        assert value == end and isinstance(value, int if limit.integer else float)


def test_the_message_names_the_option_and_the_range(capsys):
    line = _refused(["train", "--batch-size", "1e30"], "--batch-size", capsys)
    assert line == "error: --batch-size must be a whole number between 1 and 1,048,576, not '1e30'"
    line = _refused(["export", "interpolation", "m", "--fps", "0.001"], "--fps", capsys)
    assert "between 0.1 and 120" in line
    line = _refused(["train", "--ema", "1"], "--ema", capsys)
    assert "at least 0 and below 1 (0 = off)" in line
    line = _refused(["train", "--lr", "0"], "--lr", capsys)
    assert "above 0 and at most 1" in line


def test_other_usage_errors_are_one_line_too(capsys):
    _refused(["train", "--model", "bogus"], "--model", capsys)
    line = _refused(["sample", "model.safetensors"], "-o/--output", capsys)
    assert "ganstudio sample --help" in line
    _refused(["train", "--no-such-option"], "--no-such-option", capsys)


@pytest.mark.parametrize(
    "value", ["0.5", "0.5,nan", "0.5,1", "1e400,0.9", "-0.1,0.9", "0.5,0.9,0.99", "a,b"]
)
@pytest.mark.parametrize("option", ["--betas-g", "--betas-d"])
def test_adam_betas_are_refused_while_parsing(option, value, capsys):
    line = _refused(["train", f"{option}={value}"], option, capsys)
    assert "two numbers separated by a comma, each at least 0 and below 1" in line


def test_range_factories():
    whole = int_range(1, 10)
    assert whole("10") == 10 and isinstance(whole("1"), int)
    with pytest.raises(argparse.ArgumentTypeError, match="between 1 and 10, not '11'"):
        whole("11")
    real = float_range(0, 1, low_open=True)
    assert real("1") == 1.0 and real("1e-300") == 1e-300
    for text in ("0", "nan", "inf", "-1e-9"):
        with pytest.raises(argparse.ArgumentTypeError, match="above 0 and at most 1"):
            real(text)
    with pytest.raises(ValueError):
        float_range(0, math.inf)
    long = "9" * 100
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        whole(long)
    assert len(str(exc.value)) < 120  # a huge argument is not echoed whole


def test_options_share_the_ranges_of_settings_files():
    parser = build_parser()
    actions = {a.dest: a for a in dict(_commands(parser))[("train",)]._actions}
    for dest in (
        "batch_size",
        "steps",
        "seed",
        "latent_dim",
        "width",
        "depth",
        "ema",
        "lr_g",
        "augment_target",
        "augment_kimg",
    ):
        assert actions[dest].type.limit == LIMITS[dest], dest


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """A small MLP generator of 28x28 grey pictures as a model file."""
    import torch

    from ganstudio.core.modelfile import save_generator
    from ganstudio.core.models import ModelSpec, build

    spec = ModelSpec("mlp_g", {"latent_dim": 4, "out_shape": [1, 28, 28], "hidden": 8, "layers": 1})
    with torch.no_grad():
        state = {k: v.numpy().copy() for k, v in build(spec).state_dict().items()}
    path = tmp_path_factory.mktemp("model") / "g.safetensors"
    meta = {"dataset": {"kind": "images", "sample_shape": [1, 28, 28]}, "latent_dim": 4}
    save_generator(path, spec, state, meta)
    return path


def test_sample_refuses_more_than_memory_holds(image_model, tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert main(["sample", str(image_model), "--n", "10000000", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--n 10000000 would take" in err and "samples fit in 16 GiB" in err
    assert not out.exists()


def test_sample_refuses_a_picture_too_large(image_model, tmp_path, capsys):
    out = tmp_path / "x.png"
    argv = ["sample", str(image_model), "--grid", "64x64", "--upscale", "16", "-o", str(out)]
    assert main(argv) == 2
    assert "use a smaller --grid or --upscale" in capsys.readouterr().err
    assert not out.exists()


def test_sample_draws_only_the_grid_of_a_large_n(image_model, tmp_path):
    small, large = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["sample", str(image_model), "--grid", "2x2", "-o", str(small)]) == 0
    argv = ["sample", str(image_model), "--grid", "2x2", "--n", "1000000", "-o", str(large)]
    assert main(argv) == 0  # a million latents, four pictures
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(small)), np.asarray(Image.open(large)))


def test_export_grid_seeds_stay_in_range(image_model, tmp_path, capsys):
    top = int(LIMITS["seed"].high)
    argv = ["export", "grid", str(image_model), "--grid", "2x2", "-o", str(tmp_path / "g.png")]
    assert main([*argv, "--seed", str(top)]) == 2
    assert f"at most {top - 3}" in capsys.readouterr().err
    assert main([*argv, "--seed", str(top - 3)]) == 0
    argv = ["export", "interpolation", str(image_model), "-o", str(tmp_path / "w.gif")]
    assert main([*argv, "--seeds", f"1,{2**40}"]) == 2
    assert "--seeds must each be a whole number between 0 and" in capsys.readouterr().err
