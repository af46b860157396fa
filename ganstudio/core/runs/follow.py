"""Following a run folder that another process writes (a job on a cluster, a synced folder).

``RunFollower(folder).poll()`` returns what is new since the last poll: the records appended
to ``metrics.jsonl`` (only the new bytes are read; a last line still being written waits for
the next poll), the newest complete preview picture, the newest model file that can be
loaded, and the run's settings when ``config.json`` changes. A log that was rewritten (a
resumed run cuts it back to its checkpoint's step) or truncated is read again from the start
and the update says ``reset``.

Polling rather than file-system notifications: network shares and synced folders do not
deliver those reliably. Nothing here writes, creates or locks anything in the folder: every
file is opened read-only, and a file that is missing, half-written or damaged is skipped
until a later poll.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganstudio.core.fileio import open_regular
from ganstudio.core.runs.layout import BEST, CHECKPOINTS, CONFIG, GENERATOR, METRICS, PREVIEWS
from ganstudio.core.runs.reader import (
    RUNNING_WITHIN,
    RunFolderError,
    is_number,
    parse_metrics,
    read_run_config,
)

# Losses whose discriminator outputs are probabilities (the others give critic scores);
# core.training.losses says the same through GANLoss.probabilistic (a test keeps the two equal).
PROBABILISTIC_LOSSES = ("minimax", "nonsaturating")
# At most this much of the log is read by one poll; the update then says ``more``.
MAX_READ = 32 * 2**20
# Bytes just before the read position that must be unchanged for the log to be the same
# one, only longer (otherwise it was rewritten: read again from the start).
SIGNATURE = 256
# A log that has not changed for this long (and has no end record) is called stalled.
STALLED_AFTER = RUNNING_WITHIN
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


@dataclass(frozen=True)
class RunInfo:
    """What config.json says about the run."""

    folder: Path
    name: str  # the folder's name
    dataset: str
    kind: str  # "images" | "points" | "" (unknown)
    arch: str
    loss: str
    total_steps: int
    probabilistic: bool  # D(x), D(G(z)) are probabilities (else critic scores)
    device: str
    modes: tuple = ()
    resumed: int = 0  # how many times the run was resumed
    processes: int = 1  # a torchrun job's size

    def describe(self) -> str:
        """builtin:digits: DCGAN with the nonsaturating loss on cuda:0 (x4 processes)"""
        text = f"{self.dataset}: {self.arch.upper()} with the {self.loss} loss"
        if self.device:
            text += f" on {self.device}"
        return text + (f" (x{self.processes} processes)" if self.processes > 1 else "")


@dataclass(frozen=True)
class FollowUpdate:
    """What one poll found. ``records`` are the new complete log records, oldest first;
    after a ``reset`` they are the whole (rewritten) log as read so far, and what was shown
    before must be forgotten."""

    reset: bool
    records: tuple[dict, ...]
    more: bool  # the log holds more than one poll reads: poll again soon
    info: RunInfo | None  # the run's settings, when new or changed
    preview: Path | None  # the newest complete preview picture, when it changed
    preview_step: int | None
    picture: np.ndarray | None  # that picture, uint8 (H, W, 3)
    model: Path | None  # the newest loadable model file or checkpoint, when it changed
    model_step: int | None
    step: int  # the newest step in the log
    total_steps: int
    status: str  # waiting (no record yet) | running | completed | stopped | failed
    message: str  # the end record's message
    updated: float  # time.time() of the newest change seen (at first: the log's mtime)
    steps_per_s: float | None  # training speed from the newest records
    problem: str = ""  # why (part of) the folder could not be read this time

    @property
    def changed(self) -> bool:
        return bool(
            self.reset
            or self.records
            or self.info
            or self.preview is not None
            or self.model is not None
        )


@dataclass
class _LogState:
    offset: int = 0  # bytes of the log consumed (the pending partial line included)
    pending: bytes = b""  # the last line, not complete yet
    signature: bytes = b""  # the SIGNATURE bytes before ``offset``
    recent: deque = field(default_factory=lambda: deque(maxlen=64))  # (step, time) of train
    step: int = 0
    status: str = "waiting"
    message: str = ""


def read_config(folder: Path) -> tuple[dict, RunInfo]:
    """The parsed config.json and what the follower shows of it (RunFolderError if the
    folder is not a run folder, or its config cannot be read or is damaged)."""
    if not folder.exists():
        raise RunFolderError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a folder (choose a run folder)")
    if not (folder / CONFIG).exists():
        raise RunFolderError(
            f"{folder}: not a run folder (it has no {CONFIG}; a run folder holds {CONFIG}, "
            f"{METRICS}, {PREVIEWS}/ and {CHECKPOINTS}/)"
        )
    doc = read_run_config(folder)  # every field used below is checked there
    cfg = doc["config"]
    dataset = doc.get("dataset") or {}
    loss = str(cfg.get("loss") or "")
    info = RunInfo(
        folder=folder,
        name=folder.name,
        dataset=str(dataset.get("name") or cfg.get("dataset") or "?"),
        kind=str(dataset.get("kind") or ""),
        arch=str(cfg.get("arch") or ""),
        loss=loss,
        total_steps=int(cfg.get("steps") or 0),
        probabilistic=loss in PROBABILISTIC_LOSSES,
        device=str(doc.get("device") or ""),
        modes=tuple(tuple(m) for m in dataset.get("modes") or ()),
        resumed=len(doc.get("resumed") or ()),
        processes=int(doc.get("processes") or 1),
    )
    return doc, info


def safetensors_step(path: Path) -> int | None:
    """The training step of a complete GAN Studio model file or checkpoint, from its
    description alone; None when the file is missing, cut off (still being copied) or not
    ours (core.modelfile checks all of that)."""
    from ganstudio.core.modelfile import ModelFileError, read_metadata

    try:
        return int(read_metadata(path).get("step", 0))
    except (ModelFileError, OSError, TypeError, ValueError):
        return None


def read_picture(path: Path) -> np.ndarray | None:
    """A complete PNG as uint8 (H, W, 3); None when it is missing, cut off or damaged."""
    from PIL import Image

    try:
        with open_regular(path) as fh:
            if fh.read(8) != _PNG_MAGIC:
                return None
            fh.seek(-len(_PNG_END), os.SEEK_END)
            if fh.read() != _PNG_END:  # still being copied
                return None
            fh.seek(0)
            with Image.open(fh) as im:
                im.load()
                return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _step_of(name: str) -> int | None:
    """12 for step_0000012.png / step_0000012.safetensors."""
    stem = name.split(".", 1)[0]
    if not stem.startswith("step_"):
        return None
    try:
        return int(stem[5:])
    except ValueError:
        return None


class RunFollower:
    """Reads a run folder as it grows. Not thread-safe: poll from one thread at a time."""

    def __init__(self, folder: str | Path, max_read: int = MAX_READ) -> None:
        self.folder = Path(folder)
        self.max_read = max(1, int(max_read))
        self._config_key: tuple | None = None
        self.info: RunInfo | None = None
        self._new_info = self._check_config()  # RunFolderError when this is no run folder
        self._log = _LogState()
        self._updated = 0.0
        self._preview_key: tuple | None = None
        self._model_key: tuple | None = None
        self._model_cache: dict[tuple, int | None] = {}

    # ---------------------------------------------------------------------------------

    def poll(self) -> FollowUpdate:
        """Everything new since the last poll. Never raises for a file that is missing,
        being written or damaged: ``problem`` says what could not be read."""
        problems: list[str] = []
        info, self._new_info = self._new_info, None
        try:
            info = self._check_config() or info
        except RunFolderError as exc:
            problems.append(str(exc))
        reset, records, more = self._read_log(problems)
        preview, preview_step, picture = self._newest_preview()
        model, model_step = self._newest_model()
        if self._updated == 0.0:  # the first poll: the run changed when the log last did
            self._updated = self._first_mtime()
        elif records or reset or preview is not None or model is not None:
            self._updated = time.time()
        log = self._log
        total = self.info.total_steps if self.info else 0
        return FollowUpdate(
            reset=reset,
            records=tuple(records),
            more=more,
            info=info,
            preview=preview,
            preview_step=preview_step,
            picture=picture,
            model=model,
            model_step=model_step,
            step=log.step,
            total_steps=total,
            status=log.status,
            message=log.message,
            updated=self._updated,
            steps_per_s=self._speed(),
            problem="; ".join(problems),
        )

    # ---------------------------------------------------------------------------------
    # config.json

    def _check_config(self) -> RunInfo | None:
        """The RunInfo when config.json is new or changed (a resumed run rewrites it)."""
        path = self.folder / CONFIG
        try:
            st = path.stat()
        except OSError:
            if self.info is None:
                read_config(self.folder)  # raises the clear message
            raise RunFolderError(f"{path}: cannot be read just now") from None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key == self._config_key:
            return None
        _doc, info = read_config(self.folder)
        self._config_key = key
        self.info = info
        return info

    # ---------------------------------------------------------------------------------
    # metrics.jsonl

    def _read_log(self, problems: list[str]) -> tuple[bool, list[dict], bool]:
        log = self._log
        path = self.folder / METRICS
        try:
            with open_regular(path) as fh:
                st = os.fstat(fh.fileno())
                reset = st.st_size < log.offset
                start = 0 if reset else max(0, log.offset - len(log.signature))
                fh.seek(start)
                data = fh.read(log.offset - start + self.max_read)
                if not reset and data[: log.offset - start] != log.signature:
                    reset = True  # rewritten: the bytes we read last time are not there
                if reset:
                    fh.seek(0)
                    data = fh.read(self.max_read)
                    start = 0
                    self._log = log = _LogState()
                else:
                    data = data[log.offset - start :]
                    start = log.offset
        except FileNotFoundError:
            if log.offset:
                problems.append(f"{METRICS} is missing just now")
            return False, [], False
        except OSError as exc:
            problems.append(f"{METRICS} cannot be read ({exc.strerror or exc})")
            return False, [], False
        end = start + len(data)
        log.signature = (log.signature + data)[-SIGNATURE:]
        log.offset = end
        text = log.pending + data
        cut = text.rfind(b"\n") + 1
        log.pending = text[cut:]
        records = parse_metrics(text[:cut].decode("utf-8", errors="replace"), path)
        for r in records:
            self._account(r)
        return reset, records, end < st.st_size

    def _account(self, r: dict) -> None:
        log = self._log
        kind = r.get("type")
        step = r.get("step")
        if is_number(step):
            log.step = max(log.step, int(step)) if kind != "resume" else int(step)
        if kind == "end":
            log.status = str(r.get("status", "ended"))
            log.message = str(r.get("message", ""))
        elif kind in ("train", "resume"):
            log.status = "running"
            log.message = ""
        if kind == "resume":
            log.recent.clear()
        elif kind == "train" and is_number(step) and is_number(r.get("time")):
            log.recent.append((int(step), float(r["time"])))

    def _speed(self) -> float | None:
        recent = self._log.recent
        if len(recent) < 2:
            return None
        (s0, t0), (s1, t1) = recent[0], recent[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def _first_mtime(self) -> float:
        for name in (METRICS, CONFIG):
            with contextlib.suppress(OSError):
                return (self.folder / name).stat().st_mtime
        return time.time()

    # ---------------------------------------------------------------------------------
    # previews and models

    def _newest_preview(self) -> tuple[Path | None, int | None, np.ndarray | None]:
        """The newest complete preview when it is not the one reported last."""
        try:
            with os.scandir(self.folder / PREVIEWS) as it:
                found = [(s, e.name) for e in it if (s := _step_of(e.name)) is not None]
        except OSError:
            return None, None, None
        for step, name in sorted(found, reverse=True)[:3]:  # the newest may be half-copied
            path = self.folder / PREVIEWS / name
            try:
                st = path.stat()
            except OSError:
                continue
            key = (name, st.st_size, st.st_mtime_ns)
            if key == self._preview_key:
                return None, None, None  # still the newest complete one
            picture = read_picture(path)
            if picture is not None:
                self._preview_key = key
                return path, step, picture
        return None, None, None

    def _newest_model(self) -> tuple[Path | None, int | None]:
        """The loadable model file with the highest step (at a tie: the final model file,
        then a step checkpoint, then the best one), when it changed."""
        candidates = [(2, self.folder / GENERATOR), (0, self.folder / CHECKPOINTS / BEST)]
        with contextlib.suppress(OSError), os.scandir(self.folder / CHECKPOINTS) as it:
            candidates += [
                (1, Path(e.path))
                for e in it
                if e.name.endswith(".safetensors") and _step_of(e.name) is not None
            ]
        best: tuple[int, int, str, Path, tuple] | None = None
        cache: dict[tuple, int | None] = {}
        for rank, path in candidates:
            try:
                st = path.stat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO would make the reader wait forever
                continue
            key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
            step = self._model_cache[key] if key in self._model_cache else safetensors_step(path)
            cache[key] = step
            if step is not None and (best is None or (step, rank, path.name) > best[:3]):
                best = (step, rank, path.name, path, key)
        self._model_cache = cache  # only the files still there
        if best is None or best[4] == self._model_key:
            return None, None
        self._model_key = best[4]
        return best[3], best[0]
