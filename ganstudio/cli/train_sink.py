"""What `ganstudio train` prints while a run goes: the command line's RunSink."""

from __future__ import annotations

import sys

from ganstudio.cli.common import Progress
from ganstudio.cli.train_cluster import describe
from ganstudio.core.durations import RemainingTime
from ganstudio.core.quality.monitor import Quality
from ganstudio.core.quality.warnings import TrainingWarning
from ganstudio.core.runs.session import RunResult, RunSink, RunStarted
from ganstudio.core.training.distributed import Cluster
from ganstudio.core.training.events import Preview, Report

FINAL_METRICS = (
    ("fd", "FD"),
    ("kid", "KID"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("score", "class score"),
)


class PrintingSink(RunSink):
    """The command line's view of a run: status lines, a progress bar, notes and warnings
    on stderr. Only the process that writes the run folder prints (under torchrun)."""

    wants_snapshots = False
    wants_probes = False

    def __init__(self, quiet: bool, cluster: Cluster | None) -> None:
        self.cluster = cluster
        self.main = cluster is None or cluster.is_main
        self.quiet = quiet or not self.main
        self.progress: Progress | None = None
        self.data_bar: Progress | None = None
        self.measure_bar: Progress | None = None  # the final measurement's preparation
        self.measuring = False
        self.last_step: int | None = None
        self.by_time = False  # the progress bar counts seconds of training, not steps
        self.remaining = RemainingTime()  # the ETA the window shows, from recent speed

    def _print(self, text: str) -> None:
        if self.progress is not None:
            self.progress.close()  # end the progress line on a terminal
        print(text, file=sys.stderr)

    def status(self, text: str) -> None:
        # Setting up, saving and the final measurement take a while: say what happens.
        if not self.quiet and text.endswith("..."):
            if self.progress is not None and self.last_step is not None:
                self.progress.update(self.last_step, force=True)  # where training ended
            self._print(text)
            self.measuring = text.startswith("Measuring")

    def data_progress(self, done: int, total: int) -> None:
        if self.data_bar is None:
            self.data_bar = Progress(total, enabled=not self.quiet, label="images")
        self.data_bar.update(done, force=done >= total)
        if done >= total:
            self.data_bar.close()

    def started(self, info: RunStarted) -> None:
        if self.data_bar is not None:
            self.data_bar.close()
        cfg, data = info.config, info.dataset
        if not self.quiet:
            for note in info.data_notes:
                print(f"  note: {note}", file=sys.stderr)
            print(
                f"{data['count']} samples of shape {tuple(data['sample_shape'])}; "
                f"{cfg['arch']} {cfg['loss']} on {info.device}"
                f"{' (bf16)' if info.bf16 else ''}{describe(self.cluster, cfg['batch_size'])}; "
                f"run folder {info.run_folder}",
                file=sys.stderr,
            )
            for note in info.notes:
                print(f"  note: {note}", file=sys.stderr)
        for note in info.warnings:  # printed even with --quiet: they matter
            print(f"  warning: {note}", file=sys.stderr)
        minutes = info.config.get("minutes")
        if minutes:  # a time budget: the bar counts seconds of training
            self.by_time = True
            self.progress = Progress(
                round(60 * minutes), enabled=not self.quiet, label="second of training"
            )
            self.progress.update(0, force=True)
        else:
            self.progress = Progress(info.total_steps, enabled=not self.quiet)
            self.progress.update(info.step, force=True)

    def report(self, r: Report) -> None:
        self.last_step = round(r.elapsed) if self.by_time else r.step
        m = r.means()
        if self.progress is not None:
            aug = "" if r.augment_p is None else f"aug p {r.augment_p:.3f}  "
            steps = f"step {r.step:,}  " if self.by_time else ""
            self.progress.update(
                self.last_step,
                f"{steps}{r.images_per_s:,.0f} img/s  "
                f"G {m['g_loss']:.3f} D {m['d_loss']:.3f}  {aug}",
                eta=self.remaining.update(r.step, r.elapsed, r.total_steps, r.budget_seconds),
            )

    def preview(self, p: Preview) -> None:
        if p.coverage is not None and self.progress is not None:
            self.progress.extra = (
                f" modes {p.coverage.modes_captured}/{p.coverage.n_modes} "
                f"HQ {p.coverage.hq_fraction:.1%}"
            )

    def quality(self, q: Quality) -> None:
        if self.measuring and q.status == "preparing" and not self.quiet:
            if self.measure_bar is None:
                self.measure_bar = Progress(100, label="% of the feature extractor")
            self.measure_bar.update(round(100 * q.progress), force=q.progress >= 1)
        if q.final and self.measure_bar is not None:
            self.measure_bar.close()
            self.measure_bar = None
        if q.final and q.status == "ready" and not self.quiet:
            shown = ", ".join(
                f"{name} {q.metrics[key]:.4g} (real data {q.floor.get(key, float('nan')):.3g})"
                for key, name in FINAL_METRICS
                if key in q.metrics
            )
            self._print(f"final quality at step {q.step:,}: {shown}")
        elif q.status == "ready" and "fd" in q.metrics and self.progress is not None:
            self.progress.extra = f" FD {q.metrics['fd']:.4g} (real {q.floor.get('fd', 0):.3g})"
        elif q.status == "off" and not self.quiet:
            self._print(f"note: {q.message}")

    def warning(self, w: TrainingWarning) -> None:
        self._print(f"warning: step {w.step}: {w.text()}")

    def finished(self, result: RunResult) -> None:
        if self.progress is not None:
            done = self.last_step if self.by_time else result.step
            self.progress.update(done if done is not None else 0, force=True)
            self.progress.close()
