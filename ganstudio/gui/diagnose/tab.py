"""The main window's Diagnose tab: the panel, fed by the training session, its warnings
counted on the tab's title, the session told whether its probes are seen, and the quality
interval remembered between sessions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QTabWidget

from ganstudio.gui.diagnose.panel import DiagnosticsPanel
from ganstudio.gui.train.training import TrainingSession
from ganstudio.gui.widgets.banner import Banner

if TYPE_CHECKING:
    from ganstudio.core.quality.monitor import Quality
    from ganstudio.core.quality.warnings import TrainingWarning
    from ganstudio.core.runs.job import RunStarted
    from ganstudio.gui.engine import PreparedData

TAB_TITLE = "Diagnose"


class DiagnoseTab:
    """Adds the Diagnose ``panel`` to ``tabs`` (after those already there) and feeds it the
    ``session``'s events; warnings also go to the ``banner``. ``prepared_data()``: the data
    the window has prepared (for the nearest-neighbour search when it is the run's)."""

    def __init__(
        self,
        tabs: QTabWidget,
        session: TrainingSession,
        settings: QSettings,
        banner: Banner,
        prepared_data: Callable[[], PreparedData | None],
    ) -> None:
        self.tabs = tabs
        self.settings = settings
        self.banner = banner
        self.prepared_data = prepared_data
        self.panel = DiagnosticsPanel()
        self.index = tabs.addTab(self.panel, TAB_TITLE)
        self.session = session
        tabs.currentChanged.connect(self._on_tab_changed)
        session.set_probes_watched(tabs.currentWidget() is self.panel)
        session.started.connect(self._on_started)
        session.probe.connect(self.panel.show_probe)
        session.quality.connect(self.panel.show_quality)
        session.warning.connect(self.show_warning)
        with contextlib.suppress(TypeError, ValueError):
            self.panel.set_metrics_interval(float(str(settings.value("metrics_every", 120.0))))
        self.panel.metrics_interval_changed.connect(
            lambda seconds: settings.setValue("metrics_every", seconds)
        )

    def metrics_every(self) -> float:
        """Seconds between quality measurements for a new run (0: off)."""
        return self.panel.metrics_interval()

    def _on_started(self, info: RunStarted) -> None:
        self.panel.on_started(info)
        self.tabs.setTabText(self.index, TAB_TITLE)
        data = self.prepared_data()
        if data is not None and data.info.fingerprint == info.dataset.get("fingerprint"):
            self.panel.set_real_data(data.dataset.data)
        else:
            self.panel.set_real_data(
                None,
                "The nearest-neighbour search needs the run's dataset: choose it in the set-up "
                "panel before starting.",
            )

    def show_quality(self, q: Quality) -> None:
        self.panel.show_quality(q)

    def show_warning(self, w: TrainingWarning) -> None:
        """A warning: the banner, a row in the Diagnose tab, a mark on its title."""
        self.banner.show_message(f"Step {w.step:,}: {w.text()}", "warning")
        self.panel.show_warning(w)
        if self.tabs.currentWidget() is not self.panel:
            n = self.panel.warnings_count()
            self.tabs.setTabText(self.index, f"{TAB_TITLE} ({n})")

    def _on_tab_changed(self, index: int) -> None:
        # The probes feed this tab alone: while it is not shown, the run makes fewer.
        self.session.set_probes_watched(index == self.index)
        if index == self.index:
            self.tabs.setTabText(index, TAB_TITLE)
