"""`ganstudio info FILE` and `ganstudio runs [FOLDER]`: what files and run folders hold."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ganstudio.cli.common import CLIError

if TYPE_CHECKING:
    from ganstudio.core.runs.reader import RunSummary


def _network(spec: dict) -> str:
    kwargs = spec.get("kwargs", {})
    shown = {
        k: v
        for k, v in kwargs.items()
        if k in ("image_size", "channels", "latent_dim", "hidden", "base", "depth", "norm", "pack")
    }
    return f"{spec.get('name')} (" + ", ".join(f"{k} {v}" for k, v in shown.items()) + ")"


def _dataset(d: dict) -> str:
    shape = "x".join(str(v) for v in d.get("sample_shape", []))
    kind = "images" if d.get("kind") == "images" else "points"
    return (
        f"{d.get('name')}: {d.get('count')} {kind} of shape {shape}, "
        f"fingerprint {d.get('fingerprint') or '?'}"
    )


def describe_file(path: Path, meta: dict) -> list[str]:
    """Human-readable lines about a model file or a checkpoint."""
    if meta["format"] == "ganstudio.checkpoint":
        cfg = meta.get("config", {})
        model = meta.get("model", {})
        lines = [
            f"checkpoint  {path}",
            f"  step       {meta.get('step')} of {cfg.get('steps')}, "
            f"{meta.get('elapsed', 0):.0f} s of training",
            f"  generator  {_network(meta.get('generator', {}))}",
            f"  critic     {_network(meta.get('discriminator', {}))}",
            f"  training   {cfg.get('loss')} loss, lr G {cfg.get('lr_g')} D {cfg.get('lr_d')}, "
            f"batch {cfg.get('batch_size')}, D steps {cfg.get('d_steps')}, EMA {cfg.get('ema')}",
            f"  dataset    {_dataset(meta.get('dataset', {}))}",
            f"             from {cfg.get('dataset')}",
        ]
        if meta.get("best"):
            b = meta["best"]
            shown = b.get("detail") or f"{b['value']:.4g}"
            lines.append(f"  best       {b['metric']} {shown} at step {b['step']}")
        lines.append(f"  latent     {model.get('latent_dim')}")
    else:
        lines = [
            f"model file  {path}",
            f"  network    {_network(meta.get('architecture', {}))}",
            f"  trained    {meta.get('step')} steps, {meta.get('loss')} loss, "
            f"EMA {meta.get('ema')}",
            f"  dataset    {_dataset(meta.get('dataset', {}))}",
            f"  hash       {meta.get('content_hash')}",
        ]
    lines.append(
        f"  written by GAN Studio {meta.get('app_version')} "
        f"({meta['format']} version {meta.get('format_version')})"
    )
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    from ganstudio.core.modelfile import read_metadata

    p = Path(args.path)
    if p.is_dir():
        from ganstudio.core.runs.reader import summarize

        run = summarize(p)
        if args.json:
            print(json.dumps(run.__dict__ | {"folder": str(run.folder)}, indent=2))
            return 0
        for line in _run_lines([run]):
            print(line)
        for ckpt in sorted((p / "checkpoints").glob("*.safetensors")):
            print(f"  checkpoint {ckpt.name}")
        return 0
    meta = read_metadata(p)
    if args.json:
        print(json.dumps(meta, indent=2))
    else:
        for line in describe_file(p, meta):
            print(line)
    return 0


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _run_lines(runs: Sequence[RunSummary]) -> list[str]:
    rows = [("RUN", "DATASET", "MODEL", "STEPS", "STATUS", "G LOSS", "D LOSS", "UPDATED")]
    for r in runs:
        rows.append(
            (
                str(r.folder),
                r.dataset,
                r.model,
                f"{r.step}/{r.total_steps}",
                r.status,
                _fmt(r.g_loss),
                _fmt(r.d_loss),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r.updated)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def cmd_runs(args: argparse.Namespace) -> int:
    from ganstudio.core.runs.reader import RunFolderError, scan_runs

    try:
        runs, problems = scan_runs(args.folder)
    except RunFolderError as exc:
        raise CLIError(str(exc)) from None
    if runs:
        for line in _run_lines(runs):
            print(line)
    elif not problems:
        print(f"no runs in {args.folder}")
    for problem in problems:  # a damaged run folder is left out, and said why
        print(f"warning: left out {problem}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser(
        "info",
        help="describe a model file, a checkpoint or a run folder",
        description="Print what a GAN Studio file holds (its JSON description), without "
        "loading the networks.",
    )
    i.add_argument("path", help="generator .safetensors, checkpoint, or run folder")
    i.add_argument("--json", action="store_true", help="the raw description as JSON")
    i.set_defaults(func=cmd_info)

    r = sub.add_parser("runs", help="list the runs in a folder")
    r.add_argument("folder", nargs="?", default="runs", help="where to look (default runs/)")
    r.set_defaults(func=cmd_runs)
