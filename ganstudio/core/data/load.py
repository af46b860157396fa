"""The front door of the data package: a spec (``builtin:NAME[?...]`` or ``PATH[?...]``)
becomes a Dataset."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from ganstudio.core.data.dataset import Dataset, DatasetError


def builtin_names() -> list[str]:
    from ganstudio.core.data.builtin import BUILTINS

    return [f"builtin:{n}" for n in BUILTINS]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """'builtin:shapes?size=64&n=20000' -> ('builtin:shapes', {'size': '64', 'n': '20000'})."""
    base, _, query = spec.partition("?")
    return base.strip(), dict(parse_qsl(query, keep_blank_values=True))


def load_dataset(
    spec: str,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    largest_auto_size: int | None = None,
) -> Dataset:
    """Load a dataset by its spec: ``builtin:NAME[?option=value&...]`` or ``PATH[?...]``.

    PATH is a folder of pictures, a zip or tar archive of them, an MNIST idx file, CIFAR
    binary batches (a file or their folder) or a NumPy .npy / .npz file; its options are
    ``size``, ``mode``, ``resize``, ``background``, ``cache`` and ``workers`` (see
    `ganstudio.core.data.files`). ``progress(done, total)`` is called while pictures are
    prepared (built-in datasets do not call it). ``largest_auto_size``: pictures given no
    ``size`` are prepared at most this large (default: core.data.prepare.DEFAULT_MAX_SIZE;
    `largest_auto_size(accelerator)` gives the device's).

    Raises DatasetError with a message naming the spec and what went wrong.
    """
    base, options = parse_spec(spec)
    if base.startswith("builtin:"):
        from ganstudio.core.data.builtin import BUILTINS
        from ganstudio.core.data.builtin.common import shorten

        name = base.removeprefix("builtin:")
        if name not in BUILTINS:
            raise DatasetError(
                f"unknown built-in dataset {shorten(base)!r}; choose one of: "
                f"{', '.join(builtin_names())}"
            )
        try:
            return BUILTINS[name](seed=seed, **options)
        except TypeError as exc:
            raise DatasetError(f"{shorten(spec, 100)}: bad option ({exc})") from None
        except ValueError as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(f"{shorten(spec, 100)}: {exc}") from None
    if not base:
        raise DatasetError(
            f"no dataset given; use a folder or file of pictures, or one of: "
            f"{', '.join(builtin_names())}"
        )
    from ganstudio.core.data.files import load_path

    if largest_auto_size is None:
        return load_path(base, options, progress=progress)
    return load_path(base, options, progress=progress, largest_auto_size=largest_auto_size)
