"""Atomic writes go only over regular files (a device, a FIFO, a folder or a path under a
file is refused, naming it, and left as it was); links are followed to a regular file;
reading never waits on a FIFO nor reads more than it may."""

import os
import stat

import pytest

from ganstudio.core.errors import UserError, error_message
from ganstudio.core.fileio import (
    FileTooLargeError,
    NotAFileError,
    NotAFolderError,
    atomic_write_bytes,
    create_exclusive,
    open_appending,
    open_regular,
    read_regular,
)

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and devices: POSIX")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_regular_file_is_replaced_whole(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []


def test_missing_folders_are_created(tmp_path):
    atomic_write_bytes(tmp_path / "a" / "b" / "out.png", b"x")
    assert (tmp_path / "a" / "b" / "out.png").read_bytes() == b"x"


@posix_only
@pytest.mark.timeout(30)
def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NotAFileError, match="pipe is a named pipe \\(FIFO\\), not a regular file"):
        atomic_write_bytes(fifo, b"data")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and leftovers(tmp_path) == []
    with pytest.raises(NotAFileError):
        open_appending(fifo)
    with pytest.raises(NotAFileError):
        open_regular(fifo)  # would wait for a writer forever
    with pytest.raises(NotAFileError):
        read_regular(fifo, 100)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@posix_only
def test_a_device_is_refused_and_left_alone():
    device = "/dev/null" if os.path.exists("/dev/null") else pytest.skip("no /dev/null")
    before = os.lstat(device)
    with pytest.raises(NotAFileError, match="/dev/null is a device, not a regular file") as err:
        atomic_write_bytes(device, b"data")
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    # Both a user's error (one line, exit status 2) and an OSError (a file that cannot be
    # written), with the path in its one sentence.
    assert isinstance(err.value, UserError) and isinstance(err.value, OSError)
    assert error_message(err.value).startswith("/dev/null is a device")


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(NotAFileError, match="is a folder, not a regular file"):
        atomic_write_bytes(tmp_path / "out.png", b"x")
    assert (tmp_path / "out.png").is_dir() and leftovers(tmp_path) == []


@pytest.mark.parametrize("under", ["file/out.png", "file/deeper/out.png"])
def test_a_path_under_a_file_is_refused_naming_the_file(tmp_path, under):
    (tmp_path / "file").write_text("I am a file")
    with pytest.raises(NotAFolderError, match="file is a regular file, not a folder"):
        atomic_write_bytes(tmp_path / under, b"x")
    assert (tmp_path / "file").read_text() == "I am a file"


@posix_only
def test_a_link_is_followed_to_its_regular_file(tmp_path):
    real = tmp_path / "real" / "out.png"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert leftovers(tmp_path) == [] and leftovers(real.parent) == []


@posix_only
def test_a_link_to_a_fifo_or_to_nothing_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to-pipe").symlink_to(tmp_path / "pipe")
    with pytest.raises(NotAFileError, match="is a link to .*pipe, which is a named pipe"):
        atomic_write_bytes(tmp_path / "to-pipe", b"x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    with pytest.raises(NotAFileError, match="which does not exist"):
        atomic_write_bytes(tmp_path / "dangling", b"x")
    assert not (tmp_path / "nothing").exists()


def test_reading_stops_at_the_limit(tmp_path):
    big = tmp_path / "big"
    with big.open("wb") as fh:
        fh.truncate(10_000_000)  # sparse: nothing to write
    with pytest.raises(FileTooLargeError, match="larger than 1,000 bytes"):
        read_regular(big, 1000)
    assert read_regular(tmp_path / "big", 10_000_000)[:4] == b"\0\0\0\0"
    with pytest.raises(NotAFileError, match="is a folder"):
        read_regular(tmp_path, 1000)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", 1000)


def test_appending_creates_appends_and_truncates(tmp_path):
    log = tmp_path / "log"
    with open_appending(log) as fh:
        fh.write(b"a\n")
    with open_appending(log) as fh:
        fh.write(b"b\n")
    assert log.read_bytes() == b"a\nb\n"
    with open_appending(log, truncate=True) as fh:
        fh.write(b"c\n")
    assert log.read_bytes() == b"c\n"


def test_exclusive_creation_is_complete_or_refused(tmp_path):
    lock = tmp_path / "run.lock"
    create_exclusive(lock, b'{"pid": 1}\n')
    assert lock.read_bytes() == b'{"pid": 1}\n'
    with pytest.raises(FileExistsError):
        create_exclusive(lock, b"other")
    assert lock.read_bytes() == b'{"pid": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.lock"]
