"""Reading run folders: the metrics log (also while it grows), checkpoints, run listings.

Nothing here writes: a folder another process is training into can be read safely.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ganstudio.core.errors import UserError
from ganstudio.core.runs.layout import (
    BEST,
    CHECKPOINTS,
    CONFIG,
    GENERATOR,
    METRICS,
    step_checkpoints,
)

# A run whose log changed within this many seconds (and has no end record) is "running".
RUNNING_WITHIN = 120.0


class RunFolderError(UserError, ValueError):
    """A path is not a usable run folder or checkpoint; the message says why."""


def parse_metrics(text: str) -> list[dict]:
    """Records of a metrics log. A last line without its newline is still being written by
    the training process, and a line that is not JSON is damaged: both are skipped."""
    records = []
    lines = text.split("\n")
    for line in lines[:-1]:  # the part after the last newline is incomplete (or empty)
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(path: str | Path) -> list[dict]:
    return parse_metrics(Path(path).read_text(encoding="utf-8", errors="replace"))


def tail_metrics(path: str | Path, max_bytes: int = 256 * 1024) -> list[dict]:
    """The last records of a (possibly huge) metrics log, without reading all of it."""
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        fh.seek(max(0, size - max_bytes))
        data = fh.read()
    if size > max_bytes:  # drop the first, partial line
        data = data[data.find(b"\n") + 1 :]
    return parse_metrics(data.decode("utf-8", errors="replace"))


def latest_checkpoint(folder: str | Path) -> Path | None:
    steps = step_checkpoints(folder)
    return steps[-1] if steps else None


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file given a checkpoint, or the newest one of a run folder."""
    p = Path(path)
    if p.is_file():
        return p
    if not p.exists():
        raise RunFolderError(f"{p}: no such file or folder")
    latest = latest_checkpoint(p)
    if latest is None:
        if (p / CHECKPOINTS / BEST).exists():
            return p / CHECKPOINTS / BEST
        hint = (
            " (it was made by an older version, which kept no resumable checkpoint)"
            if (p / "checkpoint.pt").exists()
            else ""
        )
        raise RunFolderError(f"{p}: no checkpoint to resume from in this folder{hint}")
    return latest


def run_folder_of(checkpoint: str | Path) -> Path | None:
    """The run folder a checkpoint file belongs to, if it sits in one."""
    p = Path(checkpoint).resolve()
    if p.parent.name == CHECKPOINTS and (p.parent.parent / CONFIG).exists():
        return p.parent.parent
    return None


@dataclass(frozen=True)
class RunSummary:
    folder: Path
    dataset: str
    model: str  # "dcgan nonsaturating"
    step: int
    total_steps: int
    status: str  # completed | stopped | failed | running | interrupted
    g_loss: float | None
    d_loss: float | None
    updated: float  # mtime of the newest log entry
    checkpoints: int


def summarize(folder: str | Path) -> RunSummary:
    """One line's worth of facts about a run folder (RunFolderError if it is not one)."""
    f = Path(folder)
    try:
        doc = json.loads((f / CONFIG).read_text(encoding="utf-8"))
        cfg = doc["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{f}: not a run folder ({exc})") from None
    log = f / METRICS
    records = tail_metrics(log) if log.exists() else []
    train = [r for r in records if r.get("type") == "train"]
    last = train[-1] if train else {}
    status = "new"
    for r in reversed(records):
        if r.get("type") == "end":
            status = str(r.get("status", "ended"))
            break
        if r.get("type") in ("train", "resume"):
            break
    updated = log.stat().st_mtime if log.exists() else (f / CONFIG).stat().st_mtime
    if status == "new" and records:
        status = "running" if time.time() - updated < RUNNING_WITHIN else "interrupted"
    step = max((int(r.get("step", 0)) for r in records), default=0)
    return RunSummary(
        folder=f,
        dataset=str(doc.get("dataset", {}).get("name") or cfg.get("dataset")),
        model=f"{cfg.get('arch')} {cfg.get('loss')}",
        step=step,
        total_steps=int(cfg.get("steps") or 0),
        status=status,
        g_loss=last.get("g_loss"),
        d_loss=last.get("d_loss"),
        updated=updated,
        checkpoints=len(step_checkpoints(f)) + int((f / CHECKPOINTS / BEST).exists()),
    )


def list_runs(root: str | Path, max_depth: int = 3) -> list[RunSummary]:
    """Every run folder at or under ``root`` (newest first). Damaged ones are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise RunFolderError(f"{root}: no such folder")
    found: list[RunSummary] = []
    base_depth = len(root.parts)
    for here, dirs, files in os.walk(root):
        here_p = Path(here)
        if CONFIG in files and (METRICS in files or GENERATOR in files or CHECKPOINTS in dirs):
            with contextlib.suppress(RunFolderError):
                found.append(summarize(here_p))
            dirs[:] = []  # a run folder holds no runs
            continue
        if len(here_p.parts) - base_depth >= max_depth:
            dirs[:] = []
        dirs[:] = [d for d in dirs if not d.startswith(".")]
    return sorted(found, key=lambda r: r.updated, reverse=True)
