"""`ganstudio` with no command: the window. Only Qt is imported before it is on screen."""

from __future__ import annotations

import logging
import os
import sys
import time

from ganstudio import __version__


def main(argv: list[str] | None = None) -> int:
    t0 = float(os.environ.get("GANSTUDIO_T0", time.perf_counter()))
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("GAN Studio")
    QCoreApplication.setApplicationName("GAN Studio")
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv[:1] + list(argv or []))

    from ganstudio.gui.compat import pyside_refcount_bug

    problem = pyside_refcount_bug()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from ganstudio.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    probe = os.environ.get("GANSTUDIO_STARTUP_PROBE")
    if probe:  # `ganstudio bench --gui`: report when the window is on screen, then quit

        def report() -> None:
            print(f"window visible after {time.perf_counter() - t0:.3f} s", flush=True)
            if probe == "quit":
                window.close()

        QTimer.singleShot(0, report)
    logging.getLogger(__name__).info("window shown")
    return app.exec()
