"""The main window's Diagnose tab and slow-motion switch (mixed into the main window)."""

from __future__ import annotations

import contextlib

from ganstudio.core.config import TrainConfig
from ganstudio.core.runs.job import RunJob
from ganstudio.gui.diagnose.panel import DiagnosticsPanel

TAB_TITLE = "Diagnose"


class DiagnoseTab:
    """Adds the Diagnose tab after Explore and feeds it the session's events. Expects the
    window's ``tabs``, ``session``, ``settings``, ``banner`` and ``data``."""

    def _build_diagnose_tab(self) -> None:
        self.diagnose = DiagnosticsPanel()
        self._diagnose_index = self.tabs.addTab(self.diagnose, TAB_TITLE)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        s = self.session
        s.started.connect(self._diagnose_started)
        s.probe.connect(self.diagnose.show_probe)
        s.quality.connect(self.diagnose.show_quality)
        quality = self.diagnose.quality
        with contextlib.suppress(TypeError, ValueError):
            quality.set_interval_seconds(float(self.settings.value("metrics_every", 120.0)))
        quality.interval.currentIndexChanged.connect(
            lambda _: self.settings.setValue("metrics_every", quality.interval_seconds())
        )

    def metrics_every(self) -> float:
        """Seconds between quality measurements for a new run (0: off)."""
        return self.diagnose.quality.interval_seconds()

    def new_job(
        self,
        config: dict | None = None,
        dataset=None,
        resume: str | None = None,
        steps: int | None = None,
    ) -> RunJob:
        """A RunJob in the window's runs folder, measuring quality as this tab says:
        ``config`` (TrainConfig fields) for a new run, or ``resume`` a run folder or
        checkpoint (for ``steps`` in all). ConfigError when a field is invalid."""
        return RunJob(
            config=None if config is None else TrainConfig.from_dict(config),
            resume=resume,
            dataset=dataset,
            steps=steps,
            runs_dir=self._runs_dir(),
            metrics_every=self.metrics_every(),
        )

    def _diagnose_started(self, info) -> None:
        self.diagnose.on_started(info)
        self.tabs.setTabText(self._diagnose_index, TAB_TITLE)
        data = self.data
        if data is not None and data.info.fingerprint == info.dataset.get("fingerprint"):
            self.diagnose.set_real_data(data.dataset.data)
        else:
            self.diagnose.set_real_data(
                None,
                "The nearest-neighbour search needs the run's dataset: choose it in the set-up "
                "panel before starting.",
            )

    def _on_warning(self, w) -> None:
        """A TrainingWarning: the banner, a row in the Diagnose tab, a mark on its title."""
        self.banner.show_message(f"Step {w.step:,}: {w.text()}", "warning")
        self.diagnose.show_warning(w)
        if self.tabs.currentWidget() is not self.diagnose:
            n = self.diagnose.warnings.warnings_count()
            self.tabs.setTabText(self._diagnose_index, f"{TAB_TITLE} ({n})")

    def _on_tab_changed(self, index: int) -> None:
        if index == self._diagnose_index:
            self.tabs.setTabText(index, TAB_TITLE)

    def set_slow_motion(self, on: bool) -> None:
        """While paused, Step shows D's update, then G's; remembered between sessions."""
        self.session.set_slow_motion(bool(on))
        self.settings.setValue("slow_motion", bool(on))

    def _restore_slow_motion(self) -> None:
        on = str(self.settings.value("slow_motion", "false")).lower() in ("true", "1")
        self.slow_motion_action.setChecked(on)
        self.session.set_slow_motion(on)
