"""`ganstudio train` under torchrun: joining the job, and resuming from the run folder when
torchrun restarts the job (see core/training/distributed.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ganstudio.cli.common import CLIError

if TYPE_CHECKING:
    from ganstudio.core.training.distributed import Cluster


def join_job(args: argparse.Namespace) -> Cluster | None:
    """The Cluster this process belongs to when torchrun started it, else None. May set
    ``args.resume`` (a restarted job continues from its run folder's newest checkpoint)."""
    from ganstudio.core.training import distributed

    if not distributed.launched_by_torchrun():
        return None
    from ganstudio.core.runs.reader import latest_checkpoint

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
        from ganstudio.core.runs.reader import find_checkpoint

        # The description only: the weights are read once, by the resume itself.
        meta = read_metadata(find_checkpoint(args.resume))
        return (meta.get("config") or {}).get("device", "auto")
    if args.config:
        from ganstudio.core.config import load_toml

        return load_toml(args.config).device or "auto"
    return "auto"


def describe(cluster: Cluster | None, batch_size: int) -> str:
    if cluster is None:
        return ""
    return (
        f"; {cluster.world_size} processes ({cluster.backend}), global batch {batch_size} = "
        f"{cluster.world_size} x {batch_size // cluster.world_size}"
    )
