"""A training run's job, what it reports and how it ended (torch-free: the window builds jobs
and receives these before PyTorch has loaded). ``core.runs.session`` runs the job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ganstudio.core.config import TrainConfig

if TYPE_CHECKING:
    from ganstudio.core.data.dataset import Dataset
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.quality.warnings import TrainingWarning
    from ganstudio.core.training.events import Preview, Probe, Report, Snapshot

# Defaults of a job (seconds, and a count).
CHECKPOINT_EVERY = 300.0  # autosave interval
KEEP_CHECKPOINTS = 3  # step checkpoints kept, besides the best one
METRICS_EVERY = 120.0  # between quality measurements


@dataclass(frozen=True)
class RunJob:
    """What to train: a new ``config``, or ``resume`` (a run folder or a checkpoint file).

    ``out``: the run folder. By default a new run gets a fresh folder under ``runs_dir``;
    a resumed one continues in the folder its checkpoint sits in (or, when it sits in none,
    a fresh folder under ``runs_dir``; with ``runs_dir`` None that is an error). ``out`` is
    never another run's folder: for a new run it holds no run yet, for a resumed one it is
    the checkpoint's own run folder or holds no run yet.
    """

    config: TrainConfig | None = None
    resume: str | None = None
    dataset: Dataset | None = None  # prepared data to reuse (else loaded from the spec)
    # Resuming only: train on other data, for another budget, on another device.
    dataset_spec: str | None = None
    steps: int | None = None
    minutes: float | None = None  # the run's whole time budget, the time trained before included
    device: str | None = None
    out: str | None = None
    runs_dir: str | None = "runs"
    preview_every: int | None = None  # steps between saved preview pictures
    checkpoint_every: float = CHECKPOINT_EVERY  # seconds; 0: only at the end
    keep_checkpoints: int = KEEP_CHECKPOINTS
    metrics_every: float = METRICS_EVERY  # seconds between quality measurements; 0: off
    # torchrun restarted the job before its first checkpoint: the folder it left is reused.
    restarted: bool = False

    def __post_init__(self) -> None:
        if (self.config is None) == (self.resume is None):
            raise ValueError("a RunJob needs either a config or a run to resume")


@dataclass(frozen=True)
class RunStarted:
    """Sent once the run is set up, before its first step."""

    run_folder: str
    config: dict  # the resolved settings
    dataset: dict  # DatasetInfo.to_dict()
    device: str
    bf16: bool
    step: int
    total_steps: int
    probabilistic: bool  # D(x), D(G(z)) are probabilities (else critic scores)
    notes: tuple[str, ...] = ()  # why each automatic choice was made (new runs)
    warnings: tuple[str, ...] = ()  # from resuming: a changed dataset, another device
    history_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # (n, 6) in core.training.events.STAT_NAMES order
    history_stats: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    real_points: np.ndarray | None = None  # 2-D: real samples for the scatter
    modes: tuple = ()
    model_meta: dict = field(default_factory=dict)  # for saving a model file from a snapshot
    resumed: bool = False  # settings come from a checkpoint, not from the set-up panel
    processes: int = 1  # torchrun job size
    # About the data as loaded: unreadable files skipped, the pixel range detected.
    data_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """How a run ended. ``status``: completed, stopped or failed."""

    status: str
    message: str
    step: int
    run_folder: str | None = None
    model_path: str | None = None
    # Failed because the other processes of a torchrun job are gone: the weights are fine.
    lost_contact: bool = False
    # The newest step checkpoint of a failed run, to continue from.
    last_checkpoint: str | None = None
    # Failed before the first step, because of something the user can fix (a bad dataset,
    # a setting, a file): the command line answers it as a usage error.
    user_error: bool = False

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class RunSink:
    """What a run tells its front end. Every method does nothing here: a sink overrides
    what it shows. All are called in the thread that runs the session, with Qt-free,
    immutable payloads. ``wants_snapshots`` / ``wants_probes`` False skip their cost."""

    wants_snapshots = True
    wants_probes = True

    def status(self, text: str) -> None:
        """A line about what the session is doing (preparing data, building, saving)."""

    def data_progress(self, done: int, total: int) -> None:
        """Pictures prepared so far, while the dataset loads."""

    def started(self, info: RunStarted) -> None: ...

    def report(self, report: Report) -> None: ...

    def preview(self, preview: Preview) -> None: ...

    def snapshot(self, snapshot: Snapshot) -> None: ...

    def probe(self, probe: Probe) -> None: ...

    def quality(self, quality: Quality) -> None: ...

    def warning(self, warning: TrainingWarning) -> None: ...

    def finished(self, result: RunResult) -> None: ...
