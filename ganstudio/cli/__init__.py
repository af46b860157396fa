"""The command line: `ganstudio train`, `sample`, ...; plain `ganstudio` opens the window,
and `ganstudio FILE_OR_FOLDER` opens the window on a model, run folder, export or dataset."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys

from ganstudio import __version__
from ganstudio.cli import runs as runs_cli
from ganstudio.cli.bench import register as register_bench
from ganstudio.cli.classes import add_class_options
from ganstudio.cli.common import Parser, float_range, int_range, setting
from ganstudio.cli.data import cmd_data_inspect
from ganstudio.cli.eval import register as register_eval
from ganstudio.cli.export import register as register_export
from ganstudio.cli.project import register as register_project
from ganstudio.cli.sample import MAX_SAMPLES, cmd_sample
from ganstudio.cli.train import add_train_args, cmd_train
from ganstudio.core.choices import PICTURE_SIZES
from ganstudio.core.opening import BUILTIN_PREFIX

log = logging.getLogger("ganstudio")

PREPARED_SIZES = PICTURE_SIZES  # core.data.prepare.SIZES (torch-free, like the choices)


def _threads(text: str) -> str:
    from ganstudio.core.threads import parse

    try:
        parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    return _parser_and_commands()[0]


def _parser_and_commands() -> tuple[argparse.ArgumentParser, tuple[str, ...]]:
    """The parser, and the names of its commands."""
    p = Parser(
        prog="ganstudio",
        description="GAN Studio: train, watch and explore GANs. Without a command it opens "
        "the window; the commands below run the same engine headless.",
        epilog="Start with: ganstudio train --dataset builtin:ring8 --out runs/ring8. "
        "`ganstudio FILE_OR_FOLDER` opens the window on a model file or checkpoint, a run "
        "folder, an export or a dataset (a file or folder named like a command: ./NAME); "
        "`ganstudio builtin:NAME` on a built-in dataset.",
    )
    p.add_argument("--version", action="version", version=f"GAN Studio {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    p.add_argument(
        "--threads",
        type=_threads,
        metavar="N|auto",
        help="CPU threads for PyTorch (default: the measured choice, see `bench --load`; "
        "auto: one per core, as PyTorch alone would; also GANSTUDIO_THREADS)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a GAN without the window",
        description="Train a GAN and write a run folder. Several GPUs or machines: start the "
        "same command under torchrun (torchrun --standalone --nproc-per-node N -m ganstudio "
        "train ...): one model, data-parallel; --batch-size is then the global batch.",
    )
    t.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    runs_cli.register(sub)

    s = sub.add_parser("sample", help="draw samples from a model file")
    s.add_argument("model", help="a generator file (.safetensors), a checkpoint, or a run folder")
    s.add_argument("--grid", default="8x8", help="ROWSxCOLS for an image grid (default 8x8)")
    s.add_argument(
        "--n",
        type=int_range(1, MAX_SAMPLES),
        help="number of samples (default: rows*cols for images, 2500 for 2-D models)",
    )
    s.add_argument("--seed", type=setting("seed"), default=0)
    s.add_argument(
        "--truncation",
        type=float_range(0, 1, low_open=True),
        default=1.0,
        help="scale latents by psi, in (0, 1] (1 = off)",
    )
    s.add_argument(
        "--upscale", type=int_range(1, 16), default=1, help="integer upscaling of grid images"
    )
    s.add_argument("-o", "--output", required=True, help=".png picture or .npy raw samples")
    add_class_options(s)
    s.set_defaults(func=cmd_sample)

    register_bench(sub)

    d = sub.add_parser("data", help="look at a dataset before training on it")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    i = dsub.add_parser(
        "inspect",
        help="count, sizes, modes, classes and skipped files; writes a preview grid",
        description="Prepare a dataset as training would (using the cache) and describe it.",
    )
    i.add_argument("path", help="folder, .zip/.tar archive, idx, CIFAR .bin, .npy/.npz or builtin:")
    i.add_argument(
        "--size",
        type=int,
        choices=PREPARED_SIZES,
        help=f"prepared size: {', '.join(map(str, PREPARED_SIZES[:-1]))} or {PREPARED_SIZES[-1]}",
    )
    i.add_argument("--mode", choices=("rgb", "gray"), help="default: rgb if any picture has colour")
    i.add_argument("--resize", choices=("center-crop", "stretch", "pad"))
    i.add_argument("--background", metavar="HEX", help="colour under transparency (ffffff)")
    i.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    i.add_argument("-o", "--output", help="preview PNG (default <name>-preview.png)")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    i.set_defaults(func=cmd_data_inspect)

    register_export(sub)
    register_eval(sub)
    register_project(sub)
    return p, tuple(sub.choices)


# Options of `ganstudio` itself that take a value (the next argument is not a path).
_VALUE_OPTIONS = ("--threads",)


def split_paths(argv: list[str], commands: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(the arguments for the parser, the paths to open): `ganstudio [OPTIONS] PATH ...`
    gives paths when its first positional argument is no command; a command always wins
    (a file named like one is opened as ./NAME)."""
    positions: list[int] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positions += range(i + 1, len(argv))
            break
        if arg.startswith("-") and arg != "-":
            takes_value = "=" not in arg and any(
                len(arg) > 2 and o.startswith(arg) for o in _VALUE_OPTIONS
            )
            i += 2 if takes_value else 1
            continue
        if arg in commands:
            return argv, []
        positions.append(i)
        i += 1
    if not positions:
        return argv, []
    paths = [argv[k] for k in positions]
    rest = [a for k, a in enumerate(argv) if k not in positions and a != "--"]
    return rest, paths


def _command_named_like_a_path(argv: list[str], commands: tuple[str, ...]) -> None:
    """`ganstudio train` where ./train exists: the command runs; say how to open the path."""
    from pathlib import Path

    names = [a for a in argv if not a.startswith("-")]
    if len(names) == 1 and names[0] in commands and Path(names[0]).exists():
        print(
            f"note: {names[0]} is a command; to open the file or folder named {names[0]} "
            f"instead, use: ganstudio ./{names[0]}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # in a PyInstaller bundle, a spawn worker stops here
    parser, commands = _parser_and_commands()
    given = sys.argv[1:] if argv is None else list(argv)
    given, paths = split_paths(given, commands)
    if not paths:
        _command_named_like_a_path(given, commands)
    try:
        args = parser.parse_args(given)
    except SystemExit as exc:  # a usage error (2, message printed) or --help / --version (0)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from ganstudio.core import allocator, threads

    allocator.configure()  # before PyTorch allocates anything (core.allocator)
    try:  # before anything loads PyTorch: OpenMP reads its wait policy once
        policy, explicit = threads.choose(args.threads)
    except ValueError as exc:  # a bad GANSTUDIO_THREADS
        print(f"error: {threads.ENV}: {exc}", file=sys.stderr)
        return 2
    threads.configure(policy, explicit)
    if args.command is None:
        # A typo: say so before the window (a built-in dataset's name, builtin:digits, is
        # checked by the window, which lists them).
        if paths and not paths[0].startswith(BUILTIN_PREFIX) and not os.path.exists(paths[0]):
            # A path that exists but is nothing the window opens is said in the window's
            # banner: opened from a file manager, nobody reads stderr.
            first = paths[0]
            if not any(c in first for c in "./\\"):  # a mistyped command, most likely
                print(
                    f"error: {first} is neither a command ({', '.join(commands)}) nor a file "
                    "or folder (see ganstudio --help)",
                    file=sys.stderr,
                )
            else:
                print(f"error: {first}: no such file or folder", file=sys.stderr)
            return 2
        from ganstudio.gui.app import main as window_main

        return window_main(open_paths=paths)
    from ganstudio.core.errors import UserError

    try:
        return args.func(args)
    except UserError as exc:  # CLIError, DatasetError, ModelFileError, ...: a usage error
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
