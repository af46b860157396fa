"""Names of run folders (torch-free: the window and the command line both use them)."""

from __future__ import annotations

import time
from pathlib import Path


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
