"""What a path given to the window is (`ganstudio FILE_OR_FOLDER`, a file dropped on the
window, the file manager's *Open with*), decided from its name and a few bytes, without
PyTorch: the window decides where it opens before the engine has loaded.

- ``model``: a model file or a training checkpoint (``.safetensors``);
- ``run``: a run folder (it holds ``config.json``, core.runs.layout);
- ``export``: a PNG with GAN Studio provenance, an animation with its ``.json`` sidecar,
  or the sidecar itself;
- ``dataset``: any other folder, a zip or tar archive, a NumPy ``.npy``/``.npz`` file,
  CIFAR ``.bin`` batches or an MNIST idx file (core.data reads them and says what is wrong).

Anything else, and a path that does not exist, is an OpenPathError that says what it is.
A built-in dataset's name (``builtin:digits``, BUILTIN_PREFIX) is not a path: the window
selects it from its list of datasets.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ganstudio.core.errors import UserError

MODEL_SUFFIXES = (".safetensors",)
PICTURE_EXPORTS = (".png",)
ANIMATION_EXPORTS = (".gif", ".webp", ".mp4")
SIDECAR_SUFFIX = ".json"  # core.explore.provenance.SIDECAR_SUFFIX
PROVENANCE_KEY = b"ganstudio.provenance"  # core.explore.provenance.PROVENANCE_KEY
RUN_CONFIG = "config.json"  # core.runs.layout.CONFIG
# The dataset files core.data reads (core.data.sources and core.data.arrays).
DATASET_SUFFIXES = (
    ".zip",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".npy",
    ".npz",
    ".bin",
)
KINDS = ("model", "run", "export", "dataset")
# A built-in dataset's spec (core.data.load): the window opens it by name, not as a path.
BUILTIN_PREFIX = "builtin:"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNKS = 10_000  # PNG chunks looked at before giving up (a real PNG has a few dozen)


class OpenPathError(UserError, ValueError):
    """A path cannot be opened in the window; the message names it and says why."""


@dataclass(frozen=True)
class Opening:
    """A path and what it is (one of KINDS)."""

    kind: str
    path: Path


def _is_idx(name: str) -> bool:
    return "idx" in name and "ubyte" in name


def has_provenance_chunk(path: Path) -> bool:
    """Whether a PNG holds a text chunk named ``ganstudio.provenance`` (its pixels are
    skipped, nothing is decompressed; the chunk's content is checked when it is opened)."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_PNG_SIGNATURE)) != _PNG_SIGNATURE:
                return False
            for _ in range(_MAX_CHUNKS):
                head = fh.read(8)
                if len(head) < 8:
                    return False
                length, kind = struct.unpack(">I4s", head)
                if kind == b"IEND":
                    return False
                if kind in (b"tEXt", b"zTXt", b"iTXt"):
                    name = fh.read(min(length, 80))
                    if name.startswith(PROVENANCE_KEY + b"\0"):
                        return True
                    fh.seek(length - len(name) + 4, os.SEEK_CUR)
                else:
                    fh.seek(length + 4, os.SEEK_CUR)
    except OSError:
        return False
    return False


def _animation_of(sidecar: Path) -> Path | None:
    """walk.gif.json -> walk.gif when the name is an animation's sidecar."""
    inner = sidecar.name[: -len(SIDECAR_SUFFIX)]
    if inner.lower().endswith(ANIMATION_EXPORTS + PICTURE_EXPORTS):
        return sidecar.with_name(inner)
    return None


def classify(path: str | Path) -> Opening:
    """What ``path`` is (see the module docstring); OpenPathError when it is none of them."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise OpenPathError(f"{p}: no such file or folder") from None
    except OSError as exc:
        raise OpenPathError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    p = p.absolute()
    if stat.S_ISDIR(st.st_mode):
        if (p / RUN_CONFIG).is_file():
            return Opening("run", p)
        return Opening("dataset", p)
    if not stat.S_ISREG(st.st_mode):
        raise OpenPathError(f"{p}: not a regular file or a folder")
    name = p.name.lower()
    if name.endswith(MODEL_SUFFIXES):
        return Opening("model", p)
    if name.endswith(PICTURE_EXPORTS):
        sidecar = p.with_name(p.name + SIDECAR_SUFFIX)
        if has_provenance_chunk(p) or sidecar.is_file():
            return Opening("export", p)
        raise OpenPathError(
            f"{p}: a picture without GAN Studio provenance (only pictures exported by GAN "
            "Studio reopen in the explorer); to train on pictures, open the folder that "
            "holds them"
        )
    if name.endswith(ANIMATION_EXPORTS):
        if p.with_name(p.name + SIDECAR_SUFFIX).is_file():
            return Opening("export", p)
        raise OpenPathError(
            f"{p}: an animation without its provenance file {p.name}{SIDECAR_SUFFIX} beside it "
            "(exported animations keep their provenance there)"
        )
    if name.endswith(SIDECAR_SUFFIX) and _animation_of(p) is not None:
        return Opening("export", p)
    if name.endswith(DATASET_SUFFIXES) or _is_idx(name):
        return Opening("dataset", p)
    raise OpenPathError(
        f"{p}: not something GAN Studio opens (a model or checkpoint .safetensors, a run "
        "folder, a GAN Studio export, or a dataset: a folder of pictures, a .zip or .tar "
        "archive, .npy/.npz, CIFAR .bin or MNIST idx)"
    )
