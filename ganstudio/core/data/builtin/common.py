"""What the built-in datasets share: size limits, option parsing, the seeded generator."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

MAX_POINTS = 2_000_000
MAX_IMAGES = 200_000

# ---------------------------------------------------------------------------------------------
# Option parsing


def shorten(text: str, limit: int = 60) -> str:
    """Text as quoted in a message: a value thousands of characters long is cut."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}... ({len(text):,} characters)"


def check_options(name: str, extra: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    """Reject option names the builder does not know, listing the ones it does."""
    if extra:
        unknown = ", ".join(repr(shorten(str(k))) for k in extra)
        raise ValueError(
            f"unknown option {unknown} for builtin:{name}; options are: {', '.join(allowed)}"
        )


def parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:  # also past Python's 4,300 digits
        raise ValueError(f"{name} must be a whole number, got {shorten(repr(value))}") from None


def parse_count(value: object, maximum: int) -> int:
    """The ``n`` option: a positive whole number no larger than ``maximum``."""
    n = parse_int("n", value)
    if not 1 <= n <= maximum:
        raise ValueError(f"n must be between 1 and {maximum:,}, got {shorten(str(n))}")
    return n


def seeded_generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


def uniform(g: torch.Generator, shape: tuple[int, ...], lo: float, hi: float) -> torch.Tensor:
    return torch.rand(shape, generator=g) * (hi - lo) + lo
