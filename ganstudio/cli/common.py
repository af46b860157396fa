"""Shared pieces of the command line: user errors, the parser and its number types, the
progress bar, dataset loading."""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from typing import TYPE_CHECKING, NoReturn, TextIO

from ganstudio.core.config import LIMITS, Range
from ganstudio.core.durations import format_duration as _fmt_time
from ganstudio.core.errors import UserError
from ganstudio.core.runs.layout import dataset_name  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    import torch

    from ganstudio.core.data.dataset import Dataset
    from ganstudio.core.modelfile import GeneratorFile


class CLIError(UserError):
    """A user error: printed as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, ``error: ...``, exit status 2, as a
    CLIError's are (its subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        # "argument --batch-size: must be ..." (a NumberArg's refusal) -> "--batch-size must be"
        ours = re.fullmatch(r"argument (\S+): (must .*)", message, flags=re.DOTALL)
        if ours:
            message = f"{ours.group(1)} {ours.group(2)}"
        else:
            message += f" (see {self.prog} --help)"
        self.exit(2, f"error: {message}\n")


class NumberArg:
    """An argparse ``type``: a number within a Range, refusing text that is not one, NaN,
    infinities and numbers out of range with a sentence that names the range."""

    def __init__(self, limit: Range) -> None:
        self.limit = limit

    def __repr__(self) -> str:
        return f"NumberArg({self.limit})"

    def __call__(self, text: str) -> int | float:
        value: int | float | None
        try:
            value = int(text) if self.limit.integer else float(text)
        except ValueError:  # also an int of more than 4,300 digits
            value = None
        if value is None or not self.limit.contains(value):
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"must be {self.limit.describe()}, not {shown!r}")
        return value


def int_range(low: int, high: int, note: str = "") -> NumberArg:
    """A whole number from ``low`` to ``high``, both included."""
    return NumberArg(Range(low, high, integer=True, note=note))


def float_range(
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    note: str = "",
) -> NumberArg:
    """A finite number from ``low`` to ``high``; an end is excluded when it is open."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"not a range: {low} to {high}")
    return NumberArg(Range(low, high, low_open=low_open, high_open=high_open, note=note))


def setting(name: str) -> NumberArg:
    """The range of the TrainConfig setting ``name`` (core.config.LIMITS), so that an option
    and a settings file refuse the same values."""
    return NumberArg(LIMITS[name])


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

    def update(
        self, step: int, text: str = "", force: bool = False, eta: float | None = None
    ) -> None:
        """Show ``step`` of the total; the time left is ``eta`` when the caller knows it
        better (training: core.durations.RemainingTime), else from the average rate."""
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
        if eta is None:
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


def load_model(path: str, device: str | torch.device = "cpu") -> GeneratorFile:
    """The generator of MODEL as every command takes it: a model file, a checkpoint, or a
    run folder (its model file, or its newest checkpoint while it trains)."""
    from ganstudio.core.modelfile import load_generator
    from ganstudio.core.runs.reader import find_model

    return load_generator(find_model(path), device)


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
