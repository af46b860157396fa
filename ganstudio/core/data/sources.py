"""Finding pictures: a folder searched recursively, or a zip / tar archive read in place.

A `PictureSource` lists its picture files in a fixed order (sorted relative paths), labels
them by their first-level subfolder when every picture has one, and reads them one after
another without unpacking anything to disk. Nothing here decodes a picture.

What a source may cost is bounded here, once for every kind of source: a folder is walked
following each folder once (a link back up is not followed again, so a link loop ends) and
counting each file once; only regular files are listed (a FIFO or device named like a
picture is skipped with a reason, never opened); an archive may list at most
MAX_ARCHIVE_MEMBERS members, each picture member is read up to MAX_MEMBER_BYTES and all
of them up to `guards.archive_budget` of the archive's size, by their declared sizes
before reading and by the bytes actually read while reading. Each archive member is read
once, by its own entry (two members may share a name).
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ganstudio.core.data import guards
from ganstudio.core.data.dataset import DatasetError
from ganstudio.core.data.prepare import PictureInput, SkipPicture

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SEARCHED = "png, jpg, jpeg, webp, bmp, gif, tif, tiff"
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

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
    # What reads it: the relative path (folder), the member's position in the zip's
    # directory, or the offset of the member's header in the tar.
    key: str
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
    # Files named like pictures that are never read, with the reason (a FIFO, a link...).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    repeats: int = 0  # links to folders or files already listed, not followed again

    def describe(self) -> str:
        what = {"folder": "folder", "zip": "zip archive", "tar": "tar archive"}[self.kind]
        return f"{what} of {len(self.entries):,} picture files"

    def notes(self) -> list[str]:
        """What the user should know about how the source was read."""
        out = [self.problem] if self.problem else []
        if self.repeats:
            out.append(
                f"{self.repeats:,} link{'s' if self.repeats != 1 else ''} to folders or "
                "files already included not followed again"
            )
        return out

    def read(self, indices: list[int] | None = None) -> Iterator[Item]:
        """(index, file path or bytes) for the given entries, in archive order for archives.

        Every given index comes exactly once; an archive member that cannot be read comes
        as (index, SkipPicture(reason)).
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
        with guards.open_regular(self.path) as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            budget = guards.archive_budget(os.fstat(fh.fileno()).st_size)
            spent = 0
            for i in wanted:
                e = self.entries[i]
                info = infos[int(e.key)]
                if info.file_size > guards.MAX_MEMBER_BYTES:
                    yield i, _too_large()
                    continue
                limit = min(guards.MAX_MEMBER_BYTES, budget - spent)
                try:
                    with zf.open(info) as member:
                        data = guards.read_bounded(member, limit)
                except guards.TooLarge:
                    if limit < guards.MAX_MEMBER_BYTES:
                        yield i, _over_budget(budget)
                    else:
                        yield i, _too_large()
                    spent += limit
                    continue
                except Exception as exc:  # CRC error, encrypted, unsupported compression...
                    yield i, SkipPicture(f"unreadable in the archive ({exc})")
                    continue
                spent += len(data)
                yield i, data

    def _read_tar(self, wanted: range | list[int]) -> Iterator[Item]:
        index = {int(self.entries[i].key): i for i in wanted}
        reason = "no longer in the archive"  # for members listed before but not found now
        with guards.open_regular(self.path) as fh, tarfile.open(fileobj=fh, mode="r:*") as tf:
            budget = guards.archive_budget(os.fstat(fh.fileno()).st_size)
            # Members in archive order: a compressed tar is only read front to back.
            try:
                for member in tf:
                    if not index:
                        return
                    if member.offset_data + member.size > budget:  # refused when listed
                        reason = _over_budget(budget).args[0]
                        break
                    i = index.pop(member.offset, None)
                    if i is None:
                        continue
                    if member.size > guards.MAX_MEMBER_BYTES:
                        yield i, _too_large()
                        continue
                    try:
                        data = tf.extractfile(member)
                        limit = guards.MAX_MEMBER_BYTES
                        yield i, guards.read_bounded(data, limit) if data else b""
                    except Exception as exc:
                        yield i, SkipPicture(f"unreadable in the archive ({exc})")
            except Exception as exc:  # damaged past this point: the rest cannot be read
                reason = f"unreadable in the archive ({exc})"
        for i in index.values():
            yield i, SkipPicture(reason)


def _too_large() -> SkipPicture:
    limit = guards.human_bytes(guards.MAX_MEMBER_BYTES)
    return SkipPicture(f"too large (decompresses to more than {limit})")


def _over_budget(budget: int) -> SkipPicture:
    return SkipPicture(
        f"not read: the archive's pictures decompress to more than {guards.human_bytes(budget)}"
    )


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
    source.skipped.sort()
    if strip_wrapper and found and all("/" in e.name for e in found):
        # An archive of a folder usually holds everything under that one folder.
        tops = {e.name.split("/", 1)[0] for e in found}
        if len(tops) == 1:
            found = [
                PictureEntry(e.name.split("/", 1)[1], e.key, e.size, e.mtime_ns) for e in found
            ]
    source.entries = found
    _label(source, [e.name for e in found])


def _identity(path: str, st: os.stat_result) -> tuple[int, int] | str:
    """What makes a file or folder the same one when reached by two paths."""
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return os.path.realpath(path)  # a file system without inode numbers


def scan_folder(path: Path) -> PictureSource:
    """Every picture file under ``path`` (recursively), with its size and mtime.

    Folders are searched breadth first in sorted order, each folder once however many
    links lead to it, and each file is listed once (by the first path found to it).
    """
    source = PictureSource(path, "folder")
    found: list[PictureEntry] = []
    seen: set[tuple[int, int] | str] = {_identity(str(path), os.stat(path))}
    queue = deque([""])
    while queue:
        rel_dir = queue.popleft()
        try:
            with os.scandir(path / rel_dir if rel_dir else path) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError:
            continue  # an unreadable subfolder is not fatal
        for d in items:
            if d.name.startswith(".") or d.name == "__MACOSX":
                continue
            rel = f"{rel_dir}/{d.name}" if rel_dir else d.name
            try:
                st = os.stat(d.path)  # follows links (DirEntry.stat has no inode on Windows)
            except OSError as exc:  # a broken link, a link loop, no permission
                if is_picture_name(d.name):
                    source.skipped.append((rel, f"unreadable ({exc.strerror or exc})"))
                continue
            ident = _identity(d.path, st)
            if stat.S_ISDIR(st.st_mode):
                if ident in seen:
                    source.repeats += 1
                else:
                    seen.add(ident)
                    queue.append(rel)
                continue
            if not is_picture_name(d.name):
                source.other_files += 1
                continue
            if not stat.S_ISREG(st.st_mode):
                source.skipped.append((rel, f"{guards.file_kind(st.st_mode)}, not a picture file"))
                continue
            if ident in seen:
                source.repeats += 1
                continue
            seen.add(ident)
            found.append(PictureEntry(rel, rel, st.st_size, st.st_mtime_ns))
    _finish(source, found, strip_wrapper=False)
    return source


def _check_members(path: Path, count: int) -> None:
    if count > guards.MAX_ARCHIVE_MEMBERS:
        raise DatasetError(
            f"{path}: the archive holds more than {guards.MAX_ARCHIVE_MEMBERS:,} members, more "
            "than GAN Studio reads from one archive; unpack it into a folder and give that"
        )


def _over_budget_error(path: Path, budget: int, archive_size: int) -> DatasetError:
    return DatasetError(
        f"{path}: its members decompress to more than {guards.human_bytes(budget)} "
        f"({guards.ARCHIVE_RATIO} times the archive's {guards.human_bytes(archive_size)}), "
        "which no archive of pictures does, so it is not read"
    )


_TAR_KINDS = (
    (tarfile.TarInfo.issym, "a symbolic link"),
    (tarfile.TarInfo.islnk, "a hard link"),
    (tarfile.TarInfo.isfifo, "a FIFO (named pipe)"),
    (tarfile.TarInfo.ischr, "a character device"),
    (tarfile.TarInfo.isblk, "a block device"),
)


def _scan_zip(path: Path, source: PictureSource, found: list[PictureEntry]) -> None:
    with guards.open_regular(path) as fh, zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        _check_members(path, len(infos))
        declared, size = 0, os.fstat(fh.fileno()).st_size
        for k, info in enumerate(infos):
            name = info.filename.replace("\\", "/").lstrip("/")
            if info.is_dir() or _hidden(name):
                continue
            if not is_picture_name(name):
                source.other_files += 1
                continue
            mode = info.external_attr >> 16 if info.create_system == 3 else 0  # Unix
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # a link, FIFO, device...
                source.skipped.append((name, f"{guards.file_kind(mode)} in the archive"))
                continue
            found.append(PictureEntry(name, str(k), info.file_size))
            if info.file_size <= guards.MAX_MEMBER_BYTES:  # larger ones are never read
                declared += info.file_size
        if declared > guards.archive_budget(size):
            raise _over_budget_error(path, guards.archive_budget(size), size)


def _scan_tar(path: Path, source: PictureSource, found: list[PictureEntry]) -> None:
    with guards.open_regular(path) as fh, tarfile.open(fileobj=fh, mode="r:*") as tf:
        size = os.fstat(fh.fileno()).st_size
        budget, count = guards.archive_budget(size), 0
        try:
            for m in tf:
                count += 1
                _check_members(path, count)
                # Listing a compressed tar decompresses every member to skip over it.
                if m.offset_data + m.size > budget:
                    raise _over_budget_error(path, budget, size)
                name = m.name.removeprefix("./").lstrip("/")
                if m.isdir() or _hidden(name):
                    continue
                if not is_picture_name(name):
                    source.other_files += 1
                elif m.isfile():
                    found.append(PictureEntry(name, str(m.offset), m.size))
                else:
                    what = next((w for test, w in _TAR_KINDS if test(m)), "not a file")
                    source.skipped.append((name, f"{what} in the archive"))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if not found:
                raise
            # keep what comes before the damage
            source.problem = f"the archive is damaged after {len(found)} pictures ({exc})"


def scan_archive(path: Path) -> PictureSource:
    """The picture members of a zip or tar archive (names only; nothing is extracted)."""
    found: list[PictureEntry] = []
    if path.name.lower().endswith(ZIP_SUFFIXES):
        source = PictureSource(path, "zip")
        _scan_zip(path, source, found)
    else:
        source = PictureSource(path, "tar")
        _scan_tar(path, source, found)
    _finish(source, found, strip_wrapper=True)
    return source
