"""Data-parallel training under torchrun (PyTorch's launcher): one model, many processes.

torchrun starts the processes (one per GPU, or several on CPUs), sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT, restarts them when asked (``--max-restarts``) and
ends the job when one dies. ``join()`` makes this process a member of the group (NCCL on
CUDA, gloo on the CPU); nothing here starts or watches processes.

What the Trainer does with a Cluster (core/trainer.py):
- G and D train wrapped in DistributedDataParallel: gradients are averaged across processes
  in the backward pass, so the weights stay identical everywhere.
- ``--batch-size`` is the global batch: each of N processes takes batch/N samples per step,
  so a run's settings mean the same on any number of processes, and a checkpoint resumes on
  another N (or without torchrun) with the same training dynamics.
- Each process samples from its own shard of the dataset (every N-th sample) with its own
  random seeds; rank 0's draws are those of a single-process run.
- The EMA generator, reports, previews, quality metrics and every file exist on rank 0 only.
- The processes agree every SYNC_EVERY steps whether to stop (Ctrl+C, SIGTERM from torchrun
  or Slurm, a diverged loss on rank 0), so they all leave the loop at the same step.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ganstudio.core.config import ConfigError
from ganstudio.core.device import pick_device
from ganstudio.core.errors import UserError

# The environment torchrun gives every process it starts.
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Steps between the processes' agreement on stopping (one tiny all-reduce and host sync).
SYNC_EVERY = 16
# How long a collective may wait for the others (loading a large dataset the first time
# happens while the other processes wait at a barrier).
TIMEOUT = datetime.timedelta(minutes=30)


class DistributedError(UserError, RuntimeError):
    """The job cannot run as asked (no GPU for a process, an unsupported device)."""


def launched_by_torchrun(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by torchrun (or another launcher setting its vars)."""
    env = os.environ if env is None else env
    return all(k in env for k in TORCHRUN_VARS)


def _env_int(name: str, env: Mapping[str, str] | None) -> int:
    try:
        return int((os.environ if env is None else env).get(name, "0"))
    except ValueError:
        return 0


def restart_count(env: Mapping[str, str] | None = None) -> int:
    """How many times torchrun has restarted this job's processes (0 on the first start)."""
    return _env_int("TORCHELASTIC_RESTART_COUNT", env)


def max_restarts(env: Mapping[str, str] | None = None) -> int:
    """torchrun's --max-restarts for this job (0: a failure ends it)."""
    return _env_int("TORCHELASTIC_MAX_RESTARTS", env)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a process's random draws: rank 0 draws as a single-process run does."""
    return seed + 1_000_003 * rank


def check_split(batch_size: int, pack: int | None, world_size: int) -> None:
    """Refuse a global batch that does not split evenly into whole packs per process."""
    if batch_size % world_size:
        raise ConfigError(
            f"the batch size ({batch_size}) is the global batch and must split evenly among "
            f"the {world_size} processes: use a multiple of {world_size}, e.g. "
            f"{max(1, round(batch_size / world_size)) * world_size}"
        )
    pack = max(1, pack or 1)
    if (batch_size // world_size) % pack:
        raise ConfigError(
            f"each of the {world_size} processes takes {batch_size // world_size} samples, not "
            f"a multiple of the packing ({pack}): use a global batch size that is a multiple "
            f"of {world_size * pack}"
        )


def is_lost_contact(exc: BaseException) -> bool:
    """Whether an error means the other processes are gone (died, killed, network down)."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return any(
        s in text for s in ("connection closed", "connection reset", "broken pipe", "gloo", "nccl")
    )


def short_error(exc: BaseException) -> str:
    """The gist of a communication error: gloo's and NCCL's texts carry source locations
    and boilerplate."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[[^\]]*\.(cc|cpp|h):\d+\]\s*", "", text)
    return text.split(". This is typically")[0].rstrip(".")


@dataclass(frozen=True)
class Cluster:
    """This process's place in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _flags(self, values: Iterable[bool]) -> torch.Tensor:
        # NCCL reduces CUDA tensors only; gloo reduces CPU tensors.
        where = self.device if self.backend == "nccl" else torch.device("cpu")
        return torch.tensor([float(v) for v in values], device=where)

    def min_int(self, value: int) -> int:
        """The smallest of every process's ``value`` (a collective call, like ``any``)."""
        t = self._flags([]).new_tensor([float(value)])
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def any(self, *flags: bool) -> tuple[bool, ...]:
        """For each flag: whether it is true on any process. Every process must call this
        at the same point (it waits for all of them)."""
        t = self._flags(flags)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in t.tolist())

    def sum_(self, t: torch.Tensor) -> None:
        """Add ``t`` up across the processes, in place (a collective call, like ``any``; a
        tensor on this process's device: no host sync)."""
        dist.all_reduce(t, op=dist.ReduceOp.SUM)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in DistributedDataParallel: its gradients are averaged across the
        processes in the backward pass (its parameters are shared, not copied)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids)

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def close(self, wait: bool = True) -> None:
        """Leave the job; ``wait``: first wait until every process is done (rank 0 writes
        the last files while the others wait), not when the others may be gone."""
        if not dist.is_initialized():
            return
        # DistributedDataParallel wrappers no longer in use (often held in reference
        # cycles) keep the process group alive; freed only at interpreter exit, its threads
        # end the process with "terminate called without an active exception". Free them now.
        gc.collect()
        if wait:
            with contextlib.suppress(RuntimeError, dist.DistError):
                self.barrier()
        dist.destroy_process_group()

    def describe(self) -> str:
        return (
            f"process {self.rank} of {self.world_size} ({self.backend}, {self.device}; "
            f"{self.local_world_size} on this machine)"
        )


def join(device: str = "auto", env: Mapping[str, str] | None = None) -> Cluster:
    """Join the torchrun job this process belongs to (see the module docstring).

    ``device``: the run's device setting; CUDA means this process's GPU (cuda:LOCAL_RANK).
    """
    env = os.environ if env is None else env
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local_rank = int(env["LOCAL_RANK"])
        local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    except (KeyError, ValueError) as exc:
        raise DistributedError(f"torchrun's environment is incomplete or damaged ({exc})") from None
    base = pick_device(device)
    if base.type == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise DistributedError(
                f"process {local_rank} on this machine has no GPU of its own: {count} GPU(s) "
                f"here for {local_world} processes; start at most --nproc-per-node={count}"
            )
        dev, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(dev)
    elif base.type == "cpu":
        dev, backend = torch.device("cpu"), "gloo"
    else:
        raise DistributedError(
            f"distributed training runs on CUDA GPUs (NCCL) or CPUs (gloo), not on {base.type}: "
            "use --device cpu, or train without torchrun"
        )
    if not dist.is_initialized():
        # torchrun keeps one key-value store for all restarts of a job; keys from the
        # attempt before (a dead process's address) would be read as this attempt's, and
        # the processes could not connect (pytorch/pytorch#135712). Each attempt gets its own.
        store, _, _ = next(dist.rendezvous("env://", rank, world, timeout=TIMEOUT))
        store = dist.PrefixStore(f"ganstudio/attempt-{restart_count(env)}", store)
        dist.init_process_group(
            backend,
            store=store,
            rank=rank,
            world_size=world,
            timeout=TIMEOUT,
            device_id=dev if backend == "nccl" else None,
        )
    return Cluster(rank, world, local_rank, local_world, backend, dev)
