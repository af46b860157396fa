"""Files a user cares about are never left half-written, and only regular files are read or
written as files.

Writing: ``atomic_write`` streams into a temporary file in the same folder, flushes, fsyncs
and renames it over the target, so the target is either the old file or the complete new
one. The target must be a regular file or not exist yet: a folder, a device (``/dev/full``),
a named pipe (FIFO) or a socket is refused with ``NotAFileError`` (renaming over it would
silently replace it with a regular file), and so is a path whose folder is a file
(``NotAFolderError``). A symbolic link is followed: the regular file it points to is
replaced (in that file's own folder) and the link stays a link; a link to something that is
not a regular file, or to nothing, is refused.

Reading: ``open_regular`` / ``read_regular`` open only regular files (opening a FIFO waits
for a writer forever; a device can be endless), and ``read_regular`` reads at most a given
size (``FileTooLargeError`` beyond it), so that no input makes a reader hang or allocate
more than the file could sensibly hold.

``create_exclusive`` creates a small file that did not exist, complete or not at all (a
lock file).

These errors are ``UserError`` (one sentence naming the path) and ``OSError`` (code that
handles a file it cannot read or write keeps doing so).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ganstudio.core.errors import UserError


class NotAFileError(UserError, OSError):
    """A path to read or write is a folder, a device, a FIFO, a socket or a broken link."""


class NotAFolderError(UserError, OSError):
    """The folder a file would go in is a file (or another thing that is not a folder)."""


class FileTooLargeError(UserError, OSError):
    """A file is larger than what it should hold could ever be."""


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, for a message: "a folder", "a named pipe (FIFO)"."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


# ------------------------------------------------------------------------------------
# Writing


def writable_target(path: str | Path) -> Path:
    """The file an atomic write of ``path`` replaces: ``path`` itself, or the regular file a
    symbolic link at ``path`` points to. Refuses (NotAFileError, NotAFolderError) anything
    else; nothing is created."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        check_folder_for(path)
        return path
    except NotADirectoryError:
        check_folder_for(path)
        raise
    if stat.S_ISLNK(st.st_mode):
        target = Path(os.path.realpath(path))
        try:
            st = os.stat(target)
        except FileNotFoundError:
            raise NotAFileError(
                f"{path} is a link to {target}, which does not exist: give the file itself, "
                "or another name"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise NotAFileError(
                f"{path} is a link to {target}, which is {kind_of(st.st_mode)}: files are "
                "written only over regular files; choose another name"
            )
        return target
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(
            f"{path} is {kind_of(st.st_mode)}, not a regular file: files are written only over "
            "regular files; choose another name"
        )
    return path


def check_folder_for(path: str | Path) -> None:
    """Refuse (NotAFolderError) a path whose folder, or a folder above it, exists and is not
    a folder; a folder that does not exist yet is fine (it is created when written)."""
    folder = Path(path).parent
    while True:
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            if folder.parent == folder:
                return
            folder = folder.parent
            continue
        except NotADirectoryError:  # something above is a file: keep going up to it
            folder = folder.parent
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise NotAFolderError(
                f"{path} cannot be written: {folder} is {kind_of(st.st_mode)}, not a folder"
            )
        return


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file so that it is either the old one or the complete new one, never half.

    ``write(fh)`` streams the content into a temporary file in the same folder, which is
    flushed, fsynced and then renamed over the target (see ``writable_target``: only a
    regular file, or the regular file a link points to, is ever replaced).
    """
    path = writable_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _chmod_like(tmp, path)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _chmod_like(tmp: str, path: Path) -> None:
    """mkstemp makes owner-only files: give the new file the old one's mode, or the mode a
    plain open() would have given it (0666 less the umask)."""
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable across a power cut (POSIX; Windows has no folder handles)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """atomic_write for content already in memory."""
    atomic_write(path, lambda fh: fh.write(data))


def open_appending(path: str | Path, truncate: bool = False) -> BinaryIO:
    """A regular file opened for appending (created if missing; emptied first with
    ``truncate``), for a log written line by line. Refuses what ``writable_target`` refuses,
    without waiting on a FIFO."""
    path = writable_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
    # A FIFO that appeared meanwhile: opening it without a reader fails instead of waiting.
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o666)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAFileError(f"{path} is {kind_of(st.st_mode)}, not a regular file")
        _blocking(fd)
        if truncate:
            os.ftruncate(fd, 0)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def _blocking(fd: int) -> None:
    """Clear O_NONBLOCK (it means nothing for a regular file, but say what we mean)."""
    if hasattr(os, "set_blocking"):
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)


def create_exclusive(path: str | Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, only if nothing is there (FileExistsError otherwise).

    Whoever sees the file sees it complete: the content is written to a temporary file that
    is then hard-linked to ``path`` (link fails if ``path`` exists). Where the file system
    has no hard links (FAT, some network shares), ``path`` is created with O_EXCL and written
    at once (a reader might then see it empty for a moment).
    """
    path = Path(path)
    check_folder_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here
            _create_excl(path, data)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _create_excl(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


# ------------------------------------------------------------------------------------
# Reading


def open_regular(path: str | Path) -> BinaryIO:
    """A regular file opened for reading; NotAFileError for a folder, device, FIFO or socket
    (without opening it: a FIFO would wait for a writer forever)."""
    path = Path(path)
    st = os.stat(path)  # FileNotFoundError, PermissionError: the caller's to say
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(f"{path} is {kind_of(st.st_mode)}, not a regular file")
    # Replaced by a FIFO since: a non-blocking open returns at once, and fstat tells.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAFileError(f"{path} is {kind_of(st.st_mode)}, not a regular file")
        _blocking(fd)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """All of a regular file of at most ``max_bytes`` bytes (FileTooLargeError if it is
    larger; NotAFileError if it is no regular file)."""
    with open_regular(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLargeError(f"{path} is larger than {max_bytes:,} bytes")
    return data
