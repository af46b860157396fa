"""Reading run folders: the settings, the metrics log (also while it grows), checkpoints,
run listings.

This is the one place that checks what a run folder holds. ``read_run_config`` reads
``config.json`` and checks every field a reader uses (RunFolderError naming the file and
the field). ``parse_metrics`` / ``iter_metrics`` turn ``metrics.jsonl`` into records whose
``step``, where there is one, is a whole number: a line that is not a JSON object, or whose
step is a string, null or not finite, is damaged and skipped with a logged warning (a last
line without its newline is still being written and is skipped quietly). Only regular
files are read (a FIFO would make a reader wait forever), and never more than a file of
its kind could sensibly hold.

Nothing here writes: a folder another process is training into can be read safely, and
its lock file (core.runs.lock) only tells whether that process is still there.
"""

from __future__ import annotations

import json
import logging
import math
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from ganstudio.core.errors import UserError, error_message
from ganstudio.core.fileio import FileTooLargeError, kind_of, open_regular, read_regular
from ganstudio.core.runs.layout import (
    BEST,
    CHECKPOINTS,
    CONFIG,
    GENERATOR,
    METRICS,
    step_checkpoints,
)
from ganstudio.core.runs.lock import holder_alive

log = logging.getLogger(__name__)

# A run whose log changed within this many seconds (and has no end record) is "running".
RUNNING_WITHIN = 120.0
# config.json holds settings and a dataset summary: a few kilobytes.
MAX_CONFIG_BYTES = 16 * 2**20
# One line of the metrics log is a few hundred bytes; a longer one than this is damaged.
MAX_LINE = 2**20
# A record holds numbers and strings, and an object of them ("floor"); deeper is damage.
MAX_RECORD_DEPTH = 8
# Steps are counted in an int64 (the curves, the checkpoints).
MAX_STEP = 2**62


class RunFolderError(UserError, ValueError):
    """A path is not a usable run folder or checkpoint; the message says why."""


def is_number(v: object) -> TypeGuard[float]:
    """A finite int or float (not a bool, nor an int too large for a float): a number a log
    record may hold."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def unreadable(path: Path, exc: OSError) -> RunFolderError:
    """The error for a file of a run folder that cannot be read."""
    if isinstance(exc, UserError):  # fileio's own: it names the file already
        return RunFolderError(str(exc))
    return RunFolderError(f"{path} cannot be read ({exc.strerror or exc})")


def load_json(data: bytes | str) -> object:
    """json.loads, with every way it can fail (nesting too deep included) a ValueError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None


def _show(v: object) -> str:
    """A value from a JSON file, shortly, for a message."""
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "a list"
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


# -------------------------------------------------------------------------------------
# The metrics log


def _deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels in ``value``."""
    stack = [(value, 0)]
    while stack:
        here, depth = stack.pop()
        if isinstance(here, (dict, list)):
            if depth >= limit:
                return True
            children = here.values() if isinstance(here, dict) else here
            stack.extend((child, depth + 1) for child in children)
    return False


def check_record(record: object) -> str | None:
    """Why a parsed metrics line is not a usable record; None when it is one."""
    if not isinstance(record, dict):
        return f"{_show(record)}, not a JSON object"
    if _deeper_than(record, MAX_RECORD_DEPTH):
        return "nested too deeply"
    kind = record.get("type")
    if kind is not None and not isinstance(kind, str):
        return f'"type" is {_show(kind)}, not a string'
    if "step" in record:
        step = record["step"]
        if not is_number(step) or not 0 <= step < MAX_STEP:
            return f'"step" is {_show(step)}, not a step number'
    return None


class _Damage:
    """Counts the damaged lines of one read, for one warning."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.count = 0
        self.first = ""

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if not self.first:
            self.first = f"{where}: {reason}" if where else reason

    def parse(self, line: str | bytes, where: str = "") -> dict | None:
        try:
            record = load_json(line)
        except ValueError as exc:
            self.add(where, f"not JSON ({exc})")
            return None
        reason = check_record(record)
        if reason is not None:
            self.add(where, reason)
            return None
        assert isinstance(record, dict)
        if "step" in record:
            record["step"] = int(record["step"])
        return record

    def report(self) -> None:
        if self.count:
            log.warning("%s: skipped %d damaged line(s) (%s)", self.source, self.count, self.first)


def parse_metrics(text: str, source: object = METRICS) -> list[dict]:
    """Records of (a piece of) a metrics log. A last line without its newline is still being
    written by the training process and is skipped; a damaged line (see ``check_record``)
    is skipped with a warning naming ``source``."""
    records = []
    damage = _Damage(source)
    for line in text.split("\n")[:-1]:  # after the last newline: incomplete (or empty)
        if not line.strip():
            continue
        record = damage.parse(line)
        if record is not None:
            records.append(record)
    damage.report()
    return records


def iter_metrics(path: str | Path) -> Iterator[dict]:
    """The records of a metrics log, read a line at a time (a log of any size)."""
    damage = _Damage(path)
    with open_regular(path) as fh:
        number = 0
        while line := fh.readline(MAX_LINE + 1):
            number += 1
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE:
                    break  # the last line, still being written
                while (rest := fh.readline(MAX_LINE + 1)) and not rest.endswith(b"\n"):
                    pass
                damage.add(f"line {number}", f"longer than {MAX_LINE:,} bytes")
                continue
            if line.strip():
                record = damage.parse(line.decode("utf-8", errors="replace"), f"line {number}")
                if record is not None:
                    yield record
    damage.report()


def read_metrics(path: str | Path) -> list[dict]:
    return list(iter_metrics(path))


def tail_metrics(path: str | Path, max_bytes: int = 256 * 1024) -> list[dict]:
    """The last records of a (possibly huge) metrics log, without reading all of it."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - max_bytes))
        data = fh.read(max_bytes)
    if size > max_bytes:  # drop the first, partial line
        data = data[data.find(b"\n") + 1 :]
    return parse_metrics(data.decode("utf-8", errors="replace"), path)


# -------------------------------------------------------------------------------------
# config.json


def _text(v: object) -> bool:
    return isinstance(v, str)


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_STEP


def _processes(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v < 2**31


def _object(v: object) -> bool:
    return isinstance(v, dict)


def _objects(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _points(v: object) -> bool:
    return isinstance(v, list) and all(
        isinstance(m, list) and all(is_number(x) for x in m) for m in v
    )


# field -> (check, what it should be); a field that is absent or null is not checked.
_FIELDS = {
    "config.dataset": (_text, "a string"),
    "config.arch": (_text, "a string"),
    "config.loss": (_text, "a string"),
    "config.steps": (_count, "a whole number of steps"),
    "dataset": (_object, "an object"),
    "dataset.name": (_text, "a string"),
    "dataset.kind": (_text, "a string"),
    "dataset.modes": (_points, "a list of points (lists of numbers)"),
    "device": (_text, "a string"),
    "processes": (_processes, "a whole number of processes"),
    "resumed": (_objects, "a list of objects"),
    "created": (_text, "a string"),
}


def _field(doc: dict, name: str) -> object:
    here: object = doc
    for part in name.split("."):
        if not isinstance(here, dict):
            return None
        here = here.get(part)
    return here


def read_run_config(folder: str | Path) -> dict:
    """A run folder's config.json, parsed and checked: RunFolderError naming the file and
    what is wrong (no such file, not JSON, a field of the wrong type)."""
    folder = Path(folder)
    path = folder / CONFIG
    try:
        data = read_regular(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise RunFolderError(f"{folder}: not a run folder (it has no {CONFIG})") from None
    except FileTooLargeError:
        raise RunFolderError(
            f"{path} cannot be read (it is larger than {MAX_CONFIG_BYTES // 2**20} MB, "
            "which a run's settings never are)"
        ) from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        doc = load_json(data)
    except ValueError as exc:
        raise RunFolderError(f"{path} cannot be read (not JSON: {exc})") from None
    if not isinstance(doc, dict):
        raise RunFolderError(f"{path} cannot be read (it holds {_show(doc)}, not an object)")
    if not isinstance(doc.get("config"), dict):
        what = "missing" if doc.get("config") is None else _show(doc["config"])
        raise RunFolderError(f'{path} cannot be read ("config" is {what}, not an object)')
    for name, (check, should) in _FIELDS.items():
        value = _field(doc, name)
        if value is not None and not check(value):
            raise RunFolderError(
                f'{path} cannot be read ("{name}" should be {should}, not {_show(value)})'
            )
    return doc


def check_run_folder(folder: str | Path) -> None:
    """Before a run continues in a folder: its config.json (if any) is readable and sound,
    and its metrics log (if any) a regular file (RunFolderError naming the file)."""
    folder = Path(folder)
    if (folder / CONFIG).exists():
        read_run_config(folder)
    log_path = folder / METRICS
    try:
        st = log_path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise unreadable(log_path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        raise RunFolderError(
            f"{log_path} is {kind_of(st.st_mode)}, not a regular file: a run's log must be one"
        )


# -------------------------------------------------------------------------------------
# Checkpoints


def latest_checkpoint(folder: str | Path) -> Path | None:
    steps = step_checkpoints(folder)
    return steps[-1] if steps else None


def find_model(path: str | Path) -> Path:
    """What a command that reads a model takes: a model file or a checkpoint as given; for
    a run folder, its model file, or while it trains (or after a crash) its newest
    checkpoint."""
    p = Path(path)
    if not p.is_dir():
        return p  # a file (or nothing): the model file reader says what is wrong with it
    if (p / GENERATOR).is_file():
        return p / GENERATOR
    if latest_checkpoint(p) is None and not (p / CHECKPOINTS / BEST).is_file():
        raise RunFolderError(
            f"{p}: a folder with no model in it (no {GENERATOR}, no checkpoint): give a "
            "model file, a checkpoint or a run folder"
        )
    return find_checkpoint(p)


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file given a checkpoint, or the newest one of a run folder."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise RunFolderError(f"{p}: no such file or folder") from None
    except OSError as exc:
        raise unreadable(p, exc) from None
    if stat.S_ISREG(st.st_mode):
        return p
    if not stat.S_ISDIR(st.st_mode):
        raise RunFolderError(
            f"{p} is {kind_of(st.st_mode)}: give a run folder or a checkpoint file"
        )
    latest = latest_checkpoint(p)
    if latest is None:
        if (p / CHECKPOINTS / BEST).is_file():
            return p / CHECKPOINTS / BEST
        hint = (
            " (it was made by an older version, which kept no resumable checkpoint)"
            if (p / "checkpoint.pt").exists()
            else ""
        )
        raise RunFolderError(f"{p}: no checkpoint to resume from in this folder{hint}")
    return latest


def checkpoint_home(checkpoint: str | Path) -> Path | None:
    """The folder a checkpoint file sits in as RUN/checkpoints/FILE (a run folder or what is
    left of one), if it sits like that."""
    p = Path(checkpoint).resolve()
    return p.parent.parent if p.parent.name == CHECKPOINTS else None


def holds_run(folder: str | Path) -> bool:
    """Whether a folder holds (part of) a run: its settings, log, model or checkpoints."""
    f = Path(folder)
    return (
        any((f / name).exists() for name in (CONFIG, METRICS, GENERATOR))
        or (f / CHECKPOINTS / BEST).exists()
        or bool(step_checkpoints(f))
    )


def same_folder(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same folder (through links, relative or not)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def run_folder_of(checkpoint: str | Path) -> Path | None:
    """The run folder a checkpoint file belongs to, if it sits in one."""
    home = checkpoint_home(checkpoint)
    return home if home is not None and (home / CONFIG).is_file() else None


# -------------------------------------------------------------------------------------
# Listing runs


@dataclass(frozen=True)
class RunSummary:
    folder: Path
    dataset: str
    model: str  # "dcgan nonsaturating"
    step: int
    total_steps: int
    status: str  # new | running | completed | stopped | failed | interrupted
    g_loss: float | None
    d_loss: float | None
    updated: float  # mtime of the newest log entry
    checkpoints: int


def summarize(folder: str | Path) -> RunSummary:
    """One line's worth of facts about a run folder (RunFolderError if it is not one, or
    a file in it cannot be read)."""
    f = Path(folder)
    doc = read_run_config(f)
    cfg = doc["config"]
    log_path = f / METRICS
    try:
        records = tail_metrics(log_path)
        updated = log_path.stat().st_mtime
    except FileNotFoundError:
        records = []
        updated = (f / CONFIG).stat().st_mtime
    except OSError as exc:
        raise unreadable(log_path, exc) from None
    train = [r for r in records if r.get("type") == "train"]
    last = train[-1] if train else {}
    status = "new"
    for r in reversed(records):
        if r.get("type") == "end":
            status = str(r.get("status", "ended"))
            break
        if r.get("type") in ("train", "resume"):
            break
    alive = holder_alive(f)  # the process that holds the folder's lock
    if alive:
        status = "running"
    elif status == "new" and records:
        if alive is False:  # its process is gone without ending the log
            status = "interrupted"
        else:  # no lock (an older version), or it cannot be told (another host)
            status = "running" if time.time() - updated < RUNNING_WITHIN else "interrupted"
    step = max((int(r.get("step", 0)) for r in records), default=0)
    dataset = doc.get("dataset") or {}
    g_loss, d_loss = last.get("g_loss"), last.get("d_loss")
    return RunSummary(
        folder=f,
        dataset=str(dataset.get("name") or cfg.get("dataset")),
        model=f"{cfg.get('arch')} {cfg.get('loss')}",
        step=step,
        total_steps=int(cfg.get("steps") or 0),
        status=status,
        g_loss=float(g_loss) if is_number(g_loss) else None,
        d_loss=float(d_loss) if is_number(d_loss) else None,
        updated=updated,
        checkpoints=len(step_checkpoints(f)) + int((f / CHECKPOINTS / BEST).is_file()),
    )


def scan_runs(root: str | Path, max_depth: int = 3) -> tuple[list[RunSummary], list[str]]:
    """Every run folder at or under ``root`` (newest first), and "FOLDER: why" for each one
    that could not be read (it is left out; one damaged folder never hides the others)."""
    root = Path(root)
    if not root.is_dir():
        raise RunFolderError(f"{root}: no such folder")
    found: list[RunSummary] = []
    problems: list[str] = []
    base_depth = len(root.parts)
    for here, dirs, files in os.walk(root):
        here_p = Path(here)
        if CONFIG in files and (METRICS in files or GENERATOR in files or CHECKPOINTS in dirs):
            try:
                found.append(summarize(here_p))
            except (RunFolderError, OSError) as exc:
                problems.append(f"{here_p}: {error_message(exc)}")
            dirs[:] = []  # a run folder holds no runs
            continue
        if len(here_p.parts) - base_depth >= max_depth:
            dirs[:] = []
        dirs[:] = [d for d in dirs if not d.startswith(".")]
    return sorted(found, key=lambda r: r.updated, reverse=True), problems


def list_runs(root: str | Path, max_depth: int = 3) -> list[RunSummary]:
    """Every run folder at or under ``root`` (newest first). Damaged ones are left out, with
    a logged warning."""
    runs, problems = scan_runs(root, max_depth)
    for problem in problems:
        log.warning("left out: %s", problem)
    return runs
