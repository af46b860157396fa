"""File > Recent files: models, runs, followed folders and datasets the user opened, kept in
the preferences (newest first) and offered in a menu."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget

MAX_RECENT = 10
LABELS = {"model": "Model", "run": "Run", "dataset": "Dataset", "follow": "Follow"}


class RecentFiles:
    """``settings``: where the list is kept; ``open_item(kind, path)``: what choosing an
    entry of ``menu`` does (kind: model, run, follow or dataset)."""

    def __init__(
        self,
        settings: QSettings,
        open_item: Callable[[str, str], None],
        parent: QWidget | None = None,
    ) -> None:
        self.settings = settings
        self.open_item = open_item
        self.menu = QMenu("Recent files", parent)

    def items(self) -> list[dict]:
        """{"kind": ..., "path": ...} entries, newest first (a damaged list: none)."""
        try:
            items = json.loads(str(self.settings.value("recent", "[]")))
        except (TypeError, ValueError):
            return []
        return [i for i in items if isinstance(i, dict) and "path" in i and "kind" in i]

    def paths(self, kind: str) -> list[str]:
        """The remembered paths of one kind that still exist, newest first."""
        return [i["path"] for i in self.items() if i["kind"] == kind and Path(i["path"]).exists()]

    def add(self, kind: str, path: str) -> None:
        items = [i for i in self.items() if i["path"] != str(path)]
        items.insert(0, {"kind": kind, "path": str(path)})
        self.settings.setValue("recent", json.dumps(items[:MAX_RECENT]))
        self.rebuild_menu()

    def rebuild_menu(self) -> None:
        self.menu.clear()
        items = [i for i in self.items() if i["kind"] in LABELS]
        for item in items:
            a = self.menu.addAction(f"{LABELS[item['kind']]}: {item['path']}")
            a.triggered.connect(lambda _c=False, i=item: self.open_item(i["kind"], i["path"]))
        self.menu.setEnabled(bool(items))
