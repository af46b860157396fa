"""Writing a run folder: everything one training run leaves behind, laid out as
core.runs.layout describes (config, metrics log, previews, checkpoints, the model file)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ganstudio import __version__
from ganstudio.core.fileio import atomic_write, atomic_write_bytes, open_appending
from ganstudio.core.modelfile import save_generator
from ganstudio.core.quality.monitor import Quality
from ganstudio.core.quality.warnings import Diagnostics, TrainingWarning
from ganstudio.core.render import save_png, scatter_image
from ganstudio.core.runs.job import CHECKPOINT_EVERY, KEEP_CHECKPOINTS
from ganstudio.core.runs.layout import (
    BEST,
    CHECKPOINTS,
    CONFIG,
    GENERATOR,
    METRICS,
    PREVIEWS,
    checkpoint_name,
    step_checkpoints,
)
from ganstudio.core.runs.reader import is_number, iter_metrics, read_run_config
from ganstudio.core.training.checkpoint import Checkpoint, model_description, save_checkpoint
from ganstudio.core.training.events import Outcome, Preview, Report
from ganstudio.core.training.trainer import Trainer

# A new best checkpoint is written at most this often (seconds).
BEST_INTERVAL = 60.0


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class RunWriter:
    """Writes a run folder for a trainer. Call its methods from the training thread.

    ``resumed_from``: the checkpoint the trainer was restored from; the metrics log is cut
    back to its step (a killed run may have logged further) and continues from there.
    """

    def __init__(
        self,
        folder: str | Path,
        trainer: Trainer,
        preview_every: int | None = None,
        checkpoint_every: float = CHECKPOINT_EVERY,
        keep: int = KEEP_CHECKPOINTS,
        resumed_from: Checkpoint | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.trainer = trainer
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEWS).mkdir(exist_ok=True)
        (self.folder / CHECKPOINTS).mkdir(exist_ok=True)
        for stale in (self.folder / CHECKPOINTS).glob(".*.tmp"):  # left by a killed save
            stale.unlink(missing_ok=True)
        steps = trainer.resolved.steps
        self.preview_every = max(1, preview_every or steps // 20)
        self._next_preview = (trainer.step // self.preview_every + 1) * self.preview_every
        if trainer.step == 0:
            self._next_preview = 0
        self.checkpoint_every = checkpoint_every
        self.keep = max(1, keep)
        self._last_save = time.monotonic()
        self._last_saved_step = trainer.step if resumed_from is not None else -1
        self.best: tuple[str, float, int, str] | None = None  # metric, value, step, detail
        self.diagnostics = Diagnostics(trainer.loss.probabilistic)
        self._last_best_save = -math.inf
        self._extent: tuple[float, float, float, float] | None = None
        info = trainer.info
        if not info.is_image:  # one fixed plot frame for the whole run, from the real data
            from ganstudio.core.render import plot_extent

            self._extent = plot_extent(trainer.data.data[:5000].cpu().numpy())
            self._real = trainer.data.data[:1000].cpu().numpy()
        doc = {
            "app_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": trainer.config.to_dict(),
            "dataset": info.to_dict(),
            "device": str(trainer.device),
            "processes": trainer.world_size,  # torchrun job size (1: alone)
            "bf16": trainer.amp,
            "generator": trainer.g_spec.to_dict(),
            "discriminator": trainer.d_spec.to_dict(),
        }
        if resumed_from is not None:
            doc = self._resume_doc(doc, resumed_from)
        atomic_write_bytes(self.folder / CONFIG, json.dumps(doc, indent=2).encode())
        # A new run starts a new log (a torchrun job restarted before its first checkpoint
        # leaves one behind); a resumed one continues the log cut back above.
        self._metrics = open_appending(self.folder / METRICS, truncate=resumed_from is None)
        if resumed_from is not None:
            self._log(
                {
                    "type": "resume",
                    "step": trainer.step,
                    "checkpoint": str(resumed_from.path),
                    "notes": list(trainer.resume_notes),
                }
            )

    def _resume_doc(self, doc: dict[str, Any], ckpt: Checkpoint) -> dict[str, Any]:
        """Keep the run's creation time and history; cut the metrics log back to the step."""
        # The folder's own settings (checked: a damaged file is an error naming it); none in
        # a new folder the run continues in.
        old = read_run_config(self.folder) if (self.folder / CONFIG).exists() else {}
        doc["created"] = old.get("created") or doc["created"]
        doc["resumed"] = [
            *(old.get("resumed") or []),
            {"step": ckpt.step, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        ]
        best = ckpt.meta.get("best")
        if (
            isinstance(best, dict)
            and isinstance(best.get("metric"), str)
            and is_number(best.get("value"))
            and isinstance(best.get("step"), int)
        ):
            self.best = (
                best["metric"],
                float(best["value"]),
                int(best["step"]),
                str(best.get("detail", "")),
            )
        log = self.folder / METRICS
        if log.exists():  # read a line at a time: a long run's log can be large

            def cut(fh: BinaryIO) -> None:
                for r in iter_metrics(log):
                    if r.get("step", 0) <= ckpt.step:
                        fh.write((json.dumps(r) + "\n").encode())

            atomic_write(log, cut)
        return doc

    def _log(self, record: dict[str, Any]) -> None:
        self._metrics.write((json.dumps(record) + "\n").encode())
        self._metrics.flush()

    def on_report(self, r: Report) -> list[TrainingWarning]:
        """Log the report (and autosave when due); the warnings it raised, also logged."""
        m = r.means()
        self._log(
            {
                "type": "train",
                "step": r.step,
                "time": round(r.elapsed, 3),
                **{k: _finite(v) for k, v in m.items()},
                "images_per_s": round(r.images_per_s, 1),
                "lr_g": r.lr_g,
                "lr_d": r.lr_d,
                "d_steps": r.d_steps,
                # --augment auto: the probability of each DiffAugment operation
                **({} if r.augment_p is None else {"augment_p": round(r.augment_p, 6)}),
            }
        )
        warnings = self._warn(self.diagnostics.update(r))
        # Reports come between steps, so the state saved here is a consistent one.
        if (
            self.checkpoint_every > 0
            and time.monotonic() - self._last_save >= self.checkpoint_every
            and self.trainer.failure is None
        ):
            self.save_checkpoint()
        return warnings

    def _warn(self, warnings: list[TrainingWarning]) -> list[TrainingWarning]:
        for w in warnings:
            self._log(
                {
                    "type": "warning",
                    "step": w.step,
                    "kind": w.kind,
                    "message": w.message,
                    "advice": w.advice,
                }
            )
        return warnings

    def on_quality(self, q: Quality) -> list[TrainingWarning]:
        """Log a quality measurement, keep the best checkpoint by it (images: the Frechet
        distance in the run's own feature space), and the warnings it raised."""
        if q.status != "ready":
            return []
        self._log(
            {
                "type": "quality",
                "step": q.step,
                **{k: _finite(v) for k, v in q.metrics.items()},
                "floor": {k: _finite(v) for k, v in q.floor.items()},
                "diversity": None if q.diversity is None else _finite(q.diversity),
                "seconds": round(q.seconds, 3),
                **({"final": True} if q.final else {}),
            }
        )
        fd = q.metrics.get("fd")
        if fd is not None and not self.trainer.info.modes:  # 2-D mixtures: mode coverage
            self.offer_metric(
                "Frechet distance",
                float(fd),
                q.step,
                higher_is_better=False,
                detail=f"FD {fd:.4g} (real data: {q.floor.get('fd', float('nan')):.4g})",
            )
        return self._warn(self.diagnostics.update_quality(q))

    def on_preview(self, p: Preview) -> list[TrainingWarning]:
        """Log coverage, keep the best checkpoint by it, save preview pictures now and then;
        the warnings it raised (a 2-D generator losing modes)."""
        warnings: list[TrainingWarning] = []
        if p.coverage is not None:
            warnings = self._warn(self.diagnostics.update_coverage(p.step, p.coverage))
            self._log(
                {
                    "type": "coverage",
                    "step": p.step,
                    "modes_captured": p.coverage.modes_captured,
                    "n_modes": p.coverage.n_modes,
                    "hq_fraction": round(p.coverage.hq_fraction, 4),
                }
            )
            # Modes first, then the share of high-quality samples.
            self.offer_metric(
                "mode coverage",
                p.coverage.modes_captured + p.coverage.hq_fraction,
                p.step,
                detail=f"{p.coverage.modes_captured}/{p.coverage.n_modes} modes, "
                f"{p.coverage.hq_fraction:.1%} high quality",
            )
        final = p.step >= self.trainer.resolved.steps
        if p.step < self._next_preview and not final:
            return warnings
        self._next_preview = (p.step // self.preview_every + 1) * self.preview_every
        picture = (
            p.grid
            if self.trainer.info.is_image
            else scatter_image(
                p.samples,
                self._real,
                size=512,
                extent=self._extent,
                modes=np.asarray(self.trainer.info.modes) if self.trainer.info.modes else None,
            )
        )
        save_png(
            self.folder / PREVIEWS / f"step_{p.step:07d}.png",
            picture,
            {"ganstudio.step": str(p.step)},
        )
        return warnings

    def offer_metric(
        self,
        name: str,
        value: float,
        step: int,
        higher_is_better: bool = True,
        detail: str = "",
    ) -> None:
        """Save checkpoints/best.safetensors when ``value`` (measured on the current weights,
        at ``step``) beats the best so far; at most once per BEST_INTERVAL seconds."""
        if step != self.trainer.step or not math.isfinite(value) or self.trainer.failure:
            return
        if step == 0:  # untrained weights are never the best (and would hold the slot)
            return
        if self.best is not None:
            better = value > self.best[1] if higher_is_better else value < self.best[1]
            if not better or time.monotonic() - self._last_best_save < BEST_INTERVAL:
                return
        self.best = (name, float(value), step, detail)
        self._last_best_save = time.monotonic()
        save_checkpoint(self.trainer, self.folder / CHECKPOINTS / BEST, self._best_meta())
        self._log({"type": "best", "step": step, "metric": name, "value": round(value, 6)})

    def _best_meta(self) -> dict[str, Any]:
        if self.best is None:
            return {}
        name, value, step, detail = self.best
        return {"best": {"metric": name, "value": value, "step": step, "detail": detail}}

    def save_generator(self, path: str | Path | None = None) -> Path:
        t = self.trainer
        path = Path(path) if path else self.folder / GENERATOR
        snap = t.snapshot()
        save_generator(path, snap.spec, snap.state, model_description(t))
        return path

    def save_checkpoint(self) -> Path:
        """Write checkpoints/step_NNNNNNN.safetensors and keep only the newest few."""
        t = self.trainer
        path = self.folder / CHECKPOINTS / checkpoint_name(t.step)
        extra = self._best_meta()
        if t.step != self._last_saved_step or not path.exists():
            save_checkpoint(t, path, extra)
            self._last_saved_step = t.step
        self._last_save = time.monotonic()
        for old in step_checkpoints(self.folder)[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def finish(self, outcome: Outcome) -> None:
        self._log(
            {
                "type": "end",
                "step": outcome.step,
                "status": outcome.status,
                "message": outcome.message,
            }
        )
        self._metrics.close()
