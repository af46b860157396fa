"""The desktop installer.

Fast: the resources are found, the desktop entry is valid, the wheel lists every package, the
About box says what it should. Slow (marked, and skipped unless GANSTUDIO_BUILD_BUNDLE=1 or a
bundle already exists in installer/dist/): the Linux one-folder bundle built with
installer/build.py, then run: --version, a short headless training, a sample, a spawn worker
pool, the window starting offscreen and quitting, and install.sh from the tarball.

    GANSTUDIO_BUILD_BUNDLE=1 python -m pytest -q -m slow tests/test_installer.py

GANSTUDIO_TORCH_INDEX=https://download.pytorch.org/whl/cpu builds with the CPU-only PyTorch
where pip would otherwise pick the CUDA build (PyPI on Linux).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ganstudio import __version__
from ganstudio.resources import resource_dir, resource_path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "installer" / "dist"
EXECUTABLE = DIST / "ganstudio" / "ganstudio"
TARBALL = DIST / f"GAN-Studio-{__version__}-linux-x86_64.tar.gz"


# --- fast ----------------------------------------------------------------------------------


def test_resource_path_finds_the_icons():
    from PIL import Image

    with Image.open(resource_path("icons", "ganstudio.png")) as im:
        assert im.size == (256, 256) and im.mode == "RGBA"
    with Image.open(resource_path("icons", "ganstudio-1024.png")) as im:
        assert im.size == (1024, 1024)
    for name in ("ganstudio.ico", "ganstudio.icns"):
        assert resource_path("icons", name).stat().st_size > 1000
    assert (resource_dir() / "ganstudio.desktop").is_file()


def _desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(resource_path("ganstudio.desktop"), encoding="utf-8")
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_desktop_entry_is_valid():
    entry = _desktop_entry()
    for key in ("Type", "Name", "Exec", "Icon", "Categories"):
        assert entry.get(key), f"{key} is missing"
    assert entry["Type"] == "Application"
    assert entry["Name"] == "GAN Studio"
    assert entry["Exec"].split()[0] == "ganstudio"  # install.sh makes it an absolute path
    # A file manager passes the files to open (`ganstudio FILE_OR_FOLDER`); exports and
    # archives of pictures are among the types offered to it.
    assert entry["Exec"].split()[1:] == ["%F"] and entry["TryExec"] == "ganstudio"
    assert {"image/png", "application/zip"} <= set(entry["MimeType"].rstrip(";").split(";"))
    assert entry["Terminal"] == "false"
    # The icon is a theme name with a file of that name (install.sh puts it into hicolor).
    assert "/" not in entry["Icon"] and "." not in entry["Icon"]
    assert resource_path("icons", entry["Icon"] + ".png").is_file()
    categories = entry["Categories"]
    assert categories.endswith(";")
    # At least one main category of the freedesktop menu specification.
    main = {"AudioVideo", "Development", "Education", "Game", "Graphics", "Network", "Office"}
    main |= {"Science", "Settings", "System", "Utility"}
    assert main & set(categories.split(";"))
    validator = shutil.which("desktop-file-validate")
    if validator:
        r = subprocess.run(
            [validator, str(resource_path("ganstudio.desktop"))], text=True, capture_output=True
        )
        assert r.returncode == 0 and "error" not in r.stdout, r.stdout + r.stderr


def test_every_package_is_listed_for_the_wheel():
    """pyproject lists the packages (to map resources/ into the wheel): none may be missing."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "ganstudio").rglob("__init__.py")
    }
    listed = set(config["packages"])
    assert on_disk <= listed, f"add to pyproject's packages: {sorted(on_disk - listed)}"
    assert config["package-dir"]["ganstudio._resources"] == "resources"
    assert "icons/*" in config["package-data"]["ganstudio._resources"]


def test_about_box_names_version_log_file_and_licence(qtbot, tmp_path, monkeypatch):
    import torch
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from ganstudio.gui.threads import running_threads
    from ganstudio.gui.window.main_window import MainWindow

    monkeypatch.setenv("GANSTUDIO_LOG_DIR", str(tmp_path / "logs"))
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    # Let the engine load (its thread must not outlive the test), then ask.
    qtbot.waitUntil(lambda: window.devices is not None and window.data is not None, timeout=60_000)
    window.about()
    box = window.findChild(QMessageBox, "about_box")
    text = box.text()
    assert f"GAN Studio {__version__}" in text
    assert str(tmp_path / "logs" / "ganstudio.log") in text
    assert "MIT" in text and "Qt " in text
    assert f"PyTorch {torch.__version__}" in text
    assert not box.iconPixmap().isNull()
    box.done(0)
    window.close()
    qtbot.waitUntil(lambda: not running_threads(), timeout=60_000)


# --- slow: the real bundle -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle() -> Path:
    if os.environ.get("GANSTUDIO_BUILD_BUNDLE") == "1":
        if not sys.platform.startswith("linux"):
            pytest.skip("the bundle smoke test runs on Linux")
        command = [sys.executable, str(ROOT / "installer" / "build.py")]
        index = os.environ.get("GANSTUDIO_TORCH_INDEX")  # e.g. PyTorch's CPU-only index
        if index:
            command += ["--torch-index", index]
        subprocess.run(command, check=True)
    elif not EXECUTABLE.exists():
        pytest.skip("no bundle: set GANSTUDIO_BUILD_BUNDLE=1 to build one (a few minutes)")
    return EXECUTABLE


def _run(exe: Path, *args: str, home: Path, timeout: float = 300, **env: str):
    """Run the bundle with a throw-away home (settings, logs and runs land there)."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "QT_", "XDG_", "GANSTUDIO_"))
    }
    environ.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        cwd=home,
    )


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_version(bundle, tmp_path):
    r = _run(bundle, "--version", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"GAN Studio {__version__}"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_trains_and_samples_headless(bundle, tmp_path):
    out = tmp_path / "run"
    r = _run(
        bundle,
        "train",
        "--dataset",
        "builtin:ring8?n=2000",
        "--steps",
        "50",
        "--width",
        "16",
        "--out",
        str(out),
        "-q",
        home=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    model = out / "generator.safetensors"
    assert model.is_file()
    r = _run(
        bundle, "sample", str(model), "--n", "100", "-o", str(tmp_path / "s.npy"), home=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    import numpy as np

    assert np.load(tmp_path / "s.npy").shape == (100, 2)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_spawn_workers_start(bundle, tmp_path):
    """`bench --quality` trains in a spawn pool: the workers are the bundle itself, started
    again with multiprocessing's arguments (freeze_support must catch them)."""
    r = _run(
        bundle,
        "bench",
        "--quality",
        "--seeds",
        "1",
        "--steps",
        "100",
        "--datasets",
        "ring8",
        home=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ring8    seed  0:" in r.stdout


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_window_starts_offscreen_and_quits(bundle, tmp_path):
    logs = tmp_path / "logs"
    r = _run(
        bundle,
        home=tmp_path,
        timeout=120,
        GANSTUDIO_STARTUP_PROBE="quit",
        GANSTUDIO_LOG_DIR=str(logs),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "window visible after" in r.stdout
    log = (logs / "ganstudio.log").read_text()
    assert f"GAN Studio {__version__} starting" in log and "bundled" in log
    assert "uncaught exception" not in log


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_tarball_installs_and_uninstalls_for_the_user(bundle, tmp_path):
    if not TARBALL.exists():
        pytest.skip(f"no {TARBALL.name}")
    with tarfile.open(TARBALL) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    folder = tmp_path / "unpacked" / TARBALL.name.removesuffix(".tar.gz")
    home = tmp_path / "home"
    home.mkdir()
    r = _run(folder / "install.sh", home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    local = home / ".local"
    entry = (local / "share" / "applications" / "ganstudio.desktop").read_text()
    program = local / "opt" / "gan-studio" / "ganstudio"
    assert f'Exec="{program}"' in entry
    assert (local / "share" / "icons" / "hicolor" / "256x256" / "apps" / "ganstudio.png").is_file()
    r = _run(local / "bin" / "ganstudio", "--version", home=home)
    assert r.stdout.strip() == f"GAN Studio {__version__}"
    r = _run(program.parent / "install.sh", "--uninstall", home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not program.exists() and not (local / "bin" / "ganstudio").exists()
