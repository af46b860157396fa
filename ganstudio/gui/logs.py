"""Where GAN Studio logs: the user's log folder, a rotating file, stderr where there is one."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

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
