"""Where the window benchmarks draw, and what their numbers are worth there.

They run on the Qt platform the user has: the X server or Wayland compositor named by
DISPLAY / WAYLAND_DISPLAY (or the native one on macOS and Windows), or whatever
QT_QPA_PLATFORM asks for. Only where there is no display at all do they fall back to the
offscreen platform, which paints nothing: a number measured there says little about a
window on screen, so every such number is marked.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

# What every window number measured without painting carries.
NOT_REPRESENTATIVE = "not representative (offscreen: Qt paints nothing)"
# Qt platforms that draw into no screen.
PAINTLESS_PLATFORMS = frozenset({"offscreen", "minimal"})


def has_display(env: dict[str, str] | None = None) -> bool:
    """Whether this session has a screen Qt can draw on."""
    env = dict(os.environ) if env is None else env
    if sys.platform in ("darwin", "win32"):
        return True  # a native platform, always there
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def choose_platform() -> None:
    """Leave the choice of platform to Qt (the user's display, or QT_QPA_PLATFORM if set);
    only without any display, pick the offscreen platform. Call before the QApplication
    exists; child processes (a launched ``ganstudio``) inherit the choice."""
    if "QT_QPA_PLATFORM" not in os.environ and not has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def application() -> QApplication:
    """The QApplication, made on the chosen platform if none exists yet."""
    choose_platform()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    return app if isinstance(app, QApplication) else QApplication([])


def platform_name() -> str:
    """The Qt platform in use (``xcb``, ``wayland``, ``cocoa``, ``offscreen`` ...)."""
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName()


def paints(platform: str | None = None) -> bool:
    """Whether window numbers measured on ``platform`` (default: the one in use) count."""
    return (platform_name() if platform is None else platform) not in PAINTLESS_PLATFORMS


def mark(line: str, representative: bool) -> str:
    """``line`` as printed: with the offscreen marking when it was not measured on screen."""
    return line if representative else f"{line}  [{NOT_REPRESENTATIVE}]"


def platform_line(platform: str | None = None) -> str:
    """One line saying where the window numbers below were measured."""
    platform = platform_name() if platform is None else platform
    if paints(platform):
        where = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY")
        return f"Qt platform: {platform}" + (f" (display {where})" if where else "")
    reason = "no display" if not has_display() else "QT_QPA_PLATFORM asks for it"
    return (
        f"Qt platform: {platform} ({reason}): Qt paints nothing here, so every window number "
        f"below is {NOT_REPRESENTATIVE}; measure on a real display (an X server such as Xvfb "
        "with a window manager, or Wayland)"
    )
