"""Every `ganstudio bench` mode runs end to end for about a second and prints its table.

Tiny settings; the numbers are never checked (benchmarks measure, tests assert behaviour).
The tests run on the offscreen platform, so the window benchmarks must say that their
numbers are not representative.
"""

import os

import pytest

from ganstudio.bench import training as bench
from ganstudio.bench.display import NOT_REPRESENTATIVE
from ganstudio.cli import main


def run_bench(capsys, *options: str) -> list[str]:
    """`ganstudio bench OPTIONS` in this process: its exit status must be 0; its lines."""
    assert main(["bench", *options]) == 0
    return capsys.readouterr().out.splitlines()


def line_with(lines: list[str], text: str) -> str:
    found = [line for line in lines if text in line]
    assert found, f"no line with {text!r} in:\n" + "\n".join(lines)
    return found[0]


def assert_offscreen_marked(lines: list[str], *window_lines: str) -> None:
    assert "Qt platform: offscreen" in line_with(lines, "Qt platform:")
    assert NOT_REPRESENTATIVE in line_with(lines, "Qt platform:")
    for text in window_lines:
        assert line_with(lines, text).endswith(f"[{NOT_REPRESENTATIVE}]"), text


def test_training_speed(capsys):
    lines = run_bench(capsys, "--device", "cpu", "--batch", "2", "--steps", "1", "--repeats", "1")
    assert "DCGAN-64, batch 2, cpu" in lines[0]
    line_with(lines, "pytorch/examples DCGAN loop")
    line_with(lines, "ganstudio engine")
    line_with(lines, "ratio engine / plain loop:")


def test_training_speed_of_fastgan_against_a_plain_loop_of_the_same_networks(capsys):
    lines = run_bench(
        capsys,
        "--device",
        "cpu",
        "--batch",
        "2",
        "--steps",
        "1",
        "--repeats",
        "1",
        "--model",
        "fastgan",
        "--width",
        "4",
    )
    assert "FastGAN-64 (width 4, hinge), batch 2, cpu" in lines[0]
    line_with(lines, "plain PyTorch FastGAN loop")
    line_with(lines, "ratio engine / plain loop:")


def test_example_loop_matches_our_dcgan_architecture():
    """The baseline must be the same network as ours, or the ratio means nothing."""
    import torch

    from ganstudio.core.models import build, count_parameters, model_specs

    netG, netD = bench._example_networks(3)
    g, d = model_specs("dcgan", (3, 64, 64), latent_dim=100, width=64, depth=3, d_norm="batch")
    assert count_parameters(build(g)) == count_parameters(netG)
    assert count_parameters(build(d)) == count_parameters(netD)
    assert netG(torch.randn(2, 100, 1, 1)).shape == (2, 3, 64, 64)


def test_quality(capsys):
    lines = run_bench(
        capsys,
        "--quality",
        "--seeds",
        "1",
        "--steps",
        "20",
        "--datasets",
        "ring8",
        "--workers",
        "1",
    )
    line_with(lines, "ring8    seed  0:")
    header = lines.index(line_with(lines, "all modes"))
    assert lines[header + 1].split()[:2] == ["ring8", "1"]


def test_prepare(capsys):
    lines = run_bench(capsys, "--prepare", "--n", "12", "--workers", "1")
    line_with(lines, "wrote 12 64x64 PNGs")
    line_with(lines, "first (decode + cache)")
    line_with(lines, "second (from the cache)")


def test_gui_marks_every_window_number_offscreen(capsys):
    lines = run_bench(
        capsys,
        *("--gui", "--datasets", "ring8", "--seconds", "0.3", "--warmup", "0.2"),
        *("--repeats", "1", "--launches", "1", "--eta-seconds", "2"),
    )
    assert_offscreen_marked(
        lines,
        "startup to a visible window",
        "with the window drawing",
        "ratio window / headless",
        "the window's own drawing",
        "beside 1 busy core",
        "waits for a new preview",
        "ETA",
        "GUI event-loop stalls",
    )
    assert NOT_REPRESENTATIVE not in line_with(lines, "headless training")  # not a window number
    from PySide6.QtWidgets import QApplication

    # Each run's window is deleted, not left ticking (hidden) through the later runs.
    left = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]
    assert left == []


def test_preview_waits_count_from_start_and_to_the_end():
    from ganstudio.bench.window import preview_waits

    assert preview_waits([0.4, 1.0, 3.5], until=4.0) == (0.4, 2.5)
    assert preview_waits([0.4, 1.0], until=5.0) == (0.4, 4.0)  # none since 1.0 s: 4 s
    assert preview_waits([], until=3.0) == (3.0, 3.0)


def test_eta_errors_compare_with_the_true_time_left():
    import math

    from ganstudio.bench.window import eta_errors, eta_readings

    etas = [(5.0, 20.0), (12.0, 9.0), (20.0, 12.0), (28.0, 1.0), (15.0, math.inf)]
    errors = eta_errors(etas, ended=30.0, after=10.0)
    # before 10 s and with under 3 s left: not counted; an unknown ETA: an infinite error
    assert errors == [pytest.approx(0.5), pytest.approx(0.2), math.inf]
    readings = eta_readings(etas, ended=30.0, after=10.0)
    assert [(t, eta) for t, eta, *_ in readings] == [(12.0, 9.0), (20.0, 12.0), (15.0, math.inf)]
    assert [left for _, _, left, _ in readings] == [18.0, 10.0, 15.0]


def test_the_interval_for_a_median_comes_from_order_statistics():
    import math

    from ganstudio.bench.window import median_interval

    # 5 values: the 90% interval needs k = 1 (93.75%), k = 2 would cover only 62.5%.
    assert median_interval([0.9, 1.1, 0.8, 1.0, 1.2]) == (0.8, 1.2, pytest.approx(0.9375))
    # 10 values: k = 2 covers 97.9%, k = 3 89.1% (< 90%): the 2nd smallest and 2nd largest.
    low, high, cover = median_interval([float(i) for i in range(10)])
    assert (low, high) == (1.0, 8.0) and cover == pytest.approx(1 - 2 * 11 / 1024)
    # Too few for the confidence: the range, with the coverage it has; NaNs left out.
    assert median_interval([1.0, math.nan, 2.0]) == (1.0, 2.0, pytest.approx(0.5))
    low, high, cover = median_interval([])
    assert math.isnan(low) and math.isnan(high) and cover == 0.0


def test_metrics(capsys):
    lines = run_bench(
        capsys,
        *("--metrics", "--datasets", "builtin:digits?n=1000", "--seconds", "0.3"),
        *("--repeats", "1", "--feature-steps", "2"),
    )
    assert "builtin:digits?n=1000" in lines[0]
    assert "monitor's own share" in line_with(lines, "extractor ")
    assert "monitor's own share" in line_with(lines, "evaluating ")


def test_images_compares_recipes_in_one_table(capsys, tmp_path, monkeypatch):
    import json

    from ganstudio.bench import images

    # A recipe the settings refuse (batch norm under R1/R2) gets a row; the others still run.
    bad = {"arch": "dcgan", "loss": "rpgan", "d_norm": "batch"}
    monkeypatch.setitem(images.RECIPES, "broken", bad)
    out = tmp_path / "images.json"
    status = main(
        [
            *("bench", "--images", "--datasets", "builtin:digits?n=300", "--minutes", "0.002"),
            *("--samples", "20", "--feature-steps", "2", "--device", "cpu"),
            *("--recipes", "dcgan,broken,fastgan-hinge", "--out", str(out)),
        ]
    )
    assert status == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    # Progress on stderr: which recipe, then its steps (the table is on stdout).
    assert "builtin:digits?n=300: recipe fastgan-hinge (3 of 3)" in captured.err
    assert "builtin:digits?n=300: 0.002 min of training per recipe on cpu" in lines[0]
    header = line_with(lines, "  recipe ").split()
    assert header == ["recipe", "img/s", "steps", "FD", "KID", "precision", "recall", "score"]
    for name in ("dcgan", "fastgan-hinge"):
        row = line_with(lines, f"  {name} ").split()
        assert len(row) == 8 and float(row[1]) > 0 and int(row[2]) >= 1
        assert float(row[3]) >= 0 and 0 <= float(row[5]) <= 1 and 0 <= float(row[6]) <= 1
    assert "failed: ConfigError: batch norm in the discriminator" in line_with(lines, "  broken ")
    assert len(line_with(lines, "floor (real)").split()) == 7
    assert line_with(lines, "best by FD:").split()[-1] in ("dcgan", "fastgan-hinge")
    assert "fastgan width 8, hinge" in line_with(lines, "  fastgan-hinge: ")
    (table,) = json.loads(out.read_text())
    assert [r["recipe"] for r in table["rows"]] == ["dcgan", "broken", "fastgan-hinge"]
    assert [r["status"] for r in table["rows"]] == ["ok", "failed", "ok"]
    assert table["best_by_fd"] in ("dcgan", "fastgan-hinge") and table["samples"] == 20


def test_distributed_leaves_no_torchrun_variables(capsys):
    lines = run_bench(
        capsys,
        *("--distributed", "--datasets", "ring8", "--batch", "8", "--steps", "4"),
        *("--repeats", "1", "--device", "cpu"),
    )
    assert "1 process(es) on cpu (gloo), 1 x 4 steps each" in lines[0]
    line_with(lines, "one process alone, plain trainer")
    line_with(lines, "ratio job / (1 x plain):")
    assert "RANK" not in os.environ and "MASTER_PORT" not in os.environ


def test_explorer_marks_every_window_number_offscreen(capsys):
    lines = run_bench(capsys, "--explorer", "--seconds", "0.3")
    line_with(lines, "slider drag on DCGAN-64")
    assert_offscreen_marked(lines, "move to picture on screen", "8x8 grid, request to painted")


def test_curves_marks_every_row_offscreen(capsys):
    lines = run_bench(capsys, "--curves", "--n", "3000")
    line_with(lines, "Curves benchmark: 3,000 points per curve")
    start = lines.index(line_with(lines, "median ms"))
    rows = lines[start + 1 :]
    assert len(rows) == 11  # append; 3 cases x (redraw, paint, both); the cursor readout
    assert_offscreen_marked(lines, *(row.split("  ")[1] for row in rows))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--gui", "--explorer"], "not allowed with"),
        (["--seconds", "0"], "--seconds must be"),
        (["--gui", "--datasets", " , "], "--datasets names no dataset"),
        (["--metrics", "--feature-steps", "0"], "--feature-steps must be"),
        (["--images", "--recipes", "dcgan,nope"], "unknown recipe(s) nope; choose from dcgan"),
        (["--images", "--minutes", "0"], "--minutes must be"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, options, message):
    try:
        status = main(["bench", *options])
    except SystemExit as exc:  # argparse's refusal
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_load(capsys, monkeypatch):
    from ganstudio.bench import load
    from ganstudio.core.threads import ThreadPolicy

    # Two of the candidates (each measurement is a fresh process that loads PyTorch).
    monkeypatch.setattr(load, "CANDIDATES", (ThreadPolicy(0), ThreadPolicy(1, wait="passive")))
    lines = run_bench(capsys, "--load", "--seconds", "0.2", "--repeats", "1")
    assert "idle and beside 1 busy core(s)" in lines[0]
    line_with(lines, "builtin:ring8")
    for name in ("one thread per core, OpenMP's waits", "1 thread(s), passive waits"):
        row = line_with(lines, name).split()
        assert float(row[-1]) > 0  # busy / idle
    line_with(lines, "best by the rule:")


def test_allocator(capsys):
    from ganstudio.core import allocator

    lines = run_bench(
        capsys, "--allocator", "--seconds", "0.3", "--repeats", "1", "--datasets", "ring8"
    )
    assert "with GAN Studio's C allocator settings" in lines[0]
    if allocator.glibc() is None:
        line_with(lines, "not glibc")
        return
    line_with(lines, "builtin:ring8")
    for name in ("GAN Studio's settings", "the C library's defaults"):
        row = line_with(lines, name).split()
        assert float(row[-2]) > 0  # steps/s
    assert float(line_with(lines, "ratio settings / defaults:").split()[4]) > 0


def test_the_default_thread_policy_is_the_rule_applied_to_a_table():
    from ganstudio.bench.load import pick_default
    from ganstudio.core.threads import ThreadPolicy

    fast_but_fragile, steady, slow = (
        ThreadPolicy(0),
        ThreadPolicy(1, "passive"),
        ThreadPolicy(4, "passive"),
    )
    rows = {fast_but_fragile: (100.0, 25.0), steady: (96.0, 90.0), slow: (50.0, 50.0)}
    assert pick_default(rows) is steady  # within 5% of the best idle speed, loses least
    rows[steady] = (94.0, 90.0)  # more than 5% slower idle: out of the running
    assert pick_default(rows) is fast_but_fragile


def test_projection(capsys):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: two threads cost more than they save
    try:
        lines = run_bench(
            capsys,
            *("--projection", "--datasets", "digits?n=40", "--minutes", "0.002", "--width", "4"),
            *("--n", "1", "--steps", "2", "--samples", "20", "--feature-steps", "2"),
        )
    finally:
        torch.set_num_threads(threads)
    assert "projection: builtin:digits?n=40, dcgan width 4" in lines[0]
    assert "the 1 held-out pictures were not trained on" in lines[0]
    line_with(lines, "(a) 1 held-out real pictures")
    line_with(lines, "(b) 1 generated pictures, latent known")
    line_with(lines, "nearest of 20 random samples")
    line_with(lines, "nearest training picture")
    line_with(lines, "random latent")
    line_with(lines, "pixels only")
    line_with(lines, "default, the same pictures")
    line_with(lines, "(b): the projection is nearer (pixels) than the nearest random sample")


def test_projection_of_a_model_file_of_points_is_refused(capsys, tmp_path):
    from _tiny import train_tiny

    points = train_tiny(
        tmp_path / "ring",
        *("--dataset", "builtin:ring8?n=256", "--model", "mlp", "--width", 8, "--depth", 1),
        *("--latent-dim", 2, "--steps", 1, "--batch-size", 16),
    )
    capsys.readouterr()
    status = main(["bench", "--projection", "--datasets", "digits?n=40", "--model", str(points)])
    assert status == 2
    assert "projection needs a picture model" in capsys.readouterr().err


def test_training_speed_refuses_a_model_that_is_not_an_architecture(capsys):
    assert main(["bench", "--model", "nope.safetensors"]) == 2
    assert "--model must be dcgan or fastgan" in capsys.readouterr().err


def test_cache_folder_sets_the_cache_and_puts_the_old_one_back(monkeypatch, tmp_path):
    from ganstudio.bench.cache import cache_folder
    from ganstudio.core.data.cache import cache_root

    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "mine"))
    with pytest.raises(KeyError), cache_folder(str(tmp_path / "bench")):
        assert cache_root() == tmp_path / "bench"
        raise KeyError  # put back after a failure too
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("GANSTUDIO_CACHE_DIR")
    with cache_folder(str(tmp_path / "bench")):
        pass
    assert "GANSTUDIO_CACHE_DIR" not in os.environ


def test_optimizer(capsys):
    lines = run_bench(
        capsys, "--optimizer", "--seconds", "0.2", "--repeats", "2", "--datasets", "ring8"
    )
    assert "each Adam implementation" in lines[0]
    line_with(lines, "builtin:ring8")
    for name in ("fused", "foreach", "loop"):
        row = line_with(lines, f"  {name} ").split()
        assert float(row[1]) > 0  # steps/s
        assert len(row[3:]) == 2  # one ratio per round
    assert line_with(lines, "  loop ").split()[2] == "1.000"
