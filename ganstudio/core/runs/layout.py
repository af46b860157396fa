"""The names in a run folder, and of run folders (torch-free: the window and the command
line both use them).

What one training run leaves behind:

RUN/
  config.json         resolved settings, dataset summary, networks, app version
  metrics.jsonl       one JSON object per line, appended and flushed as training goes
  previews/step_NNNNNNN.png        sample grids (or scatter plots) over time
  checkpoints/step_NNNNNNN.safetensors   the last few checkpoints (autosaved, and at stop)
  checkpoints/best.safetensors     the best checkpoint by a metric (2-D: mode coverage)
  generator.safetensors            the final (EMA) generator: a model file
  run.lock            while a process trains into the folder: who (core.runs.lock)
"""

from __future__ import annotations

import time
from pathlib import Path

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PREVIEWS = "previews"
GENERATOR = "generator.safetensors"
CHECKPOINTS = "checkpoints"
BEST = "best.safetensors"
LOCK = "run.lock"


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}.safetensors"


def step_checkpoints(folder: str | Path) -> list[Path]:
    """The run's step checkpoints (regular files only), oldest first."""
    d = Path(folder) / CHECKPOINTS
    return sorted(p for p in d.glob("step_*.safetensors") if p.is_file()) if d.is_dir() else []


def dataset_name(spec: str) -> str:
    """A short name for a dataset spec: 'builtin:shapes?n=9' -> 'shapes', '/a/b.zip' -> 'b'."""
    base = spec.partition("?")[0].rstrip("/\\")
    if base.startswith("builtin:"):
        return base.removeprefix("builtin:")
    name = Path(base).name or "dataset"
    for suffix in (".tar.gz", ".tar.bz2", ".tar.xz", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "dataset"
    return Path(name).stem or "dataset"


def new_run_folder(root: str | Path, spec: str) -> Path:
    """A fresh folder name under ``root`` for a run on dataset ``spec`` (not created)."""
    base = Path(root) / f"{dataset_name(spec)}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path
