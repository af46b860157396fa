"""A run folder: everything one training run leaves behind.

RUN/
  config.json         resolved settings, dataset summary, app version
  metrics.jsonl       one JSON object per line, appended and flushed as training goes
  previews/step_NNNNNNN.png   sample grids (or scatter plots) over time
  generator.safetensors       the final (EMA) generator: open it with `ganstudio sample`
  checkpoint.pt       models and optimiser states (loaded with weights_only=True)
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ganstudio import __version__
from ganstudio.core.modelfile import save_generator
from ganstudio.core.render import atomic_write_bytes, save_png, scatter_image
from ganstudio.core.trainer import Outcome, Preview, Report, Trainer

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PREVIEWS = "previews"
GENERATOR = "generator.safetensors"
CHECKPOINT = "checkpoint.pt"


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class RunWriter:
    """Writes a run folder for a trainer. Call its methods from the training thread."""

    def __init__(self, folder: str | Path, trainer: Trainer, preview_every: int | None = None):
        self.folder = Path(folder)
        self.trainer = trainer
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEWS).mkdir(exist_ok=True)
        steps = trainer.config.steps
        self.preview_every = max(1, preview_every or steps // 20)
        self._next_preview = 0
        self._extent = None
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
            "bf16": trainer.amp,
            "generator": trainer.g_spec.to_dict(),
            "discriminator": trainer.d_spec.to_dict(),
        }
        atomic_write_bytes(self.folder / CONFIG, json.dumps(doc, indent=2).encode())
        self._metrics = (self.folder / METRICS).open("a", encoding="utf-8")

    def _log(self, record: dict) -> None:
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()

    def on_report(self, r: Report) -> None:
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
            }
        )

    def on_preview(self, p: Preview) -> None:
        if p.coverage is not None:
            self._log(
                {
                    "type": "coverage",
                    "step": p.step,
                    "modes_captured": p.coverage.modes_captured,
                    "n_modes": p.coverage.n_modes,
                    "hq_fraction": round(p.coverage.hq_fraction, 4),
                }
            )
        final = p.step >= self.trainer.config.steps
        if p.step < self._next_preview and not final:
            return
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

    def save_generator(self, path: str | Path | None = None) -> Path:
        t = self.trainer
        path = Path(path) if path else self.folder / GENERATOR
        snap = t.snapshot()
        save_generator(
            path,
            snap.spec,
            snap.state,
            {
                "step": t.step,
                "loss": t.config.loss,
                "ema": t.config.ema,
                "image_size": t.info.image_size,
                "channels": t.info.channels,
                "latent_dim": t.config.latent_dim,
                "dataset": {k: v for k, v in t.info.to_dict().items() if k != "class_names"}
                | {"class_names": list(t.info.class_names)},
            },
        )
        return path

    def save_checkpoint(self) -> Path:
        t = self.trainer
        state = {
            "format": "ganstudio.checkpoint",
            "format_version": 1,
            "app_version": __version__,
            "step": t.step,
            "config": json.dumps(t.config.to_dict()),
            "G": t.G.state_dict(),
            "D": t.D.state_dict(),
            "G_ema": t.G_ema.state_dict() if t.G_ema is not None else {},
            "opt_g": t.opt_g.state_dict(),
            "opt_d": t.opt_d.state_dict(),
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        path = self.folder / CHECKPOINT
        atomic_write_bytes(path, buf.getvalue())
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


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint without executing code from it (weights_only)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)
