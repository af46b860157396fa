"""What `ganstudio train` prints while a run goes: the command line's RunSink."""

from __future__ import annotations

import sys

from ganstudio.cli.common import Progress
from ganstudio.cli.train_cluster import describe
from ganstudio.core.quality.monitor import Quality
from ganstudio.core.quality.warnings import TrainingWarning
from ganstudio.core.runs.session import RunResult, RunSink, RunStarted
from ganstudio.core.training.distributed import Cluster
from ganstudio.core.training.events import Preview, Report


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

    def _print(self, text: str) -> None:
        if self.progress is not None:
            self.progress.close()  # end the progress line on a terminal
        print(text, file=sys.stderr)

    def status(self, text: str) -> None:
        # Setting up takes a while: say what happens. Once the bar runs, it says enough.
        if not self.quiet and self.progress is None and text.endswith("..."):
            print(text, file=sys.stderr)

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
        self.progress = Progress(info.total_steps, enabled=not self.quiet)
        self.progress.update(info.step, force=True)

    def report(self, r: Report) -> None:
        m = r.means()
        if self.progress is not None:
            self.progress.update(
                r.step, f"{r.images_per_s:,.0f} img/s  G {m['g_loss']:.3f} D {m['d_loss']:.3f}  "
            )

    def preview(self, p: Preview) -> None:
        if p.coverage is not None and self.progress is not None:
            self.progress.extra = (
                f" modes {p.coverage.modes_captured}/{p.coverage.n_modes} "
                f"HQ {p.coverage.hq_fraction:.1%}"
            )

    def quality(self, q: Quality) -> None:
        if q.status == "ready" and "fd" in q.metrics and self.progress is not None:
            self.progress.extra = f" FD {q.metrics['fd']:.4g} (real {q.floor.get('fd', 0):.3g})"
        elif q.status == "off" and not self.quiet:
            self._print(f"note: {q.message}")

    def warning(self, w: TrainingWarning) -> None:
        self._print(f"warning: step {w.step}: {w.text()}")

    def finished(self, result: RunResult) -> None:
        if self.progress is not None:
            self.progress.update(result.step, force=True)
            self.progress.close()
