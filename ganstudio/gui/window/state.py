"""What the main window remembers between sessions (QSettings): layout, dataset, settings,
curve options, device."""

from __future__ import annotations

import json
from pathlib import Path

from ganstudio.core.choices import DEFAULT_DATASET


class WindowState:
    """Mixed into the main window."""

    # ---------------------------------------------------------------------------------
    # Settings

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        for key, splitter in (("splitter", self.splitter), ("views", self.views)):
            value = self.settings.value(key)
            if value is not None:
                splitter.restoreState(value)
        try:
            fields = json.loads(self.settings.value("config", "{}"))
            curves = json.loads(self.settings.value("curves", "{}"))
        except (TypeError, ValueError):
            fields, curves = {}, {}
        if isinstance(fields, dict):
            self.setup.set_config_fields(fields)
        if isinstance(curves, dict) and curves:
            self.curves.restore_state(curves)
        for item in self._recent():
            if item["kind"] == "dataset" and Path(item["path"]).exists():
                self.setup.dataset.add_dataset_path(item["path"], select=False)
        spec = str(self.settings.value("dataset", DEFAULT_DATASET))
        self.setup.dataset.dataset_combo.blockSignals(True)
        self.setup.dataset.select_dataset(spec)
        self.setup.dataset.dataset_combo.blockSignals(False)
        self._rebuild_recent_menu()

    def _save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("views", self.views.saveState())
        try:
            fields = self.setup.config_fields()
        except ValueError:
            fields = None
        if fields is not None:
            fields.pop("dataset", None)
            self.settings.setValue("device", fields.pop("device", "auto"))
            self.settings.setValue("config", json.dumps(fields))
        self.settings.setValue("curves", json.dumps(self.curves.state()))
        self.settings.sync()
