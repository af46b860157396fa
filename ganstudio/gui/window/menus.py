"""The main window's actions (with shortcuts), menus and toolbar, the help box (how to get
started, every keyboard shortcut) and the About box."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QToolBar, QWidget

from ganstudio import __version__
from ganstudio.gui.logs import log_file


@dataclass(frozen=True)
class ActionSlots:
    """What each action does (the features' methods, handed over by the window)."""

    start: Callable[[], object]
    pause: Callable[[], object]
    step: Callable[[], object]
    slow_motion: Callable[[bool], object]
    stop: Callable[[], object]
    open_model: Callable[[], object]
    save_model: Callable[[], object]
    resume: Callable[[], object]
    follow: Callable[[], object]
    stop_follow: Callable[[], object]
    export: Callable[[], object]
    export_dataset: Callable[[], object]
    open_export: Callable[[], object]
    open_dataset_folder: Callable[[], object]
    open_dataset_file: Callable[[], object]
    show_setup: Callable[[bool], object]


class WindowActions:
    """Builds the actions of ``window`` and puts them in its menus and training toolbar;
    ``slots`` says what they do, ``recent_menu`` goes into the File menu. Quit closes the
    window; About opens the About box."""

    def __init__(self, window: QMainWindow, slots: ActionSlots, recent_menu: QMenu) -> None:
        self.window = window
        self.start = self._action("Start", slots.start, ("F5", "Ctrl+Return"), "Start training")
        self.pause = self._action(
            "Pause", slots.pause, ("F6", "Ctrl+P"), "Pause or resume training"
        )
        self.step = self._action(
            "Step", slots.step, ("F10",), "Train one iteration (D steps, then one G step)"
        )
        self.slow_motion = self._toggle(
            "Slow motion",
            slots.slow_motion,
            tip="While paused, Step shows the discriminator's update, then the generator's",
        )
        self.stop = self._action(
            "Stop", slots.stop, ("Shift+F5", "Ctrl+."), "Stop training (saves it)"
        )
        self.open_model = self._action(
            "Open model...", slots.open_model, (QKeySequence.StandardKey.Open,)
        )
        self.save_model = self._action(
            "Save model...", slots.save_model, (QKeySequence.StandardKey.Save,)
        )
        self.resume = self._action("Resume run...", slots.resume, ("Ctrl+R",))
        self.follow = self._action(
            "Follow run folder...",
            slots.follow,
            ("Ctrl+Shift+F",),
            "Watch a run that trains elsewhere (a cluster job, a synced folder); read only",
        )
        self.stop_follow = self._action("Stop following", slots.stop_follow)
        self.stop_follow.setEnabled(False)
        self.export = self._action("Export grid...", slots.export, ("Ctrl+E",))
        self.export_dataset = self._action(
            "Export dataset...",
            slots.export_dataset,
            tip="Draw a labelled dataset of PNG pictures from the opened model",
        )
        self.open_export = self._action(
            "Open export...",
            slots.open_export,
            ("Ctrl+Shift+O",),
            "Restore the explorer view a grid or animation was made from",
        )
        self.open_folder = self._action("Open dataset folder...", slots.open_dataset_folder)
        self.open_file = self._action("Open dataset file...", slots.open_dataset_file)
        self.quit = self._action("Quit", window.close, (QKeySequence.StandardKey.Quit,))
        self.help = self._action(
            "Getting started and shortcuts", lambda: show_help(window), ("F1",)
        )
        self.about = self._action("About GAN Studio", lambda: show_about(window))
        self.training = (self.start, self.pause, self.step, self.slow_motion, self.stop)
        self._build_toolbar()
        self._build_menus(recent_menu, slots.show_setup)

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcuts: tuple[str | QKeySequence.StandardKey, ...] = (),
        tip: str = "",
    ) -> QAction:
        a = QAction(text, self.window)
        if shortcuts:
            a.setShortcuts([QKeySequence(k) for k in shortcuts])
        if tip:
            a.setToolTip(tip + (f" ({shortcuts[0]})" if shortcuts else ""))
            a.setStatusTip(tip)
        a.triggered.connect(lambda: slot())
        return a

    def _toggle(
        self,
        text: str,
        slot: Callable[[bool], object],
        shortcuts: tuple[str, ...] = (),
        tip: str = "",
    ) -> QAction:
        """A checkable action: ``slot(checked)`` when the user switches it."""
        a = QAction(text, self.window)
        a.setCheckable(True)
        if shortcuts:
            a.setShortcuts([QKeySequence(k) for k in shortcuts])
        if tip:
            a.setToolTip(tip + (f" ({shortcuts[0]})" if shortcuts else ""))
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Training")
        toolbar.setObjectName("training_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in self.training:
            toolbar.addAction(a)
        self.window.addToolBar(toolbar)

    def _build_menus(self, recent_menu: QMenu, show_setup: Callable[[bool], object]) -> None:
        bar = self.window.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.open_folder, self.open_file):
            file_menu.addAction(a)
        file_menu.addSeparator()
        for a in (
            self.open_model,
            self.save_model,
            self.resume,
            self.follow,
            self.stop_follow,
            self.export,
            self.export_dataset,
            self.open_export,
        ):
            file_menu.addAction(a)
        file_menu.addMenu(recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        train_menu = bar.addMenu("&Training")
        for a in self.training:
            train_menu.addAction(a)
        view_menu = bar.addMenu("&View")
        self.show_setup = self._toggle("Set-up panel", show_setup, ("Ctrl+1",))
        self.show_setup.setChecked(True)
        view_menu.addAction(self.show_setup)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.help)
        help_menu.addAction(self.about)


GETTING_STARTED = (
    "<ol>"
    "<li><b>Choose the data</b> in the set-up panel of the Train tab: a built-in dataset, or "
    "<i>Open folder...</i> for a folder of your pictures (or drop a folder, archive or "
    "dataset file on the window).</li>"
    "<li><b>Start</b> training. The curves show the losses, the samples beside them what "
    "the generator draws now; Pause, Step (with Slow motion: the discriminator's update, "
    "then the generator's) and Stop, which saves the model in the run's folder.</li>"
    "<li><b>Explore</b> a model (the one training, or <i>File &gt; Open model...</i>): "
    "drag the latent sliders, interpolate between samples, export grids and "
    "animations.</li>"
    "<li><b>Diagnose</b> a run: what the discriminator says of real and generated data, "
    "which modes the generator covers, and warnings of instability and mode "
    "collapse.</li>"
    "</ol>"
    "<p>The same engine runs from the command line: <code>ganstudio --help</code>.</p>"
)


def shortcuts(window: QWidget) -> list[tuple[str, str]]:
    """(action, its shortcuts as this platform writes them) for every action of ``window``
    and its widgets that has a shortcut, in the order they were made, each name once."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        name = name.removesuffix("...").strip()
        if not keys or not name or name in seen:
            continue
        seen.add(name)
        rows.append((name, ", ".join(k for k in keys if k)))
    return rows


def show_help(parent: QWidget) -> None:
    """How to get started, and a table of every keyboard shortcut (read from the actions
    themselves, so it cannot disagree with them). Window-modal, deleted when closed."""
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>&nbsp;&nbsp;<b>{escape(keys)}</b></td></tr>"
        for name, keys in shortcuts(parent)
    )
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("help_box")
    box.setWindowTitle("Getting started with GAN Studio")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        "<h3>Getting started</h3>"
        + GETTING_STARTED
        + f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"
    )
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()


def show_about(parent: QWidget) -> None:
    """The icon, name and version, the versions of what we run on, the log file, the
    licence. Opens without blocking (window-modal) and deletes itself when closed."""
    import platform
    import sys
    from html import escape

    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QIcon

    from ganstudio.resources import resource_path

    torch = sys.modules.get("torch")  # only if the engine has loaded: no import here
    torch_line = f"PyTorch {escape(torch.__version__)}" if torch else "PyTorch (not loaded yet)"
    bundled = " (installed bundle)" if getattr(sys, "frozen", False) else ""
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("about_box")
    box.setWindowTitle("About GAN Studio")
    box.setIconPixmap(QIcon(str(resource_path("icons", "ganstudio.png"))).pixmap(96, 96))
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        f"<h3>GAN Studio {escape(__version__)}</h3>"
        "<p>Train, watch and explore generative adversarial networks on your own "
        "pictures.</p>"
        f"<p>{torch_line}<br>Qt {escape(qVersion())}, PySide6 {escape(pyside_version)}"
        f"<br>Python {escape(platform.python_version())}{bundled}</p>"
        f"<p>Log file:<br><code>{escape(str(log_file()))}</code></p>"
        "<p>Free software under the MIT licence.</p>"
    )
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
