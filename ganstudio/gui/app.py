"""`ganstudio` with no command: the window. Only Qt is imported before it is on screen."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

from ganstudio import __version__

APP_NAME = "GAN Studio"
LOG_FILE_NAME = "ganstudio.log"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 3

log = logging.getLogger(__name__)


def log_dir() -> Path:
    """The user's log folder for GAN Studio (GANSTUDIO_LOG_DIR overrides it).

    Linux: $XDG_STATE_HOME/GAN Studio/log (~/.local/state/...), macOS: ~/Library/Logs/GAN
    Studio, Windows: %LOCALAPPDATA%\\GAN Studio\\Logs.
    """
    override = os.environ.get("GANSTUDIO_LOG_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP_NAME / "Logs"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / APP_NAME
    state = os.environ.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(state) / APP_NAME / "log"


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def setup_logging() -> Path | None:
    """Log to a rotating file (1 MB x 3) and, where there is a console, to stderr.

    A windowed build (Windows, macOS) has no console: its sys.stderr is None, and the file is
    the only record. Returns the log file, or None when it cannot be written.
    """
    root = logging.getLogger()
    console_level = root.level if root.handlers else logging.WARNING
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            if handler.stream is None:  # no console
                root.removeHandler(handler)
            elif handler.level == logging.NOTSET:
                handler.setLevel(console_level)  # the file gets more detail, not the terminal
    if sys.stderr is not None and not any(type(h) is logging.StreamHandler for h in root.handlers):
        console = logging.StreamHandler()
        console.setLevel(console_level)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(console)

    path = log_file()
    if any(getattr(h, "baseFilename", None) == str(path.absolute()) for h in root.handlers):
        return path  # already set up (main() ran before in this process)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("cannot write the log file %s: %s", path, exc)
        return None
    handler.setLevel(logging.INFO)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(min(logging.INFO, console_level))
    logging.captureWarnings(True)
    if sys.stderr is None:  # windowed build: a crash in native code leaves a trace in the file
        import faulthandler

        faulthandler.enable(open(path.parent / "crash.log", "a", encoding="utf-8"))  # noqa: SIM115
    return path


def install_excepthook() -> None:
    """An exception escaping a slot on the GUI thread: log it and say so in a message box,
    and keep the program running. Other threads only log (a box must not open there)."""
    import threading

    from PySide6.QtWidgets import QMessageBox

    showing = False

    def hook(exc_type, exc, tb) -> None:
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
        log.error("uncaught exception in thread %s", name, exc_info=args[:3])

    sys.excepthook = hook
    threading.excepthook = thread_hook


def main(argv: list[str] | None = None) -> int:
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
    app = QApplication.instance() or QApplication(sys.argv[:1] + list(argv or []))
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
    probe = os.environ.get("GANSTUDIO_STARTUP_PROBE")
    if probe:  # `ganstudio bench --gui`: report when the window is on screen, then quit

        def report() -> None:
            print(f"window visible after {time.perf_counter() - t0:.3f} s", flush=True)
            if probe == "quit":
                window.close()

        QTimer.singleShot(0, report)
    log.info("window shown")
    return app.exec()
