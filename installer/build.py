"""Build GAN Studio's desktop bundle with PyInstaller, in a virtual environment of its own.

    python installer/build.py                  # Linux: dist/ganstudio/ and the .tar.gz
    python installer/build.py --clean          # start the PyInstaller analysis afresh
    python installer/build.py --torch-index https://download.pytorch.org/whl/cpu

Steps: (1) create installer/.venv (or --venv) and install PyInstaller and GAN Studio
(`pip install -e` of this checkout, with its dependencies) into it, once; (2) run
PyInstaller on installer/ganstudio.spec into installer/dist/; (3) package the result for the
platform: Linux the tarball (linux/make_tarball.sh), Windows the Inno Setup installer when
`iscc` is on the PATH, macOS a .dmg of "GAN Studio.app" (hdiutil). Uses only the standard
library, so any Python 3.10+ can run it; the bundle gets the Python the venv was made with.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = HERE / "dist"
WORK = HERE / "build"
BUNDLE = DIST / "ganstudio"  # the one-folder bundle (macOS: inside "GAN Studio.app" too)


def version() -> str:
    text = (ROOT / "ganstudio" / "__init__.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_venv(venv: Path, torch_index: str | None, python: str) -> Path:
    """Create the build environment and install into it; skipped when nothing changed."""
    py = venv_python(venv)
    if not py.exists():
        run([python, "-m", "venv", venv])
    stamp = venv / ".ganstudio-build-stamp"
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + repr(torch_index).encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return py
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    if torch_index:  # a chosen PyTorch build (CPU-only or a CUDA version) before the rest
        run([*pip, "--index-url", torch_index, "torch>=2.4,<2.14"])
    run([*pip, "pyinstaller>=6.10", "-e", ROOT])
    stamp.write_text(wanted)
    return py


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def package_linux(ver: str) -> Path:
    run(["bash", HERE / "linux" / "make_tarball.sh", BUNDLE, ver, DIST])
    return DIST / f"GAN-Studio-{ver}-linux-x86_64.tar.gz"


def package_windows(ver: str) -> Path | None:
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    if not iscc:
        print("note: Inno Setup's iscc is not on the PATH; the installer is not built.")
        print(f'      Run: iscc /DAppVersion={ver} "{HERE / "windows" / "ganstudio.iss"}"')
        return None
    run([iscc, f"/DAppVersion={ver}", HERE / "windows" / "ganstudio.iss"])
    return DIST / f"GAN-Studio-{ver}-windows-x86_64-setup.exe"


def package_macos(ver: str) -> Path | None:
    app = DIST / "GAN Studio.app"
    dmg = DIST / f"GAN-Studio-{ver}-macos-{os.uname().machine}.dmg"
    if not shutil.which("hdiutil"):
        return None
    dmg.unlink(missing_ok=True)
    run(["hdiutil", "create", "-volname", "GAN Studio", "-srcfolder", app, "-ov", dmg])
    return dmg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the GAN Studio desktop bundle.")
    p.add_argument("--venv", type=Path, default=HERE / ".venv", help="the build environment")
    p.add_argument("--python", default=sys.executable, help="Python that creates the venv")
    p.add_argument(
        "--torch-index",
        help="install torch from this index first, e.g. https://download.pytorch.org/whl/cpu "
        "(CPU only) or .../whl/cu126 (CUDA); default: what pip picks",
    )
    p.add_argument("--clean", action="store_true", help="PyInstaller --clean (no cache)")
    p.add_argument("--console", action="store_true", help="Windows: keep a console window")
    p.add_argument("--no-package", action="store_true", help="only the one-folder bundle")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    ver = version()
    py = ensure_venv(args.venv.resolve(), args.torch_index, args.python)
    t1 = time.perf_counter()
    torch = subprocess.run(
        [py, "-c", "import torch; print(torch.__version__, torch.version.cuda or '')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    kind = f"CUDA {torch[1]}" if len(torch) > 1 else "no CUDA"

    env = dict(os.environ)
    if args.console:
        env["GANSTUDIO_CONSOLE"] = "1"
    cmd = [py, "-m", "PyInstaller", HERE / "ganstudio.spec", "--noconfirm"]
    cmd += ["--distpath", DIST, "--workpath", WORK]
    if args.clean:
        cmd.append("--clean")
    run(cmd, env=env)
    t2 = time.perf_counter()

    package = None
    if not args.no_package:
        if sys.platform.startswith("linux"):
            package = package_linux(ver)
        elif sys.platform == "win32":
            package = package_windows(ver)
        elif sys.platform == "darwin":
            package = package_macos(ver)
    t3 = time.perf_counter()

    print(f"\nGAN Studio {ver} with PyTorch {torch[0]} ({kind})")
    print(f"  environment   {t1 - t0:7.1f} s   {args.venv}")
    print(f"  PyInstaller   {t2 - t1:7.1f} s   {BUNDLE}  ({mib(folder_size(BUNDLE))})")
    if package and package.exists():
        print(f"  package       {t3 - t2:7.1f} s   {package}  ({mib(package.stat().st_size)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
