"""What the window last received: from the run it trains (its RunStarted, newest Preview and
Snapshot, and RunResult) and the model opened from a file. The window writes it as events
arrive; the File actions read it to save and export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganstudio.core.runs.job import RunResult, RunStarted
    from ganstudio.core.training.events import Preview, Snapshot
    from ganstudio.gui.engine import OpenedModel


@dataclass
class Latest:
    started: RunStarted | None = None
    preview: Preview | None = None
    snapshot: Snapshot | None = None
    result: RunResult | None = None
    opened_model: OpenedModel | None = None
