"""The main window's actions (with shortcuts), menus, toolbar, status bar and About box."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QToolBar

from ganstudio import __version__


class MenusAndBars:
    """Mixed into the main window; the slots named here are the window's."""

    # ---------------------------------------------------------------------------------
    # Actions, menus, status bar

    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcuts:
            a.setShortcuts([QKeySequence(k) for k in shortcuts])
        if tip:
            a.setToolTip(tip + (f" ({shortcuts[0]})" if shortcuts else ""))
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_actions(self) -> None:
        self.start_action = self._action(
            "Start", self.start_training, ("F5", "Ctrl+Return"), "Start training"
        )
        self.pause_action = self._action(
            "Pause", self.toggle_pause, ("F6", "Ctrl+P"), "Pause or resume training"
        )
        self.step_action = self._action(
            "Step", self.step_once, ("F10",), "Train one iteration (D steps, then one G step)"
        )
        self.slow_motion_action = self._action(
            "Slow motion",
            self.set_slow_motion,
            tip="While paused, Step shows the discriminator's update, then the generator's",
        )
        self.slow_motion_action.setCheckable(True)
        self._restore_slow_motion()
        self.stop_action = self._action(
            "Stop", self.stop_training, ("Shift+F5", "Ctrl+."), "Stop training (saves it)"
        )
        self.open_model_action = self._action(
            "Open model...", self.open_model, (QKeySequence.StandardKey.Open,)
        )
        self.save_model_action = self._action(
            "Save model...", self.save_model, (QKeySequence.StandardKey.Save,)
        )
        self.resume_action = self._action("Resume run...", self.resume_run, ("Ctrl+R",))
        self.follow_action = self._action(
            "Follow run folder...",
            lambda: self.follow_run(),
            ("Ctrl+Shift+F",),
            "Watch a run that trains elsewhere (a cluster job, a synced folder); read only",
        )
        self.stop_follow_action = self._action("Stop following", lambda: self.stop_following())
        self.stop_follow_action.setEnabled(False)
        self.export_action = self._action("Export grid...", self.export_grid, ("Ctrl+E",))
        self.open_export_action = self._action(
            "Open export...",
            lambda: self.explorer.open_export(),
            ("Ctrl+Shift+O",),
            "Restore the explorer view a grid or animation was made from",
        )
        self.open_folder_action = self._action("Open dataset folder...", self.open_dataset_folder)
        self.open_file_action = self._action("Open dataset file...", self.open_dataset_file)
        self.quit_action = self._action("Quit", self.close, (QKeySequence.StandardKey.Quit,))
        self.about_action = self._action("About GAN Studio", self.about)
        toolbar = QToolBar("Training")
        toolbar.setObjectName("training_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.training_actions = (
            self.start_action,
            self.pause_action,
            self.step_action,
            self.slow_motion_action,
            self.stop_action,
        )
        for a in self.training_actions:
            toolbar.addAction(a)
        self.addToolBar(toolbar)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.open_folder_action, self.open_file_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        for a in (
            self.open_model_action,
            self.save_model_action,
            self.resume_action,
            self.follow_action,
            self.stop_follow_action,
            self.export_action,
            self.open_export_action,
        ):
            file_menu.addAction(a)
        self.recent_menu = file_menu.addMenu("Recent files")
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = bar.addMenu("&Training")
        for a in self.training_actions:
            train_menu.addAction(a)
        view_menu = bar.addMenu("&View")
        toggle = self._action("Set-up panel", lambda on: self.setup.setVisible(on), ("Ctrl+1",))
        toggle.setCheckable(True)
        toggle.setChecked(True)
        view_menu.addAction(toggle)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.step_label = QLabel("")
        self.speed_label = QLabel("")
        self.eta_label = QLabel("")
        self.memory_label = QLabel("")
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(120)
        self.busy.setRange(0, 0)
        self.busy.hide()
        for w in (self.step_label, self.speed_label, self.eta_label, self.memory_label):
            w.setStyleSheet("padding: 0 10px; border-left: 1px solid palette(mid);")
        for w in (self.busy, self.step_label, self.speed_label, self.eta_label, self.memory_label):
            bar.addPermanentWidget(w)

    def about(self) -> None:
        """The icon, name and version, the versions of what we run on, the log file, the
        licence. Opens without blocking (window-modal) and deletes itself when closed."""
        import platform
        import sys
        from html import escape

        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion
        from PySide6.QtGui import QIcon

        from ganstudio.gui.app import log_file
        from ganstudio.resources import resource_path

        torch = sys.modules.get("torch")  # only if the engine has loaded: no import here
        torch_line = f"PyTorch {escape(torch.__version__)}" if torch else "PyTorch (not loaded yet)"
        bundled = " (installed bundle)" if getattr(sys, "frozen", False) else ""
        box = QMessageBox(self)
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
