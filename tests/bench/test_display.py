"""The window benchmarks draw where the user does, and say so when they cannot."""

import os
import sys

import pytest

from ganstudio.bench import display


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_display_is_used_not_forced_offscreen(linux):
    linux.setenv("DISPLAY", ":1")
    display.choose_platform()
    assert "QT_QPA_PLATFORM" not in os.environ  # Qt picks xcb for the X display


def test_wayland_counts_as_a_display(linux):
    linux.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display.has_display()
    display.choose_platform()
    assert "QT_QPA_PLATFORM" not in os.environ


def test_without_a_display_it_runs_offscreen(linux):
    assert not display.has_display()
    display.choose_platform()
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"


def test_the_users_platform_choice_is_kept(linux):
    linux.setenv("QT_QPA_PLATFORM", "xcb")
    display.choose_platform()
    assert os.environ["QT_QPA_PLATFORM"] == "xcb"


def test_macos_and_windows_always_have_a_display(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(sys, "platform", platform)
        assert display.has_display()


def test_only_numbers_measured_without_painting_are_marked():
    assert display.paints("xcb") and display.paints("wayland")
    assert not display.paints("offscreen") and not display.paints("minimal")
    assert display.mark("12 ms", True) == "12 ms"
    assert display.mark("12 ms", False) == f"12 ms  [{display.NOT_REPRESENTATIVE}]"
    assert display.NOT_REPRESENTATIVE == "not representative (offscreen: Qt paints nothing)"


def test_the_platform_line_says_where(linux):
    assert display.NOT_REPRESENTATIVE in display.platform_line("offscreen")
    assert "no display" in display.platform_line("offscreen")
    linux.setenv("DISPLAY", ":1")
    assert display.platform_line("xcb") == "Qt platform: xcb (display :1)"
