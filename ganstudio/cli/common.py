"""Shared pieces of the command line: user errors, the progress bar, dataset loading."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from ganstudio.core.durations import format_duration as _fmt_time
from ganstudio.core.errors import UserError
from ganstudio.core.runs.layout import dataset_name  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from ganstudio.core.data.dataset import Dataset


class CLIError(UserError):
    """A user error: printed as one line on stderr, exit status 2."""


class Progress:
    """A one-line progress bar with ETA on a terminal; a line every few seconds otherwise."""

    def __init__(
        self, total: int, stream: TextIO = sys.stderr, enabled: bool = True, label: str = "step"
    ) -> None:
        self.total = max(1, total)
        self.label = label
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self.start_step: int | None = None
        self._last_print = 0.0
        self.extra = ""

    def update(self, step: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.start_step is None:
            self.start_step = step
            self.start = now
        if not force and now - self._last_print < (0.2 if self.tty else 10.0):
            return
        self._last_print = now
        done = step - self.start_step
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        frac = min(1.0, step / self.total)
        bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
        line = (
            f"{self.label} {step}/{self.total} [{bar}] {frac:4.0%} "
            f"{_fmt_time(now - self.start)}<{_fmt_time(eta)}  {text}{self.extra}"
        )
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def load_with_progress(spec: str, seed: int, quiet: bool) -> Dataset:
    """load_dataset with a progress bar while pictures are prepared."""
    from ganstudio.core.data import load_dataset

    bar: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(Progress(total, enabled=not quiet, label="images"))
        bar[0].update(done, force=done >= total)

    try:
        return load_dataset(spec, seed=seed, progress=progress)
    finally:
        if bar:
            bar[0].close()


def parse_grid(text: str) -> tuple[int, int]:
    try:
        r, c = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"--grid takes ROWSxCOLS, e.g. 8x8, not {text!r}") from None
    if not (0 < r <= 64 and 0 < c <= 64):
        raise CLIError("--grid rows and columns must be between 1 and 64")
    return r, c
