"""Data-parallel training under torchrun (core/distributed.py, cli/train_cluster.py).

The multi-process tests start real torchrun jobs of 2 processes on the CPU (gloo)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganstudio.cli import main as cli_main
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.data import load_dataset
from ganstudio.core.data.dataset import DatasetError
from ganstudio.core.runs.reader import read_metrics
from ganstudio.core.training import distributed
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

SCRIPT = Path(__file__).with_name("_dist_script.py")
RING = {"dataset": "builtin:ring8", "batch_size": 64, "device": "cpu", "seed": 3}


def _torchrun(*args: str, cwd: Path, wait: bool = True, timeout: float = 180):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for k in distributed.TORCHRUN_VARS:
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", *args]
    if not wait:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------
# In this process


def test_each_process_gets_its_own_disjoint_shard():
    data = load_dataset("builtin:ring8", seed=0)
    shards = [data.shard(r, 3) for r in range(3)]
    assert sum(len(s) for s in shards) == len(data)
    rows = torch.cat([s.data for s in shards])
    assert torch.equal(rows.sort(0).values, data.data.sort(0).values)  # all of it, once
    assert not torch.equal(shards[0].data[:5], shards[1].data[:5])
    assert all(s.info == data.info for s in shards)  # still describes the whole dataset
    assert data.shard(0, 1) is data
    with pytest.raises(DatasetError, match="cannot be shared among"):
        type(data)(data.data[:2], data.info).shard(0, 3)


def test_torchrun_environment_is_recognised():
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h"}
    assert not distributed.launched_by_torchrun(env)
    env["MASTER_PORT"] = "29500"
    assert distributed.launched_by_torchrun(env)
    assert distributed.restart_count({"TORCHELASTIC_RESTART_COUNT": "2"}) == 2
    assert distributed.restart_count({}) == 0
    with pytest.raises(distributed.DistributedError, match="incomplete or damaged"):
        distributed.join("cpu", env={**env, "RANK": "x"})


def test_communication_errors_read_as_lost_contact():
    gloo = RuntimeError(
        "[/x/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:35982: Connection reset "
        "by peer. This is typically caused by a remote worker hanging"
    )
    assert distributed.is_lost_contact(gloo)
    assert distributed.short_error(gloo) == "Read error [127.0.0.1]:35982: Connection reset by peer"
    assert not distributed.is_lost_contact(RuntimeError("mat1 and mat2 shapes cannot be"))


def test_global_batch_must_split_evenly():
    fake = distributed.Cluster(0, 3, 0, 3, "gloo", torch.device("cpu"))
    with pytest.raises(ConfigError, match="multiple of 3, e.g. 63"):
        Trainer(TrainConfig(**RING, steps=5), cluster=fake)
    distributed.check_split(64, 4, 8)  # 8 per process, packs of 4: fine
    distributed.check_split(24, 4, 3)  # 8 each: fine
    with pytest.raises(ConfigError, match="6 samples, not a multiple of the packing"):
        distributed.check_split(24, 4, 4)  # 6 each: not whole packs


def test_a_job_of_one_process_trains_exactly_as_a_plain_run(monkeypatch):
    """The DDP wrapping changes nothing but the averaging: with one process the weights are
    bit for bit those of a plain run (e.g. G's update must not go through D's wrapper)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    for k, v in {**env, "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    cfg = TrainConfig(**RING, steps=40, r1_gamma=0.5, d_steps=2, ema=0.9)
    plain = Trainer(cfg)
    run_training(plain)
    cluster = distributed.join("cpu")
    try:
        job = Trainer(cfg, cluster=cluster)
        assert job.G_train is not job.G  # really wrapped
        outcome = run_training(job)
    finally:
        cluster.close()
    assert outcome.status == "completed" and job.step == 40
    for a, b in zip(plain.G.parameters(), job.G.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(plain.D.parameters(), job.D.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(plain.G_ema.parameters(), job.G_ema.parameters(), strict=True):
        assert torch.equal(a, b)


# ------------------------------------------------------------------------------------------
# Real torchrun jobs of two processes (gloo on the CPU)


@pytest.mark.parametrize(
    "settings",
    [
        {**RING, "steps": 40},  # the 2-D preset: PacGAN, R1, 2 D steps, EMA
        {
            "dataset": "builtin:digits?n=2000",
            "batch_size": 16,
            "steps": 6,
            "device": "cpu",
            "arch": "dcgan",
            "width": 8,
            "loss": "wgan-gp",
            "diffaugment": "color,translation",
        },
        {  # R1 and R2, G judged on real batches, adaptive augmentation summed over processes
            "dataset": "builtin:digits?n=2000",
            "batch_size": 16,
            "steps": 8,
            "device": "cpu",
            "arch": "dcgan",
            "width": 8,
            "loss": "rpgan",
            "augment": "auto",
            "augment_kimg": 0.256,  # p moves by 1/4 every 4 steps
        },
    ],
    ids=["points", "dcgan-wgan-gp", "dcgan-rpgan-ada"],
)
def test_two_processes_keep_identical_weights_on_different_data(tmp_path, settings):
    run = _torchrun(
        "--nproc-per-node", "2", str(SCRIPT), str(tmp_path), json.dumps(settings), cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert int(r0["min_of_ranks"]) == int(r1["min_of_ranks"]) == 10  # Cluster.min_int
    weights = [
        k
        for k in r0
        if k.startswith(("G.", "D.")) and "running_" not in k and "num_batches" not in k
    ]
    assert weights
    for k in weights:
        assert torch.equal(r0[k], r1[k]), k
    # ... and they did learn: not the initial weights.
    init = Trainer(TrainConfig(**settings))
    assert not all(
        torch.equal(r0[f"G.{k}"], v)
        for k, v in init.G.state_dict().items()
        if v.is_floating_point()
    )
    # Each process trained on its own half of the data, with half the global batch.
    assert int(r0["local_batch"]) == int(r1["local_batch"]) == settings["batch_size"] // 2
    a, b = r0["data"].flatten(1), r1["data"].flatten(1)
    assert len(a) + len(b) == init.info.count
    assert not torch.equal(a[:8], b[:8])
    assert int(r0["step"]) == int(r1["step"]) == settings["steps"]
    # The weight average exists once, on rank 0.
    assert bool(r0["has_ema"]) == (init.G_ema is not None) and not bool(r1["has_ema"])
    if settings.get("augment") == "auto":
        assert torch.equal(r0["augment_p"], r1["augment_p"])
        assert 0.0 <= r0["augment_p"].item() <= 1.0


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_cli_job_only_rank_0_writes_and_the_run_resumes_alone(tmp_path, capsys):
    run = _torchrun(
        "--nproc-per-node",
        "2",
        "-m",
        "ganstudio",
        "train",
        "--dataset",
        "builtin:ring8",
        "--steps",
        "48",
        "--batch-size",
        "64",
        "--device",
        "cpu",
        "--metrics-every",
        "0",
        "--out",
        "run",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 processes (gloo), global batch 64 = 2 x 32" in run.stderr
    # Exactly what one writer leaves, in the run folder and nowhere else (no runs/ folder
    # from rank 1, no second log): one report per step, once.
    files = _listing(tmp_path)
    assert all(f.startswith("run" + os.sep) for f in files), files
    assert {
        "run/config.json",
        "run/metrics.jsonl",
        "run/generator.safetensors",
        "run/checkpoints/step_0000048.safetensors",
    } <= {f.replace(os.sep, "/") for f in files}
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    steps = [s for r in records if r.get("type") == "train" for s in [r["step"]]]
    assert steps == sorted(set(steps)) and steps[-1] == 48
    assert [r["type"] for r in records].count("end") == 1
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["processes"] == 2 and config["config"]["batch_size"] == 64

    # The checkpoint of the 2-process job continues in a single process without torchrun.
    code = cli_main(["train", "--resume", str(tmp_path / "run"), "--steps", "60", "--quiet"])
    assert code == 0
    assert (tmp_path / "run" / "checkpoints" / "step_0000060.safetensors").exists()
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r for r in records if r["type"] == "resume"][0]["step"] == 48
    assert json.loads((tmp_path / "run" / "config.json").read_text())["processes"] == 1


def _worker_of_rank(launcher: subprocess.Popen, rank: int) -> int | None:
    try:
        children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return int(pid)
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds workers through /proc")
@pytest.mark.parametrize("restarts", [0, 1])
def test_a_dying_process_ends_the_job_clearly_and_a_restart_resumes(tmp_path, restarts):
    launcher = _torchrun(
        "--nproc-per-node",
        "2",
        "--max-restarts",
        str(restarts),
        "-m",
        "ganstudio",
        "train",
        "--dataset",
        "builtin:ring8",
        "--steps",
        "100000" if not restarts else "600",
        "--batch-size",
        "64",
        "--device",
        "cpu",
        "--metrics-every",
        "0",
        "--checkpoint-every",
        "0.01",
        "--out",
        "run",
        cwd=tmp_path,
        wait=False,
    )
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "run" / "checkpoints").glob("step_*")):
            assert time.monotonic() < deadline and launcher.poll() is None, launcher.stdout.read()
            time.sleep(0.2)
        victim = _worker_of_rank(launcher, 1)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        out, _ = launcher.communicate(timeout=240)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    lost = [r for r in records if r["type"] == "end" and r["status"] == "failed"]
    assert lost and "lost contact with the other processes" in lost[0]["message"]
    assert "error: process 0: training failed: process 0 lost contact" in out
    assert "--resume" in out
    if not restarts:
        assert launcher.returncode != 0
        step = lost[0]["step"]
        assert (tmp_path / "run" / "checkpoints" / f"step_{step:07d}.safetensors").exists()
    else:  # torchrun restarted both processes: they continued from the newest checkpoint
        assert launcher.returncode == 0, out
        assert [r for r in records if r["type"] == "resume"]
        assert records[-1]["type"] == "end" and records[-1]["status"] == "completed"
        assert (tmp_path / "run" / "generator.safetensors").exists()


def test_restartable_job_needs_an_out_folder(monkeypatch, capsys):
    for k, v in {
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "x",
        "MASTER_PORT": "1",
        "TORCHELASTIC_MAX_RESTARTS": "2",
    }.items():
        monkeypatch.setenv(k, v)
    code = cli_main(["train", "--dataset", "builtin:ring8", "--steps", "5"])
    assert code != 0
    assert "--max-restarts needs --out FOLDER" in capsys.readouterr().err


def test_new_run_refuses_a_folder_holding_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "builtin:ring8",
        "--steps",
        "4",
        "--quiet",
        "--device",
        "cpu",
        "--metrics-every",
        "0",
        "--out",
        str(out),
    ]
    assert cli_main(args) == 0
    before = _listing(out)
    assert cli_main(args) != 0
    assert f"{out} already holds a run: continue it with --resume" in capsys.readouterr().err
    assert _listing(out) == before
