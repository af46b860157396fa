"""Checkpoints: exact resume in a fresh process, atomic saves under SIGKILL, autosave, best."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganstudio.cli import main
from ganstudio.core.config import TrainConfig
from ganstudio.core.modelfile import ModelFileError, load_generator
from ganstudio.core.runs import layout
from ganstudio.core.runs import writer as runfolder
from ganstudio.core.runs.reader import find_checkpoint, list_runs, parse_metrics, summarize
from ganstudio.core.runs.writer import RunWriter
from ganstudio.core.training.checkpoint import read_checkpoint, resume, save_checkpoint
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# One script, three roles: the whole run, the first half + save, and the resumed second half.
# Three setups cover the state that must survive: an MLP on points (PacGAN, R1, cosine LR
# decay that depends on the step), a DCGAN on images with flips and DiffAugment (which
# draw from the trainer's random generator), and one with adaptive augmentation (its
# probability and the signs summed since it last moved) and the relativistic loss (R1 and
# R2, and G judged against the step's real batch), all with EMA and two D steps.
SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    from safetensors.torch import save_file
    from ganstudio.core.training.checkpoint import read_checkpoint, resume, save_checkpoint
    from ganstudio.core.config import TrainConfig
    from ganstudio.core.training.trainer import Trainer

    role, folder = sys.argv[1], sys.argv[2]
    setups = {
        "mlp": dict(dataset="builtin:ring8?n=2000", width=32, batch_size=64, r1_gamma=0.1),
        "dcgan": dict(dataset="builtin:digits?n=256", width=8, batch_size=16, hflip=True,
                      diffaugment="color,translation,cutout"),
        # p moves by 0.32 every 4 steps; the save at step 6 falls inside an interval
        "ada": dict(dataset="builtin:digits?n=256", width=8, batch_size=16, augment="auto",
                    augment_kimg=0.2, loss="rpgan"),
    }
    for name, extra in setups.items():
        cfg = TrainConfig(steps=12, lr_schedule="cosine", ema=0.99, d_steps=2, seed=3, **extra)
        ckpt = f"{folder}/{name}.ckpt"
        if role == "full":
            t = Trainer(cfg)
            todo = 12
        elif role == "half":
            t = Trainer(cfg)
            for _ in range(6):
                t.train_step()
            save_checkpoint(t, ckpt)
            continue
        else:
            c = read_checkpoint(ckpt)
            if role == "reseeded":  # as if resumed on another kind of device
                c.meta["rng"]["device_type"] = "elsewhere"
            t = resume(c)
            todo = 6
        for _ in range(todo):
            t.train_step()
        t.flush_report()
        steps, stats = t.history()
        out = {f"G/{k}": v for k, v in t.G.state_dict().items()}
        out |= {f"D/{k}": v for k, v in t.D.state_dict().items()}
        out |= {f"E/{k}": v for k, v in t.G_ema.state_dict().items()}
        out["steps"], out["stats"] = torch.from_numpy(steps), torch.from_numpy(stats)
        if t.ada is not None:
            out["augment_p"] = t.ada.p.reshape(1)
        save_file({k: v.contiguous() for k, v in out.items()}, f"{folder}/{name}.{role}")
    """
)


def _run_script(tmp_path, role):
    script = tmp_path / "roles.py"
    script.write_text(SCRIPT)
    subprocess.run(
        [sys.executable, str(script), role, str(tmp_path)], check=True, env=ENV, timeout=240
    )


def test_resume_in_a_fresh_process_is_bitwise_exact(tmp_path):
    for role in ("full", "half", "resumed", "reseeded"):
        _run_script(tmp_path, role)
    for name in ("mlp", "dcgan", "ada"):
        full = load_file(tmp_path / f"{name}.full")
        resumed = load_file(tmp_path / f"{name}.resumed")
        assert full.keys() == resumed.keys()
        for key in full:
            assert torch.equal(full[key], resumed[key]), f"{name}: {key} differs after resume"
        # The loss history runs 1..12 without a gap, identical to the uninterrupted run.
        assert resumed["steps"].tolist() == list(range(1, 13))
        # The comparison is sharp enough to see a broken resume: with the random stream
        # reseeded (as on another kind of device) the weights no longer match.
        reseeded = load_file(tmp_path / f"{name}.reseeded")
        assert not torch.equal(
            full["G/" + _first_weight(full)], reseeded["G/" + _first_weight(full)]
        )

    # The adaptive probability moved (the comparison above covers it) and was not lost.
    ada = load_file(tmp_path / "ada.full")["augment_p"].item()
    assert 0.0 < ada <= 1.0


def _first_weight(state):
    return next(k[2:] for k in state if k.startswith("G/") and k.endswith("weight"))


def _tiny(steps=20, **kw):
    return TrainConfig(
        dataset="builtin:ring8?n=2000", steps=steps, width=16, batch_size=32, seed=1, **kw
    )


def test_checkpoint_holds_everything_and_loads_as_a_model(tmp_path):
    t = Trainer(_tiny())
    for _ in range(5):
        t.train_step()
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    ckpt = read_checkpoint(path)
    assert ckpt.step == 5
    keys = set(ckpt.tensors)
    for prefix in ("G/", "D/", "G_ema/", "opt_g/", "opt_d/", "rng/", "history/"):
        assert any(k.startswith(prefix) for k in keys), prefix
    assert {"rng/torch", "rng/trainer", "rng/trainer_cpu"} <= keys
    assert ckpt.tensors["history/steps"].tolist() == [1, 2, 3, 4, 5]
    rng = ckpt.meta["rng"]
    assert len(rng["python"][1]) == 625 and len(rng["numpy"][1]) == 624
    assert ckpt.meta["dataset"]["fingerprint"] == t.info.fingerprint
    assert TrainConfig.from_dict(ckpt.meta["config"]) == t.config
    # A checkpoint opens as a generator (the EMA one), hashed like a model file of it.
    gen = load_generator(path)
    ema = {k: v.float() for k, v in t.G_ema.state_dict().items()}
    for k, v in gen.module.state_dict().items():
        assert torch.equal(v, ema[k])
    from ganstudio.core.modelfile import content_hash

    snap = t.snapshot()
    assert gen.meta["content_hash"] == content_hash(snap.state)


def test_python_and_numpy_random_states_are_restored(tmp_path):
    import random

    t = Trainer(_tiny())
    random.seed(7)
    np.random.seed(7)
    path = save_checkpoint(t, tmp_path / "c.safetensors")
    expected = (random.random(), np.random.rand())
    random.seed(99)
    np.random.seed(99)
    resume(read_checkpoint(path))
    assert (random.random(), np.random.rand()) == expected


def test_resume_checks_budget_settings_and_dataset(tmp_path):
    from ganstudio.core.config import ConfigError
    from ganstudio.core.data import load_dataset

    t = Trainer(_tiny())
    for _ in range(4):
        t.train_step()
    ckpt = read_checkpoint(save_checkpoint(t, tmp_path / "c.safetensors"))
    with pytest.raises(ConfigError, match="larger budget"):
        resume(ckpt, steps=4)
    with pytest.raises(ConfigError, match="loss cannot change"):
        resume(ckpt, loss="hinge")
    with pytest.raises(ModelFileError, match="shape"):
        resume(ckpt, dataset="builtin:digits?n=64")
    changed = resume(ckpt, load_dataset("builtin:ring8?n=1500", seed=1))
    assert changed.step == 4
    assert "dataset has changed" in changed.resume_notes[0]
    assert resume(ckpt).resume_notes == []


def test_cli_resume_continues_the_run_exactly(tmp_path, capsys):
    common = ["--dataset", "builtin:ring8?n=2000", "--width", 16, "--batch-size", 32]
    common += ["--lr-schedule", "constant", "--device", "cpu", "-q"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([str(v) for v in ["train", *common, "--steps", 40, "--out", a]]) == 0
    assert main([str(v) for v in ["train", *common, "--steps", 20, "--out", b]]) == 0
    assert (b / "checkpoints" / "step_0000020.safetensors").is_file()
    # Settings belong to the checkpoint: changing one is refused with a reason.
    assert main(["train", "--resume", str(b), "--steps", "40", "--loss", "hinge"]) == 2
    assert "--loss cannot be changed when resuming" in capsys.readouterr().err
    assert main(["train", "--resume", str(b), "--steps", "40", "-q"]) == 0

    ga = load_file(a / "generator.safetensors")
    gb = load_file(b / "generator.safetensors")
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    records = parse_metrics((b / "metrics.jsonl").read_text())
    kinds = [r["type"] for r in records]
    assert "resume" in kinds and kinds[-1] == "end"
    train_steps = [r["step"] for r in records if r["type"] == "train"]
    assert train_steps == sorted(train_steps) and train_steps[-1] == 40
    final = read_checkpoint(find_checkpoint(b))
    assert final.step == 40 and final.tensors["history/steps"].tolist() == list(range(1, 41))
    config = json.loads((b / "config.json").read_text())
    assert config["config"]["steps"] == 40 and config["resumed"][0]["step"] == 20
    summary = summarize(b)
    assert (summary.step, summary.total_steps, summary.status) == (40, 40, "completed")


def test_resume_cuts_the_log_back_to_the_checkpoint(tmp_path):
    """A run killed after its last checkpoint logged steps that are then trained again."""
    t = Trainer(_tiny(steps=10))
    writer = RunWriter(tmp_path / "run", t, checkpoint_every=0)
    run_training(t, on_report=writer.on_report)
    writer.save_checkpoint()
    for _ in range(5):  # 5 more steps logged that no checkpoint holds
        t.train_step()
    writer.on_report(t.flush_report())
    writer._metrics.close()
    assert max(r["step"] for r in parse_metrics((tmp_path / "run/metrics.jsonl").read_text())) == 15
    ckpt = read_checkpoint(find_checkpoint(tmp_path / "run"))
    t2 = resume(ckpt, steps=30)
    RunWriter(tmp_path / "run", t2, resumed_from=ckpt)._metrics.close()
    records = parse_metrics((tmp_path / "run/metrics.jsonl").read_text())
    assert max(r["step"] for r in records) == 10 and records[-1]["type"] == "resume"


@pytest.mark.parametrize("when", ["while writing", "before the rename"])
def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, when):
    script = tmp_path / "writer.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            import torch
            torch.set_num_threads(1)
            from ganstudio.core import fileio as render
            from ganstudio.core.training.checkpoint import save_checkpoint
            from ganstudio.core.config import TrainConfig
            from ganstudio.core.training.trainer import Trainer

            t = Trainer(TrainConfig(dataset="builtin:ring8?n=2000", steps=50, width=64,
                                    batch_size=32, seed=1))
            path = sys.argv[1]
            t.train_step()
            save_checkpoint(t, path)
            t.train_step()

            def hang(*a, **k):
                print("in-save", flush=True)
                time.sleep(60)

            if {when!r} == "before the rename":
                render.os.fsync = hang   # data written, not yet renamed
            else:
                real_fdopen = render.os.fdopen
                class HalfWriter:
                    def __init__(self, fh): self.fh = fh
                    def __enter__(self): return self
                    def __exit__(self, *exc): return self.fh.__exit__(*exc)
                    def write(self, data):
                        self.fh.write(data[: len(data) // 2]); self.fh.flush()
                        hang()
                    def __getattr__(self, name): return getattr(self.fh, name)
                render.os.fdopen = lambda *a, **k: HalfWriter(real_fdopen(*a, **k))
            save_checkpoint(t, path)
            """
        )
    )
    path = tmp_path / "run" / "checkpoints" / "step.safetensors"
    path.parent.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, env=ENV, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "in-save"
        temps = list(path.parent.glob(".*.tmp"))
        assert temps and temps[0].stat().st_size > 0  # the new checkpoint was being written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    ckpt = read_checkpoint(path)  # the previous checkpoint, whole
    assert ckpt.step == 1
    resume(ckpt)
    # The next writer in that run folder clears the dead writer's temporary file.
    RunWriter(tmp_path / "run", Trainer(_tiny()))._metrics.close()
    assert not list(path.parent.glob(".*.tmp"))


def test_autosave_keeps_the_newest_k_and_the_best(tmp_path, monkeypatch):
    monkeypatch.setattr(runfolder, "BEST_INTERVAL", 0.0)
    t = Trainer(_tiny(steps=60, report_interval=0.0, preview_interval=0.0))
    writer = RunWriter(tmp_path / "run", t, checkpoint_every=1e-9, keep=2)
    outcome = run_training(t, on_report=writer.on_report, on_preview=writer.on_preview)
    writer.finish(outcome)
    steps = layout.step_checkpoints(tmp_path / "run")
    assert len(steps) == 2 and steps[-1].name == "step_0000060.safetensors"
    best = read_checkpoint(tmp_path / "run" / "checkpoints" / "best.safetensors")
    records = parse_metrics((tmp_path / "run" / "metrics.jsonl").read_text())
    coverage = [r for r in records if r["type"] == "coverage"]
    top = max(r["modes_captured"] + r["hq_fraction"] for r in coverage)
    assert best.meta["best"]["metric"] == "mode coverage"
    assert best.meta["best"]["value"] == pytest.approx(top, abs=1e-4)
    assert "modes" in best.meta["best"]["detail"]


def test_metrics_reader_tolerates_a_line_being_written(tmp_path):
    text = '{"type": "train", "step": 1}\nnot json\n{"type": "train", "step": 2}\n{"type": "tr'
    assert [r["step"] for r in parse_metrics(text)] == [1, 2]


def test_runs_lists_run_folders(tmp_path, capsys):
    common = ["--dataset", "builtin:ring8?n=2000", "--width", 8, "--batch-size", 32, "-q"]
    for name in ("one", "two"):
        assert (
            main([str(v) for v in ["train", *common, "--steps", 5, "--out", tmp_path / name]]) == 0
        )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "broken" / "metrics.jsonl").write_text("")
    runs = list_runs(tmp_path)
    assert sorted(r.folder.name for r in runs) == ["one", "two"]
    assert all(r.status == "completed" and r.step == 5 for r in runs)
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "one" in out and "two" in out and "completed" in out and "5/5" in out
    assert main(["info", str(tmp_path / "one")]) == 0
    assert "step_0000005.safetensors" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "nowhere")]) == 2


def test_info_describes_model_files_and_checkpoints(tmp_path, capsys):
    common = ["--dataset", "builtin:ring8?n=2000", "--width", 8, "--batch-size", 32, "-q"]
    run = tmp_path / "run"
    assert main([str(v) for v in ["train", *common, "--steps", 5, "--out", run]]) == 0
    capsys.readouterr()
    assert main(["info", str(run / "generator.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "model file" in out and "mlp_g" in out and "5 steps" in out and "ring8" in out
    assert main(["info", str(run / "checkpoints" / "step_0000005.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "checkpoint" in out and "step       5 of 5" in out and "mlp_d" in out
    assert main(["info", "--json", str(run / "generator.safetensors")]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["format"] == "ganstudio.generator" and meta["step"] == 5


def test_untrained_weights_never_take_the_best_slot(tmp_path):
    """With the default rate limit (one best save a minute), a step-0 "best" would hold the
    slot for a whole short run: the first measurement after training began is saved."""
    t = Trainer(_tiny(steps=30, report_interval=0.0, preview_interval=0.0))
    writer = RunWriter(tmp_path / "run", t, checkpoint_every=0)
    writer.finish(run_training(t, on_report=writer.on_report, on_preview=writer.on_preview))
    best = read_checkpoint(tmp_path / "run" / "checkpoints" / "best.safetensors")
    assert best.step > 0 and best.meta["best"]["step"] == best.step
