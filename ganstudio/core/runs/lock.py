"""One process at a time writes a run folder: RUN/run.lock says which (torch-free).

The RunSession that writes a run folder (under torchrun: rank 0, the only one that writes)
holds ``run.lock`` for the whole run, from before it prepares the data until after the
log's end record, and removes it however the run ends. The file is created atomically
(complete or not at all) and holds JSON: the process id, the host name, when it started,
the machine's boot id and the process's start time (Linux), the torchrun job and attempt,
and a token that tells this lock from any other.

Another process that wants the folder (``train --resume RUN`` while RUN is training, a
window starting a run there) is refused with ``RunFolderBusy`` ("RUN is being trained by
process N on HOST since ...: stop it first"), unless the lock is stale, left by a process
that was killed or crashed:

- on the same host (the same host name): the process is gone, or the machine has restarted
  since (another boot id), or its process id now belongs to another program (another start
  time; Linux) -- the lock is taken over, with a logged warning;
- from another host, the process cannot be checked: the lock holds, and the message says to
  delete the file once that process is surely gone. The one exception is a torchrun restart
  of the same job (the same TORCHELASTIC_RUN_ID, a later TORCHELASTIC_RESTART_COUNT):
  torchrun stops every process of an attempt before it starts the next, so the lock of an
  earlier attempt is always stale, wherever its rank 0 ran.

A lock file that cannot be read is refused too (delete it if nothing trains there). Readers
(``ganstudio runs``, following a folder) never take or change the lock; ``holder_alive``
tells them whether a run without an end record is still going.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ganstudio.core.errors import UserError
from ganstudio.core.fileio import (
    FileTooLargeError,
    NotAFileError,
    check_folder_for,
    create_exclusive,
    kind_of,
    read_regular,
)
from ganstudio.core.runs.layout import LOCK

log = logging.getLogger(__name__)

MAX_LOCK_BYTES = 64 * 1024  # a lock file is a few hundred bytes


class RunFolderBusy(UserError, RuntimeError):
    """Another process trains into the run folder (or its lock file cannot be read)."""


def torchrun_attempt(env: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """(job id, restart count) of a process torchrun started, else None."""
    env = os.environ if env is None else env
    run_id = env.get("TORCHELASTIC_RUN_ID")
    if run_id is None:
        return None
    try:
        restart = int(env.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        restart = 0
    return run_id, restart


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about the process holding the folder."""

    pid: int
    host: str
    started: str  # local time, for people
    started_at: float  # time.time()
    token: str
    boot_id: str | None = None
    process_start: int | None = None  # Linux: /proc/PID/stat start time (clock ticks)
    torchrun: tuple[str, int] | None = None  # job id, restart count

    @classmethod
    def this_process(cls, torchrun: tuple[str, int] | None = None) -> LockHolder:
        pid = os.getpid()
        return cls(
            pid=pid,
            host=socket.gethostname(),
            started=time.strftime("%Y-%m-%d %H:%M:%S"),
            started_at=time.time(),
            token=secrets.token_hex(8),
            boot_id=_boot_id(),
            process_start=_process_start(pid),
            torchrun=torchrun,
        )

    def to_json(self) -> bytes:
        doc = {
            "pid": self.pid,
            "host": self.host,
            "started": self.started,
            "started_at": self.started_at,
            "token": self.token,
            "boot_id": self.boot_id,
            "process_start": self.process_start,
            "torchrun": (
                None
                if self.torchrun is None
                else {"run_id": self.torchrun[0], "restart": self.torchrun[1]}
            ),
        }
        return (json.dumps(doc, indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> LockHolder:
        """ValueError (saying which field) unless ``data`` is a lock file's content."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except RecursionError:
            raise ValueError("nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        pid = _int(doc, "pid")
        if not 0 < pid < 2**31:
            raise ValueError('"pid" is not a process id')
        torchrun = doc.get("torchrun")
        attempt = None
        if torchrun is not None:
            if not isinstance(torchrun, dict):
                raise ValueError('"torchrun" is not an object')
            attempt = (_str(torchrun, "run_id"), _int(torchrun, "restart"))
        started_at = doc.get("started_at")
        if not isinstance(started_at, (int, float)) or not math.isfinite(started_at):
            raise ValueError('"started_at" is missing or not a time')
        boot_id = doc.get("boot_id")
        process_start = doc.get("process_start")
        return cls(
            pid=pid,
            host=_str(doc, "host"),
            started=_str(doc, "started"),
            started_at=float(started_at),
            token=_str(doc, "token"),
            boot_id=_str(doc, "boot_id") if boot_id is not None else None,
            process_start=_int(doc, "process_start") if process_start is not None else None,
            torchrun=attempt,
        )

    def alive(self) -> bool | None:
        """True while the process runs, False when it is gone (the lock is stale), None
        when that cannot be told from here (it ran on another host)."""
        if self.host != socket.gethostname():
            return None
        boot = _boot_id()
        if self.boot_id and boot and self.boot_id != boot:
            return False  # the machine restarted since
        if not _pid_alive(self.pid):
            return False
        if self.process_start is not None:
            now = _process_start(self.pid)
            if now is not None and now != self.process_start:
                return False  # the id was given to another process since
        return True

    def stale_for(self, me: LockHolder) -> bool:
        """Whether ``me`` may take this lock over (see the module docstring)."""
        if self.torchrun is not None and me.torchrun is not None:
            (job, attempt), (my_job, my_attempt) = self.torchrun, me.torchrun
            if job == my_job and attempt < my_attempt:
                return True  # an earlier attempt of this torchrun job: torchrun stopped it
        return self.alive() is False

    def refusal(self, folder: Path) -> str:
        """The message for a process that wants the folder while this one holds it."""
        who = f"process {self.pid}"
        if self.pid == os.getpid() and self.host == socket.gethostname():
            who += " (this program)"
        text = (
            f"{folder} is being trained by {who} on {self.host} since {self.started}: stop it first"
        )
        if self.alive() is None:
            text += (
                f" (a process on another machine cannot be checked from here: once it is "
                f"surely gone, delete {folder / LOCK})"
            )
        return text


def _int(doc: dict, name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f'"{name}" is missing or not a whole number')
    return value


def _str(doc: dict, name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise ValueError(f'"{name}" is missing or not a string')
    return value


def read_lock(folder: str | Path) -> LockHolder | None:
    """Who holds the folder's lock; None when there is no lock. RunFolderBusy when the lock
    file cannot be read (it cannot be told whether a process trains there)."""
    path = Path(folder) / LOCK
    try:
        data = read_regular(path, MAX_LOCK_BYTES)
        return LockHolder.from_json(data)
    except FileNotFoundError:
        return None
    except (NotAFileError, FileTooLargeError, ValueError, OSError) as exc:
        reason = str(exc) if not isinstance(exc, OSError) or not exc.strerror else exc.strerror
        raise RunFolderBusy(
            f"{path} cannot be read ({reason}): if no process is training into {folder}, delete it"
        ) from None


def holder_alive(folder: str | Path) -> bool | None:
    """For readers: True while a process holds the folder's lock, False when a stale lock
    is there (its process is gone without ending the run), None when there is no lock or
    it cannot be told (another host, a damaged lock file)."""
    try:
        holder = read_lock(folder)
    except RunFolderBusy:
        return None
    return None if holder is None else holder.alive()


class RunLock:
    """The lock a RunSession holds on its run folder (``acquire``, then ``release``)."""

    def __init__(self, folder: Path, holder: LockHolder, created: Path | None) -> None:
        self.folder = folder
        self.holder = holder
        self.created = created  # the topmost folder acquire created (removed if left empty)

    @property
    def path(self) -> Path:
        return self.folder / LOCK

    @classmethod
    def acquire(cls, folder: str | Path, torchrun: tuple[str, int] | None = None) -> RunLock:
        """Take the folder (creating it if needed) for this process, or raise RunFolderBusy.
        A stale lock (see the module docstring) is taken over."""
        folder = Path(folder)
        created = _make_folder(folder)
        me = LockHolder.this_process(torchrun)
        path = folder / LOCK
        try:
            for _ in range(5):  # another process may be creating or replacing it meanwhile
                try:
                    create_exclusive(path, me.to_json())
                    return cls(folder, me, created)
                except FileExistsError:
                    pass
                holder = read_lock(folder)
                if holder is None:
                    continue  # removed meanwhile: try again
                if not holder.stale_for(me):
                    raise RunFolderBusy(holder.refusal(folder))
                log.warning(
                    "%s: taking over the lock left by process %d on %s (since %s), which is "
                    "no longer running",
                    folder,
                    holder.pid,
                    holder.host,
                    holder.started,
                )
                _take_away(path, holder)
            raise RunFolderBusy(f"{path} keeps changing: another process is taking {folder}")
        except BaseException:
            _remove_empty(folder, created)
            raise

    def release(self) -> None:
        """Remove the lock (if it is still this one's), and the folder ``acquire`` created
        when nothing was written into it. Never raises."""
        try:
            holder = read_lock(self.folder)
        except RunFolderBusy as exc:
            log.warning("%s", exc)
            holder = None
        if holder is not None:
            if holder.token == self.holder.token:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
            else:
                log.warning("%s: the lock was taken by another process meanwhile", self.folder)
        _remove_empty(self.folder, self.created)


def _make_folder(folder: Path) -> Path | None:
    """Create ``folder`` (and the folders above it) if needed; the topmost one created."""
    try:
        st = folder.stat()
    except (FileNotFoundError, NotADirectoryError):  # the second: a file above it
        pass
    else:
        if not folder.is_dir():
            raise NotAFileError(
                f"{folder} is {kind_of(st.st_mode)}, not a folder: a run folder is a folder"
            )
        return None
    check_folder_for(folder)
    top = folder
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    folder.mkdir(parents=True, exist_ok=True)
    return top


def _remove_empty(folder: Path, created: Path | None) -> None:
    """Remove the folders from ``folder`` up to ``created`` that are empty."""
    if created is None:
        return
    here = folder
    while True:
        try:
            here.rmdir()
        except OSError:  # not empty (the run wrote something), or gone
            return
        if here == created or here.parent == here:
            return
        here = here.parent


def _take_away(path: Path, stale: LockHolder) -> None:
    """Remove a stale lock, unless another process replaced it with a live one meanwhile
    (then it is put back)."""
    aside = path.with_name(f".{path.name}.{stale.token}.{os.getpid()}.stale")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    try:
        moved = LockHolder.from_json(read_regular(aside, MAX_LOCK_BYTES))
    except (OSError, ValueError):
        moved = None
    if moved is not None and moved.token != stale.token:
        with contextlib.suppress(OSError):
            os.link(aside, path)  # a live lock, not the stale one: back where it was
    aside.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------
# Processes


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    state = _linux_stat(pid)
    if state is not None:
        return state[0] not in ("Z", "X")  # a zombie has exited
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, and belongs to someone else
        return True
    return True


def _linux_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks after boot) from /proc; None elsewhere, or
    when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read(4096).decode("ascii", errors="replace")
        fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
        return fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _process_start(pid: int) -> int | None:
    state = _linux_stat(pid)
    return None if state is None else state[1]


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read(100).strip() or None
    except (OSError, ValueError):
        return None


if sys.platform == "win32":

    def _windows_pid_alive(pid: int) -> bool:
        """OpenProcess: os.kill on Windows would terminate the process."""
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() == 5)  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
