"""Bounds on what reading a user's files may cost, and the checks that apply them.

Every reader of the data package goes through here. `open_regular` opens only regular files:
a FIFO, device or socket is refused before it is opened, so a read can never block forever.
`read_bounded` reads at most a given number of bytes, in small pieces, whatever a header
claimed (a decompressor never produces more than one piece ahead). `check_memory` refuses,
before anything is allocated, a dataset that would take more than half of the machine's
memory, saying how much it would take.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import IO, BinaryIO

from ganstudio.core.data.dataset import DatasetError

# One picture inside an archive, decompressed. The largest picture Pillow decodes (its
# decompression-bomb limit, 89 megapixels) stored uncompressed as 8-bit RGB is 270 MB.
MAX_MEMBER_BYTES = 500_000_000
# All members of an archive, decompressed: pictures are already compressed, so an archive
# of them decompresses to about its own size; a zip or tar bomb to a thousand times it.
ARCHIVE_RATIO = 100  # times the archive's size on disk...
ARCHIVE_MIN_BUDGET = 1_000_000_000  # ...and at least this much, for small archives
MAX_ARCHIVE_MEMBERS = 1_000_000  # members listed in one archive (each costs memory to list)
MAX_CLASSES = 100_000  # a label above this is not a class index (ImageNet-21k has 21,841)
MEMORY_FRACTION = 0.5  # of the machine's memory, at most, for one dataset being read
FALLBACK_MEMORY = 16_000_000_000  # when the machine's memory cannot be found out
READ_PIECE = 1 << 20  # bytes asked of a (decompressing) reader at a time
NAMES_FILE_BYTES = 1 << 20  # a class-names text file is read up to this size


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, device, socket or folder); str() says which."""


class TooLarge(ValueError):
    """A read that would go past its bound."""


def file_kind(mode: int) -> str:
    """'a FIFO', 'a socket', ... for a stat mode that is not a regular file's."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def open_regular(path: str | Path) -> BinaryIO:
    """Open a regular file for reading in binary; NotRegularFile for anything else.

    The path is checked before it is opened (opening a FIFO blocks until a writer comes,
    opening a device can have effects), and the open file again (it may have been swapped).
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(f"{file_kind(mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{file_kind(mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(fh: IO[bytes], limit: int) -> bytes:
    """Everything left in ``fh``, or TooLarge as soon as it goes past ``limit`` bytes."""
    pieces: list[bytes] = []
    total = 0
    while True:
        piece = fh.read(min(READ_PIECE, limit - total + 1))
        if not piece:
            return b"".join(pieces)
        total += len(piece)
        if total > limit:
            raise TooLarge(f"more than {human_bytes(limit)}")
        pieces.append(piece)


def read_exactly(fh: IO[bytes], size: int, what: str) -> bytes:
    """``size`` bytes from ``fh`` (read in pieces); ValueError naming ``what`` when short."""
    pieces: list[bytes] = []
    total = 0
    while total < size:
        piece = fh.read(min(READ_PIECE, size - total))
        if not piece:
            raise ValueError(f"{what} is truncated: it should hold {size:,} bytes, found {total:,}")
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as file managers show sizes)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def machine_memory() -> int:
    """The machine's physical memory in bytes (FALLBACK_MEMORY when it cannot be found)."""
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [
                ("length", ctypes.c_ulong),
                ("load", ctypes.c_ulong),
                ("total_phys", ctypes.c_ulonglong),
                ("rest", ctypes.c_ulonglong * 6),
            ]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.total_phys)
        return FALLBACK_MEMORY
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def memory_budget() -> int:
    """Bytes one dataset may take while it is read and prepared."""
    return int(machine_memory() * MEMORY_FRACTION)


def check_memory(need: int, what: str, where: str | Path) -> None:
    """DatasetError unless ``need`` bytes fit the memory budget.

    ``what`` says what needs them (e.g. "its images array (60000, 28, 28) uint8"), ``where``
    names the file.
    """
    budget = memory_budget()
    if need > budget:
        raise DatasetError(
            f"{where}: {what} would take {human_bytes(need)} of memory, more than the "
            f"{human_bytes(budget)} a dataset may use on this machine (half of its "
            f"{human_bytes(machine_memory())})"
        )


def archive_budget(archive_size: int) -> int:
    """Bytes all the members of an archive of this size may decompress to."""
    return max(ARCHIVE_MIN_BUDGET, ARCHIVE_RATIO * archive_size)
