"""The command line: `ganstudio train`, `sample`, ...; plain `ganstudio` opens the window."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys

from ganstudio import __version__
from ganstudio.cli import runs as runs_cli
from ganstudio.cli.bench import cmd_bench
from ganstudio.cli.data import cmd_data_inspect
from ganstudio.cli.eval import register as register_eval
from ganstudio.cli.export import register as register_export
from ganstudio.cli.sample import cmd_sample
from ganstudio.cli.train import add_train_args, cmd_train

log = logging.getLogger("ganstudio")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganstudio",
        description="GAN Studio: train, watch and explore GANs. Without a command it opens "
        "the window; the commands below run the same engine headless.",
        epilog="Start with: ganstudio train --dataset builtin:ring8 --out runs/ring8",
    )
    p.add_argument("--version", action="version", version=f"GAN Studio {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
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
    s.add_argument(
        "model", help="a generator file (.safetensors) or a checkpoint from a run folder"
    )
    s.add_argument("--grid", default="8x8", help="ROWSxCOLS for an image grid (default 8x8)")
    s.add_argument(
        "--n",
        type=int,
        help="number of samples (default: rows*cols for images, 2500 for 2-D models)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--truncation", type=float, default=1.0, help="scale latents by psi")
    s.add_argument("--upscale", type=int, default=1, help="integer upscaling of grid images")
    s.add_argument("-o", "--output", required=True, help=".png picture or .npy raw samples")
    s.set_defaults(func=cmd_sample)

    b = sub.add_parser("bench", help="measure training speed, or mode coverage (--quality)")
    b.add_argument(
        "--quality",
        action="store_true",
        help="mode coverage on ring8 and grid25 over several seeds",
    )
    b.add_argument("--device", help="auto, cpu, cuda ...")
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--steps", type=int, default=0, help="timed steps per repeat / per run")
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--seeds", type=int, default=10)
    b.add_argument("--datasets", default="ring8,grid25")
    b.add_argument(
        "--prepare",
        action="store_true",
        help="time preparing a folder of PNGs (first time, then from the cache)",
    )
    b.add_argument("--n", type=int, default=10_000, help="pictures for --prepare")
    b.add_argument("--workers", type=int, help="decode threads for --prepare")
    b.add_argument(
        "--gui",
        action="store_true",
        help="the window's cost: startup time, training speed with the window against "
        "headless, event-loop stalls (--datasets picks one dataset, default ring8)",
    )
    b.add_argument("--seconds", type=float, default=10.0, help="timed seconds per --gui run")
    b.add_argument(
        "--metrics",
        action="store_true",
        help="what measuring quality during training costs: throughput with and without "
        "the monitor (--datasets picks one dataset, default digits; --seconds per run)",
    )
    b.add_argument(
        "--distributed",
        action="store_true",
        help="the distributed path's cost: a plain trainer against the same run as a torchrun "
        "job (alone: a job of 1 process; under torchrun: N processes, scaling efficiency); "
        "--datasets picks one dataset (default digits), --batch is the global batch",
    )
    b.add_argument(
        "--explorer",
        action="store_true",
        help="the explorer's latency on a DCGAN-64: slider move to picture, 8x8 grid",
    )
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("data", help="look at a dataset before training on it")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    i = dsub.add_parser(
        "inspect",
        help="count, sizes, modes, classes and skipped files; writes a preview grid",
        description="Prepare a dataset as training would (using the cache) and describe it.",
    )
    i.add_argument("path", help="folder, .zip/.tar archive, idx, CIFAR .bin, .npy/.npz or builtin:")
    i.add_argument("--size", type=int, help="prepared size: 28, 32, 64 or 128")
    i.add_argument("--mode", choices=("rgb", "gray"), help="default: rgb if any picture has colour")
    i.add_argument("--resize", choices=("center-crop", "stretch", "pad"))
    i.add_argument("--background", metavar="HEX", help="colour under transparency (ffffff)")
    i.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    i.add_argument("-o", "--output", help="preview PNG (default <name>-preview.png)")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    i.set_defaults(func=cmd_data_inspect)

    register_export(sub)
    register_eval(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # in a PyInstaller bundle, a spawn worker stops here
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        from ganstudio.gui.app import main as window_main

        return window_main()
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
