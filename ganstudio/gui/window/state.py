"""What the main window remembers between sessions (QSettings): layout, dataset, settings,
curve options, device; and where new runs go."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QMainWindow, QSplitter

from ganstudio.core.choices import DEFAULT_DATASET
from ganstudio.gui.train.setup_panel import SetupPanel
from ganstudio.gui.widgets.curves import CurvesPanel
from ganstudio.gui.window.recent import RecentFiles


def runs_dir(settings: QSettings) -> str:
    """The folder new runs go into: the preference, else Documents/GAN Studio/runs."""
    saved = settings.value("runs_dir", "")
    if saved:
        return str(saved)
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return str(Path(docs or Path.home()) / "GAN Studio" / "runs")


# The saved settings' version. 2: the loss list has an "auto" item; before, the combo had
# none and every saved config named its loss, "nonsaturating" when the user never chose one.
CONFIG_VERSION = 2


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 1


def _upgrade(fields: dict) -> dict:
    """Settings saved by an older version, as this one reads them: the old loss list's
    first entry (non-saturating) becomes "auto", which picks the measured best."""
    if fields.get("loss") == "nonsaturating":
        fields = {k: v for k, v in fields.items() if k != "loss"}
    return fields


class WindowState:
    """Saves and restores, in ``settings``: the geometry and toolbars of ``window``, the
    ``splitters`` (by key), the set-up panel's fields and dataset (with the datasets among
    the ``recent`` files) and the curves' options."""

    def __init__(
        self,
        settings: QSettings,
        window: QMainWindow,
        splitters: dict[str, QSplitter],
        setup: SetupPanel,
        curves: CurvesPanel,
        recent: RecentFiles,
    ) -> None:
        self.settings = settings
        self.window = window
        self.splitters = splitters
        self.setup = setup
        self.curves = curves
        self.recent = recent

    def restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        else:
            self.window.resize(1440, 900)
        state = self.settings.value("window_state")
        if state is not None:
            self.window.restoreState(state)
        for key, splitter in self.splitters.items():
            value = self.settings.value(key)
            if value is not None:
                splitter.restoreState(value)
        try:
            fields = json.loads(str(self.settings.value("config", "{}")))
            curves = json.loads(str(self.settings.value("curves", "{}")))
        except (TypeError, ValueError):
            fields, curves = {}, {}
        if isinstance(fields, dict):
            if _int(self.settings.value("config_version", 1)) < CONFIG_VERSION:
                fields = _upgrade(fields)
            self.setup.set_config_fields(fields)
        if isinstance(curves, dict) and curves:
            self.curves.restore_state(curves)
        for path in self.recent.paths("dataset"):
            self.setup.dataset.add_dataset_path(path, select=False)
        spec = str(self.settings.value("dataset", DEFAULT_DATASET))
        self.setup.dataset.select_dataset(spec, notify=False)
        self.recent.rebuild_menu()

    def save(self) -> None:
        self.settings.setValue("geometry", self.window.saveGeometry())
        self.settings.setValue("window_state", self.window.saveState())
        for key, splitter in self.splitters.items():
            self.settings.setValue(key, splitter.saveState())
        try:
            fields = self.setup.config_fields()
        except ValueError:
            fields = None
        if fields is not None:
            fields.pop("dataset", None)
            self.settings.setValue("device", fields.pop("device", "auto"))
            self.settings.setValue("config", json.dumps(fields))
            self.settings.setValue("config_version", CONFIG_VERSION)
        self.settings.setValue("curves", json.dumps(self.curves.state()))
        self.settings.sync()
