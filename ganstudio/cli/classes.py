"""`--class NAME` and `--classes A,B`: which classes a class-conditional model draws, for
`ganstudio sample` and `ganstudio export grid` / `export interpolation`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ganstudio.cli.common import CLIError

if TYPE_CHECKING:
    from ganstudio.core.modelfile import GeneratorFile


def add_class_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add --class and --classes (both default None) to a parser or group."""
    parser.add_argument(
        "--class",
        dest="class_name",
        metavar="NAME",
        help="a class-conditional model: draw only this class (its name or number)",
    )
    parser.add_argument(
        "--classes",
        dest="class_list",
        metavar="A,B,...",
        help="a class-conditional model: one grid row per class, cycling through these "
        "(default: all its classes)",
    )


def chosen_classes(gen: GeneratorFile, args: argparse.Namespace) -> list[int] | None:
    """The class numbers --class / --classes name (None: neither was given). CLIError for
    an unconditional model, an unknown name (listing the classes) or both options."""
    name, names = getattr(args, "class_name", None), getattr(args, "class_list", None)
    if name is None and names is None:
        return None
    option = "--class" if name is not None else "--classes"
    if name is not None and names is not None:
        raise CLIError("give either --class or --classes, not both")
    if not gen.classes:
        raise CLIError(
            f"{option}: this model is unconditional (trained without classes): it draws no "
            "classes; leave the option out"
        )
    listed = [n.strip() for n in str(names).split(",") if n.strip()]
    wanted = [name] if name is not None else listed
    if not wanted:
        raise CLIError(f"{option} needs at least one class name")
    return [class_index(gen.class_names, w, option) for w in wanted]


def class_index(names: tuple[str, ...], wanted: str, option: str = "--class") -> int:
    """The index of class ``wanted`` (its name, or its number when no class has that name)."""
    if wanted in names:
        return names.index(wanted)
    if wanted.isdigit() and int(wanted) < len(names):
        return int(wanted)
    raise CLIError(f"{option}: unknown class {wanted!r}; this model's classes: {', '.join(names)}")


def grid_classes(
    gen: GeneratorFile, chosen: list[int] | None, rows: int, cols: int
) -> list[int] | None:
    """The class of each cell of a rows x cols grid, row by row: one row per class (the
    chosen ones, else all, cycled); None for an unconditional model."""
    if not gen.classes:
        return None
    cycle = chosen if chosen is not None else list(range(gen.classes))
    return [cycle[r % len(cycle)] for r in range(rows) for _ in range(cols)]
