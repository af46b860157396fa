"""`ganstudio` with no command: the window. Only Qt is imported before it is on screen."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from types import TracebackType

from ganstudio import __version__
from ganstudio.gui.logs import APP_NAME, log_file, setup_logging

log = logging.getLogger(__name__)


def install_excepthook() -> None:
    """An exception escaping a slot on the GUI thread: log it and say so in a message box,
    and keep the program running. Other threads only log (a box must not open there)."""
    import threading

    from PySide6.QtWidgets import QMessageBox

    showing = False

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        nonlocal showing
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("uncaught exception", exc_info=(exc_type, exc, tb))
        if showing or threading.current_thread() is not threading.main_thread():
            return
        showing = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, "Something went wrong.")
            box.setInformativeText(
                f"{exc_type.__name__}: {exc}\n\nGAN Studio keeps running, but the last action "
                f"may not have finished. The details are in the log:\n{log_file()}"
            )
            box.exec()
        finally:
            showing = False

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        log.error("uncaught exception in thread %s", name, exc_info=args.exc_value)

    sys.excepthook = hook
    threading.excepthook = thread_hook


def main(argv: list[str] | None = None, open_paths: Sequence[str] = ()) -> int:
    """Show the window (``argv``: Qt's own arguments); ``open_paths``: what `ganstudio
    FILE_OR_FOLDER` asked to open (the first is opened; the window says it opens one at a
    time when there are more)."""
    t0 = float(os.environ.get("GANSTUDIO_T0", time.perf_counter()))
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from ganstudio.resources import resource_path

    log_path = setup_logging()
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName("ganstudio")  # Wayland: matches ganstudio.desktop
    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication(sys.argv[:1] + list(argv or []))
    )
    app.setApplicationDisplayName(APP_NAME)
    icon = QIcon()
    for name in ("ganstudio.png", "ganstudio-1024.png"):
        path = resource_path("icons", name)
        if path.is_file():
            icon.addFile(str(path))
    app.setWindowIcon(icon)
    install_excepthook()
    log.info(
        "GAN Studio %s starting (Python %s, %s%s), log: %s",
        __version__,
        sys.version.split()[0],
        sys.platform,
        ", bundled" if getattr(sys, "frozen", False) else "",
        log_path,
    )

    from ganstudio.gui.compat import pyside_refcount_bug

    problem = pyside_refcount_bug()
    if problem:
        log.error("%s", problem)
        if sys.stderr is None:  # windowed build: nobody would read stderr
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, APP_NAME, problem)
        else:
            print(f"error: {problem}", file=sys.stderr)
        return 2

    from ganstudio.gui.window.main_window import MainWindow

    window = MainWindow()
    window.show()
    if open_paths:
        first, *rest = open_paths
        QTimer.singleShot(0, lambda: window.open_path(first, rest))
    probe = os.environ.get("GANSTUDIO_STARTUP_PROBE")
    if probe:  # `ganstudio bench --gui`: report when the window is on screen, then quit

        def report() -> None:
            print(f"window visible after {time.perf_counter() - t0:.3f} s", flush=True)
            if probe == "quit":
                window.close()

        QTimer.singleShot(0, report)
    log.info("window shown")
    return app.exec()
