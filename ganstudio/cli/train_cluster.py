"""`ganstudio train` under torchrun: joining the job, loading data once per machine, and
resuming from the run folder when torchrun restarts the job (see core/distributed.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganstudio.cli.common import CLIError, load_with_progress


def join_job(args: argparse.Namespace):
    """The Cluster this process belongs to when torchrun started it, else None. May set
    ``args.resume`` (a restarted job continues from its run folder's newest checkpoint)."""
    from ganstudio.core import distributed

    if not distributed.launched_by_torchrun():
        return None
    from ganstudio.core.runs import latest_checkpoint

    if distributed.max_restarts() > 0 and not args.out and not args.resume:
        raise CLIError(
            "torchrun --max-restarts needs --out FOLDER: a restarted job finds the run's "
            "checkpoints there and continues from the newest one"
        )
    args.auto_resumed = False
    restarted = distributed.restart_count() > 0 and args.out and not args.resume
    if restarted and latest_checkpoint(args.out) is not None:
        args.resume, args.auto_resumed = args.out, True
    try:
        return distributed.join(_device_choice(args))
    except (distributed.DistributedError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _device_choice(args: argparse.Namespace) -> str:
    if args.device:
        return args.device
    if args.resume:
        from ganstudio.core.modelfile import read_metadata
        from ganstudio.core.runs import find_checkpoint

        # The description only: the weights are read once, by the resume itself.
        meta = read_metadata(find_checkpoint(args.resume))
        return (meta.get("config") or {}).get("device", "auto")
    if args.config:
        from ganstudio.core.config import load_toml

        return load_toml(args.config).device or "auto"
    return "auto"


def load_data(spec: str, seed: int, quiet: bool, cluster):
    """load_dataset; under torchrun the first process on each machine prepares the data (and
    fills the dataset cache) while the others wait, then they read it from the cache."""
    if cluster is None:
        return load_with_progress(spec, seed, quiet)
    if cluster.local_rank != 0:
        cluster.barrier()
    try:
        return load_with_progress(spec, seed, quiet)
    finally:
        if cluster.local_rank == 0:
            cluster.barrier()


def check_fresh_folder(out: Path) -> None:
    """A new run must not write into another run's folder (its log and checkpoints)."""
    from ganstudio.core import distributed
    from ganstudio.core.runfolder import CONFIG, METRICS

    restarted = distributed.launched_by_torchrun() and distributed.restart_count() > 0
    if not restarted and ((out / CONFIG).exists() or (out / METRICS).exists()):
        raise CLIError(
            f"{out} already holds a run: continue it with --resume {out}, or give another --out"
        )


def describe(cluster, batch_size: int) -> str:
    if cluster is None:
        return ""
    return (
        f"; {cluster.world_size} processes ({cluster.backend}), global batch {batch_size} = "
        f"{cluster.world_size} x {batch_size // cluster.world_size}"
    )
