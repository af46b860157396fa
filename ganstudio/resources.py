"""Where the application's files (icons, the desktop entry) are at run time.

Three layouts, one answer:

- the PyInstaller bundle: ``sys._MEIPASS/ganstudio/_resources`` (the spec puts them there);
- an installed wheel: ``ganstudio/_resources`` next to this module (pyproject maps the
  repository's ``resources/`` folder to the package ``ganstudio._resources``);
- a source checkout or an editable install: the repository's top-level ``resources/``.

Qt-free and cheap to import: the window asks for its icon before anything heavy is loaded.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    found = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        found.append(Path(bundle) / "ganstudio" / "_resources")
    found.append(_PACKAGE / "_resources")
    found.append(_PACKAGE.parent / "resources")
    return found


@cache
def resource_dir() -> Path:
    """The folder holding ``icons/`` and the desktop entry."""
    for folder in _candidates():
        if (folder / "icons").is_dir():
            return folder
    tried = ", ".join(str(c) for c in _candidates())
    raise FileNotFoundError(f"GAN Studio's resources are missing (looked in {tried})")


def resource_path(*parts: str) -> Path:
    """The path of a resource, e.g. ``resource_path("icons", "ganstudio.png")``.

    The file may not exist (the caller decides whether that matters); the folder does.
    """
    return resource_dir().joinpath(*parts)
