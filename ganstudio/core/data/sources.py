"""Finding pictures: a folder searched recursively, or a zip / tar archive read in place.

A `PictureSource` lists its picture files in a fixed order (sorted relative paths), labels
them by their first-level subfolder when every picture has one, and reads them one after
another without unpacking anything to disk. Nothing here decodes a picture.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ganstudio.core.data.prepare import PictureInput, SkipPicture

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SEARCHED = "png, jpg, jpeg, webp, bmp, gif, tif, tiff"
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBER_BYTES = 512 << 20  # an archive member larger than this is skipped, not read

# (index, file path or bytes), or (index, SkipPicture) for a member that could not be read
Item = tuple[int, PictureInput | SkipPicture]


def is_picture_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(ZIP_SUFFIXES) or name.endswith(TAR_SUFFIXES)


def _hidden(rel: str) -> bool:
    """Dot files and folders, and the __MACOSX folder zips made on a Mac carry."""
    return any(part.startswith(".") or part == "__MACOSX" for part in rel.split("/"))


@dataclass(frozen=True)
class PictureEntry:
    name: str  # path relative to the source, '/'-separated
    key: str  # what reads it: the relative path, or the archive member's name
    size: int
    mtime_ns: int = 0


@dataclass
class PictureSource:
    """The picture files of a folder or archive, in order, with optional class labels."""

    path: Path
    kind: str  # "folder", "zip" or "tar"
    entries: list[PictureEntry] = field(default_factory=list)
    labels: list[int] | None = None
    class_names: tuple[str, ...] = ()
    other_files: int = 0  # files that are not pictures by their name (ignored)
    problem: str | None = None  # e.g. a damaged archive read only up to the damage

    def describe(self) -> str:
        what = {"folder": "folder", "zip": "zip archive", "tar": "tar archive"}[self.kind]
        return f"{what} of {len(self.entries):,} picture files"

    def read(self, indices: list[int] | None = None) -> Iterator[Item]:
        """(index, file path or bytes) for the given entries, in archive order for archives.

        An archive member that cannot be read comes as (index, SkipPicture(reason)).
        """
        wanted = range(len(self.entries)) if indices is None else indices
        if self.kind == "folder":
            for i in wanted:
                yield i, self.path / self.entries[i].key
        elif self.kind == "zip":
            yield from self._read_zip(wanted)
        else:
            yield from self._read_tar(wanted)

    def _read_zip(self, wanted: range | list[int]) -> Iterator[Item]:
        with zipfile.ZipFile(self.path) as zf:
            for i in wanted:
                e = self.entries[i]
                if e.size > MAX_MEMBER_BYTES:
                    yield i, SkipPicture("too large")
                    continue
                try:
                    yield i, zf.read(e.key)
                except Exception as exc:  # CRC error, encrypted, unsupported compression...
                    yield i, SkipPicture(f"unreadable in the archive ({exc})")

    def _read_tar(self, wanted: range | list[int]) -> Iterator[Item]:
        index = {self.entries[i].key: i for i in wanted}
        with tarfile.open(self.path, "r:*") as tf:
            # Members in archive order: a compressed tar is only read front to back.
            try:
                for member in tf:
                    i = index.pop(member.name, None)
                    if i is None:
                        continue
                    if member.size > MAX_MEMBER_BYTES:
                        yield i, SkipPicture("too large")
                        continue
                    try:
                        fh = tf.extractfile(member)
                        yield i, fh.read() if fh else b""
                    except Exception as exc:
                        yield i, SkipPicture(f"unreadable in the archive ({exc})")
            except Exception as exc:  # damaged past this point: the rest cannot be read
                reason = f"unreadable in the archive ({exc})"
                for i in index.values():
                    yield i, SkipPicture(reason)


def _label(source: PictureSource, rels: list[str]) -> None:
    """Labels from first-level subfolders, when every picture is in one."""
    if not rels or any("/" not in r for r in rels):
        return
    tops = [r.split("/", 1)[0] for r in rels]
    names = sorted(set(tops))
    lookup = {n: k for k, n in enumerate(names)}
    source.class_names = tuple(names)
    source.labels = [lookup[t] for t in tops]


def _finish(source: PictureSource, found: list[PictureEntry], strip_wrapper: bool) -> None:
    found.sort(key=lambda e: e.name)
    if strip_wrapper and found and all("/" in e.name for e in found):
        # An archive of a folder usually holds everything under that one folder.
        tops = {e.name.split("/", 1)[0] for e in found}
        if len(tops) == 1:
            found = [
                PictureEntry(e.name.split("/", 1)[1], e.key, e.size, e.mtime_ns) for e in found
            ]
    source.entries = found
    _label(source, [e.name for e in found])


def scan_folder(path: Path) -> PictureSource:
    """Every picture file under ``path`` (recursively), with its size and mtime."""
    source = PictureSource(path, "folder")
    found: list[PictureEntry] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(path / rel_dir if rel_dir else path) as it:
                items = list(it)
        except OSError:
            continue  # an unreadable subfolder is not fatal
        for d in items:
            rel = f"{rel_dir}/{d.name}" if rel_dir else d.name
            if d.name.startswith(".") or d.name == "__MACOSX":
                continue
            try:
                if d.is_dir():
                    stack.append(rel)
                    continue
                if not is_picture_name(d.name):
                    source.other_files += 1
                    continue
                st = d.stat()
            except OSError:
                continue
            found.append(PictureEntry(rel, rel, st.st_size, st.st_mtime_ns))
    _finish(source, found, strip_wrapper=False)
    return source


def scan_archive(path: Path) -> PictureSource:
    """The picture members of a zip or tar archive (names only; nothing is extracted)."""
    found: list[PictureEntry] = []
    if path.name.lower().endswith(ZIP_SUFFIXES):
        source = PictureSource(path, "zip")
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/").lstrip("/")
                if info.is_dir() or _hidden(name):
                    continue
                if is_picture_name(name):
                    found.append(PictureEntry(name, info.filename, info.file_size))
                else:
                    source.other_files += 1
    else:
        source = PictureSource(path, "tar")
        with tarfile.open(path, "r:*") as tf:
            try:
                for m in tf:
                    name = m.name.removeprefix("./").lstrip("/")
                    if not m.isfile() or _hidden(name):
                        continue
                    if is_picture_name(name):
                        found.append(PictureEntry(name, m.name, m.size))
                    else:
                        source.other_files += 1
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                if not found:
                    raise
                # keep what comes before the damage
                source.problem = f"the archive is damaged after {len(found)} pictures ({exc})"
    _finish(source, found, strip_wrapper=True)
    return source
