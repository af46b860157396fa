"""What a followed run's log records mean for the window: curve points, warnings, quality
measurements, mode coverage and the status line (see core.runs.follow for the reading)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ganstudio.core.quality.warnings import TrainingWarning
from ganstudio.core.runs.follow import STALLED_AFTER, FollowUpdate
from ganstudio.core.runs.reader import is_number

if TYPE_CHECKING:
    from ganstudio.core.quality.monitor import Quality

# Columns of a "train" record drawn as curves, in core.training.events.STAT_NAMES order.
CURVE_COLUMNS = ("g_loss", "d_loss", "d_real", "d_fake", "g_grad", "d_grad")


def number_or_none(v: object) -> float:
    """A record's number as a float; NaN when it is missing or no finite number."""
    return float(v) if is_number(v) else math.nan


def curve_points(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The "train" records as (steps int64 (n,), stats float64 (n, 6)) in CURVE_COLUMNS
    order; a missing or non-finite value is NaN."""
    train = [r for r in records if r.get("type") == "train" and is_number(r.get("step"))]
    steps = np.array([int(r["step"]) for r in train], dtype=np.int64)
    stats = np.array(
        [[number_or_none(r.get(k)) for k in CURVE_COLUMNS] for r in train], dtype=np.float64
    ).reshape(len(train), len(CURVE_COLUMNS))
    return steps, stats


def training_warnings(records: Sequence[dict[str, Any]]) -> list[TrainingWarning]:
    """The "warning" records as core.quality.warnings.TrainingWarning."""
    out = []
    for r in records:
        if r.get("type") == "warning" and is_number(r.get("step")):
            out.append(
                TrainingWarning(
                    str(r.get("kind", "")),
                    int(r["step"]),
                    str(r.get("message", "")),
                    str(r.get("advice", "")),
                )
            )
    return out


def quality_events(records: Sequence[dict[str, Any]]) -> list[Quality]:
    """The "quality" records as core.training.events.Quality (status "ready")."""
    from ganstudio.core.quality.monitor import Quality

    out = []
    names = ("fd", "kid", "precision", "recall", "score")
    for r in records:
        if r.get("type") != "quality" or not is_number(r.get("step")):
            continue
        floor = r.get("floor")
        if not isinstance(floor, dict):
            floor = {}
        diversity = r.get("diversity")
        out.append(
            Quality(
                step=int(r["step"]),
                status="ready",
                metrics={k: float(r[k]) for k in names if is_number(r.get(k))},
                floor={k: float(v) for k, v in floor.items() if is_number(v)},
                diversity=float(diversity) if is_number(diversity) else None,
                seconds=float(r.get("seconds") or 0.0) if is_number(r.get("seconds")) else 0.0,
                final=r.get("final") is True,
            )
        )
    return out


def newest_coverage(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest "coverage" record (2-D mixtures: modes captured) whose counts are numbers,
    if any."""
    return next(
        (
            r
            for r in reversed(records)
            if r.get("type") == "coverage"
            and all(is_number(r.get(k)) for k in ("modes_captured", "n_modes", "hq_fraction"))
        ),
        None,
    )


def status_text(update: FollowUpdate, name: str, now: float | None = None) -> str:
    """One line for the window: "Following RUN: step S of N, updated 3 s ago"."""
    from ganstudio.core.durations import format_duration

    now = time.time() if now is None else now
    ago = max(0.0, now - update.updated)
    ago_text = "just now" if ago < 1 else f"{_ago(ago)} ago"
    of = f" of {update.total_steps:,}" if update.total_steps else ""
    head = f"Following {name}"
    if update.status == "waiting":
        text = f"{head}: waiting for the first step (updated {ago_text})"
    elif update.status == "running":
        text = f"{head}: step {update.step:,}{of}"
        if update.steps_per_s and update.total_steps > update.step:
            eta = (update.total_steps - update.step) / update.steps_per_s
            text += f", {update.steps_per_s:,.0f} steps/s, ETA {format_duration(eta)}"
        text += f", updated {ago_text}"
        if ago >= STALLED_AFTER:
            text += (
                ". Nothing has changed for a long time: the job may have stopped, or the "
                "folder is no longer synchronised"
            )
    else:
        ended = {"completed": "finished", "stopped": "stopped", "failed": "failed"}.get(
            update.status, update.status
        )
        text = f"{head}: the run {ended} at step {update.step:,}{of} ({ago_text})"
        if update.status == "failed" and update.message:
            text += f": {update.message}"
    if update.problem:
        text += f". {update.problem}"
    return text


def _ago(seconds: float) -> str:
    """3 s, 4 min, 2 h 5 min, 3 days."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s // 60 % 60} min"
    return f"{s // 86400} days"
