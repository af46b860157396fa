"""Checks of the Qt binding before the window starts."""

from __future__ import annotations

import sys


def pyside_refcount_bug() -> str | None:
    """A sentence when this PySide6 loses references to None on each call (6.12.0 on Python
    before 3.12 does, and then aborts with "none_dealloc"); None when it is sound."""
    if sys.version_info >= (3, 12):  # None is immortal there: the bug cannot bite
        return None
    import PySide6
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(50):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    if lost < 25:
        return None
    return (
        f"PySide6 {PySide6.__version__} has a known bug on Python "
        f"{sys.version_info.major}.{sys.version_info.minor} that crashes the window after a "
        'few thousand updates. Install another release: pip install "PySide6-Essentials==6.11.3" '
        "(or use Python 3.12 or newer)."
    )
