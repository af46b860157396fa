"""`ganstudio bench --images`: which training recipe makes the best pictures in a fixed time.

For each dataset: load it once and get its feature extractor (core.quality.features: from
the cache, or trained once and cached; its time counts toward no recipe). Then each recipe
of RECIPES in turn, in this process, from the same seed: a fresh Trainer with
``TrainConfig(minutes=M)`` and the recipe's fields, run by core.training.loop.run_training,
so the time budget is the product's own (training time: building the networks and the
measurement are outside it). Each is then measured once: samples of its EMA generator from
fixed latents against the real data (core.quality.evaluation: FD, KID, precision, recall,
the classifier score), next to the floor (two halves of the real data against each other).

The table says per recipe: real images through D per second, steps reached, the metrics,
and which recipe wins by FD. A recipe that fails (a NaN loss, a refused setting, an error)
gets a row saying why; the others still run. Progress goes to stderr (a run takes minutes
per recipe). Compare rows of one table only: the numbers depend on the machine's speed, the
sample count and the extractor.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from ganstudio.core.config import Resolved, TrainConfig
from ganstudio.core.data import Dataset, load_dataset
from ganstudio.core.device import pick_device
from ganstudio.core.errors import UserError
from ganstudio.core.fileio import atomic_write_bytes, writable_target
from ganstudio.core.quality.evaluation import Evaluator, QualityMetrics
from ganstudio.core.quality.features import get_extractor
from ganstudio.core.quality.monitor import SAMPLES
from ganstudio.core.render import to_uint8
from ganstudio.core.training.events import Report
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

log = logging.getLogger(__name__)

PrintFn = Callable[[str], None]

# FastGAN's base width in the recipes. Step times on builtin:digits (28 px, batch 64) on a
# 2-core CPU, the fastest of 16 interleaved steps: DCGAN's default (width 64) 85 ms, with
# hinge + spectral norm 75-85 ms, with rpgan 130 ms; FastGAN hinge / rpgan (augment auto)
# at width 4: 115 / 175 ms, 8: 240 / 310 ms, 16: 560 / 840 ms (32: several times that).
# Width 4 would match DCGAN's step time but leaves 8 channels at the picture's size; 8 is
# the narrowest that is not a toy, at about 3x DCGAN's step time (the table's equal wall
# time accounts for that).
FASTGAN_WIDTH = 8

# The candidates: name -> TrainConfig fields on top of TrainConfig(minutes=M). Every field
# not given is resolve()'s automatic choice for the dataset, so "default" (no fields) tracks
# whatever the product trains pictures with by default; "dcgan" is the DCGAN default before
# this table chose one (the non-saturating loss, batch norm in D): the baseline row.
RECIPES: dict[str, dict[str, Any]] = {
    "dcgan": {"arch": "dcgan", "loss": "nonsaturating"},
    "default": {},
    "dcgan-hinge": {"arch": "dcgan", "loss": "hinge", "d_norm": "spectral"},
    "dcgan-rpgan": {"arch": "dcgan", "loss": "rpgan"},  # resolve picks gamma and d_norm
    "fastgan-hinge": {
        "arch": "fastgan",
        "loss": "hinge",
        "augment": "auto",
        "width": FASTGAN_WIDTH,
    },
    "fastgan-rpgan": {
        "arch": "fastgan",
        "loss": "rpgan",
        "augment": "auto",
        "width": FASTGAN_WIDTH,
    },
    # Class-conditional twins (core.conditioning) of the picture default and of FastGAN:
    # whether conditioning on labelled data draws better pictures in the same time.
    "dcgan-hinge-cond": {
        "arch": "dcgan",
        "loss": "hinge",
        "d_norm": "spectral",
        "conditional": True,
    },
    "fastgan-hinge-cond": {
        "arch": "fastgan",
        "loss": "hinge",
        "augment": "auto",
        "width": FASTGAN_WIDTH,
        "conditional": True,
    },
}

DEFAULT_DATASETS = ("builtin:digits",)
DEFAULT_MINUTES = 5.0
PROGRESS_EVERY = 10.0  # seconds between progress lines on stderr
SEED = 0
_METRICS = ("fd", "kid", "precision", "recall", "score")


class ImagesBenchError(UserError):
    """A request the benchmark cannot carry out (an unknown recipe, a dataset of points)."""


@dataclass
class Row:
    """One recipe's result on one dataset."""

    recipe: str
    fields: dict[str, Any]
    status: str = "ok"  # ok | failed
    message: str = ""
    settings: str = ""  # the resolved choices that tell recipes apart, in words
    steps: int = 0
    seconds: float = 0.0  # training time
    images_per_s: float = 0.0  # real images through D per second of training
    metrics: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "fields": self.fields,
            "status": self.status,
            "message": self.message,
            "settings": self.settings,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_per_s, 2),
            "metrics": self.metrics,
        }


def check_recipes(names: Sequence[str]) -> list[str]:
    """The named recipes, in the order given, without repeats; ImagesBenchError for an
    unknown one."""
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ImagesBenchError(
            f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}"
        )
    if not names:
        raise ImagesBenchError(f"no recipe given; choose from {', '.join(RECIPES)}")
    return list(dict.fromkeys(names))


def _metric_values(m: QualityMetrics) -> dict[str, float | None]:
    return {k: None if (v := getattr(m, k)) is None else float(v) for k in _METRICS}


def _describe(cfg: TrainConfig) -> str:
    r = Resolved.of(cfg)
    parts = [f"{r.arch} width {r.width}", r.loss, f"D norm {r.d_norm}"]
    if r.r1_gamma:
        parts.append(f"gamma {r.r1_gamma:g}")
    if r.augment != "off":
        parts.append(f"augment {r.augment} ({cfg.diffaugment})")
    if r.conditional:
        parts.append("class-conditional")
    parts.append(f"batch {r.batch_size}, lr {r.lr_g:g}/{r.lr_d:g}, EMA {r.ema:g}")
    return ", ".join(parts)


def _run_recipe(
    name: str,
    spec: str,
    data: Dataset,
    evaluator: Evaluator,
    minutes: float,
    device: str,
    progress: PrintFn,
) -> Row:
    fields = dict(RECIPES[name])
    row = Row(name, fields)
    trainer: Trainer | None = None
    try:
        cfg = TrainConfig(dataset=spec, device=device, seed=SEED, minutes=minutes, **fields)
        trainer = Trainer(cfg, data)
        row.settings = _describe(trainer.config)
        progress(f"  {name}: {row.settings}")
        last = [time.perf_counter()]

        def on_report(report: Report) -> None:
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                progress(
                    f"  {name}: {report.elapsed:6.0f} s of {60 * minutes:g}, "
                    f"step {report.step:,}, {report.images_per_s:,.0f} img/s"
                )

        outcome = run_training(trainer, on_report=on_report)
        r = trainer.resolved
        row.steps, row.seconds = trainer.step, trainer.elapsed
        row.images_per_s = trainer.step * r.batch_size * r.d_steps / max(trainer.elapsed, 1e-9)
        if not outcome.ok:
            row.status, row.message = "failed", outcome.message
            progress(f"  {name}: failed: {outcome.message}")
            return row
        # The same latents for every recipe of a latent size (the monitor's seed).
        z = torch.randn(evaluator.n, r.latent_dim, generator=torch.Generator().manual_seed(17))
        out = trainer.sample(z)
        if not bool(torch.isfinite(out).all()):
            row.status, row.message = "failed", "the generator's output is not finite"
            return row
        row.metrics = _metric_values(evaluator.evaluate(to_uint8(out)).metrics)
        progress(
            f"  {name}: {row.steps:,} steps in {row.seconds:.0f} s, FD {row.metrics['fd']:.3f}"
        )
    except Exception as exc:  # one recipe's failure must not cost the table
        if not isinstance(exc, UserError):  # a refused setting needs no traceback
            log.warning("recipe %s failed", name, exc_info=True)
        row.status, row.message = "failed", f"{type(exc).__name__}: {exc}"
        progress(f"  {name}: failed: {row.message}")
    finally:
        del trainer
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return row


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"


def format_table(
    rows: Sequence[Row], floor: Mapping[str, float | None], winner: str | None
) -> list[str]:
    """The table's lines: one per recipe, then the floor and the winner."""
    head = (
        f"  {'recipe':<16} {'img/s':>8} {'steps':>8} {'FD':>9} {'KID':>8} "
        f"{'precision':>9} {'recall':>7} {'score':>6}"
    )
    lines = [head]
    for row in rows:
        start = f"  {row.recipe:<16} {row.images_per_s:8.0f} {row.steps:8,}"
        if row.status != "ok":
            lines.append(f"{start}   failed: {row.message}")
            continue
        m = row.metrics
        lines.append(
            f"{start} {_fmt(m['fd']):>9} {_fmt(m['kid'], 4):>8} {_fmt(m['precision']):>9} "
            f"{_fmt(m['recall']):>7} {_fmt(m['score'], 2):>6}"
        )
    lines.append(
        f"  {'floor (real)':<16} {'':>8} {'':>8} {_fmt(floor['fd']):>9} "
        f"{_fmt(floor['kid'], 4):>8} {_fmt(floor['precision']):>9} "
        f"{_fmt(floor['recall']):>7} {_fmt(floor['score'], 2):>6}"
    )
    lines.append(
        f"  best by FD: {winner}" if winner else "  best by FD: none (every recipe failed)"
    )
    return lines


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _extractor_progress(progress: PrintFn, spec: str, fraction: float) -> None:
    progress(f"{spec}: feature extractor {fraction:.0%}")


def _every(seconds: float, show: Callable[[float], None]) -> Callable[[float], None]:
    """``show(fraction)`` at most every ``seconds``, and at the end (fraction 1)."""
    last = [-math.inf]

    def call(fraction: float) -> None:
        now = time.perf_counter()
        if fraction >= 1.0 or now - last[0] >= seconds:
            last[0] = now
            show(fraction)

    return call


def images_table(
    datasets: Sequence[str] = DEFAULT_DATASETS,
    minutes: float = DEFAULT_MINUTES,
    recipes: Sequence[str] | None = None,
    samples: int = SAMPLES,
    device: str = "auto",
    feature_steps: int | None = None,
    out: str | None = None,
    print_fn: PrintFn = print,
    progress: PrintFn = _stderr,
) -> list[dict[str, Any]]:
    """Print (and return, and with ``out`` write as JSON) the table of each dataset (see the
    module docstring). ``feature_steps``: the extractor's training steps (None: its own)."""
    names = check_recipes(list(RECIPES) if recipes is None else list(recipes))
    if out:  # refused now rather than after minutes of training
        writable_target(out)
    dev = pick_device(device)
    tables: list[dict[str, Any]] = []
    for spec in datasets:
        progress(f"{spec}: loading")
        data = load_dataset(spec, seed=SEED)
        if not data.info.is_image:
            raise ImagesBenchError(f"--images compares picture recipes; {spec} holds 2-D points")
        started = time.perf_counter()
        extractor = get_extractor(
            data,
            dev,
            progress=_every(PROGRESS_EVERY, partial(_extractor_progress, progress, spec)),
            seed=SEED,
            steps=feature_steps,
        )
        progress(f"{spec}: feature extractor ready ({time.perf_counter() - started:.0f} s)")
        evaluator = Evaluator(extractor, data, n=samples, seed=SEED)
        floor = _metric_values(evaluator.floor)
        print_fn(
            f"{spec}: {minutes:g} min of training per recipe on {dev}, seed {SEED}; "
            f"{evaluator.n} samples against {evaluator.n} real ones; "
            f"features: {extractor.describe()}"
        )
        for note in evaluator.notes:
            print_fn(f"  note: {note}")
        rows: list[Row] = []
        for name in names:
            progress(f"{spec}: recipe {name} ({len(rows) + 1} of {len(names)})")
            rows.append(_run_recipe(name, spec, data, evaluator, minutes, str(dev), progress))
        measured = [r for r in rows if r.status == "ok" and r.metrics.get("fd") is not None]
        winner = (
            min(measured, key=lambda r: float(r.metrics["fd"] or 0.0)).recipe if measured else None
        )
        for line in format_table(rows, floor, winner):
            print_fn(line)
        for row in rows:
            if row.settings:
                print_fn(f"  {row.recipe}: {row.settings}")
        tables.append(
            {
                "dataset": spec,
                "minutes": minutes,
                "device": str(dev),
                "seed": SEED,
                "samples": evaluator.n,
                "features": extractor.describe(),
                "floor": floor,
                "rows": [r.to_dict() for r in rows],
                "best_by_fd": winner,
            }
        )
        del data, evaluator, extractor
        gc.collect()
    if out:
        atomic_write_bytes(out, (json.dumps(tables, indent=2) + "\n").encode())
        print_fn(f"wrote {out}")
    return tables
