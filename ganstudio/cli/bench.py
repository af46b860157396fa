"""`ganstudio bench`: training speed (the default), and with one mode option: mode coverage,
picture preparation, the window's cost, the explorer's and the curves' speed, the quality
monitor's cost, the distributed path's cost, the picture quality of training recipes. Every
mode prints a table; none asserts."""

from __future__ import annotations

import argparse

from ganstudio.cli.common import CLIError, float_range, int_range, setting

# One --datasets default per mode that reads it.
_DATASETS = {
    "quality": "ring8,grid25",
    "gui": "ring8,digits",
    "metrics": "digits",
    "distributed": "digits",
    "load": "ring8",
    "allocator": "digits,ring8",
    "optimizer": "ring8,digits",
    "images": "digits",
    "projection": "digits",
}


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `bench` command to the CLI's subcommands; returns its parser."""
    b = sub.add_parser(
        "bench",
        help="measure training speed, or (one mode option) another part of the program",
        description="Benchmarks that print tables. Without a mode option: our training step "
        "against the pytorch/examples DCGAN loop. The window benchmarks (--gui, --explorer, "
        "--curves) draw on your display; without one they run offscreen, where Qt paints "
        "nothing, and mark their numbers as not representative.",
    )
    modes = b.add_mutually_exclusive_group()
    modes.add_argument(
        "--quality",
        action="store_true",
        help="mode coverage on the 2-D mixtures over several seeds (--datasets, default "
        "ring8,grid25; --seeds; --steps per run; --workers processes)",
    )
    modes.add_argument(
        "--prepare",
        action="store_true",
        help="time preparing a folder of PNGs (first time, then from the cache; --n, --workers)",
    )
    modes.add_argument(
        "--gui",
        action="store_true",
        help="the window's cost: startup time (--launches), training speed with the window "
        "against headless (--repeats runs of --warmup + --seconds), event-loop stalls "
        "(--datasets picks one dataset, default ring8)",
    )
    modes.add_argument(
        "--metrics",
        action="store_true",
        help="what measuring quality during training costs: throughput with and without "
        "the monitor (--datasets picks one dataset, default digits; --seconds per run; "
        "--repeats; --feature-steps)",
    )
    modes.add_argument(
        "--distributed",
        action="store_true",
        help="the distributed path's cost: a plain trainer against the same run as a torchrun "
        "job (alone: a job of 1 process; under torchrun: N processes, scaling efficiency); "
        "--datasets picks one dataset (default digits), --batch is the global batch, "
        "--seconds or --steps per timing",
    )
    modes.add_argument(
        "--explorer",
        action="store_true",
        help="the explorer's latency on a DCGAN-64: slider move to picture (--seconds of "
        "dragging, default 5, at most 30), 8x8 grid",
    )
    modes.add_argument(
        "--allocator",
        action="store_true",
        help="training speed and page faults with GAN Studio's C allocator settings against "
        "the C library's defaults (glibc; fresh processes in alternating pairs); --datasets "
        "(default digits,ring8), --seconds per measurement (default 8), --repeats (default 3)",
    )
    modes.add_argument(
        "--optimizer",
        action="store_true",
        help="training speed with each of PyTorch's Adam implementations (fused, foreach, "
        "the per-tensor loop), taking turns in one process; --datasets (default "
        "ring8,digits), --seconds per turn (default 4), --repeats (default 5), --device",
    )
    modes.add_argument(
        "--load",
        action="store_true",
        help="training speed idle and beside --busy spinning cores, for each CPU thread "
        "policy (how the default of --threads was chosen); --datasets (default ring8), "
        "--seconds per measurement (default 8), --repeats (default 2)",
    )
    modes.add_argument(
        "--images",
        action="store_true",
        help="which training recipe makes the best pictures in the same time: each of "
        "--recipes (default all) trains for --minutes (default 5) on each of --datasets "
        "(default digits), then FD, KID, precision, recall and the class score of its EMA "
        "samples (--samples) against the real data and its floor; --out writes the table "
        "as JSON",
    )
    modes.add_argument(
        "--projection",
        action="store_true",
        help="how near projecting a picture into the latent space comes: hold out --n "
        "pictures (default 16) of --datasets (default digits), train --model (dcgan or "
        "fastgan, --width) for --minutes (default 3) on the rest, or take --model FILE; "
        "project the held-out pictures and --n generated ones (--steps, default 300) and "
        "compare with the nearest of --samples random samples (default 10,000) and the "
        "nearest training picture",
    )
    modes.add_argument(
        "--curves",
        action="store_true",
        help="the loss curves' redraw and paint times holding --n points per curve "
        "(default 1,000,000)",
    )
    b.add_argument("--device", help="auto, cpu, cuda ... (training speed, --distributed, --images)")
    b.add_argument(
        "--model",
        default="dcgan",
        metavar="dcgan|fastgan",
        help="training speed of DCGAN-64 against pytorch/examples (default), or of FastGAN-64 "
        "against a plain PyTorch loop of the same networks; --projection: the network to "
        "train, or a model FILE",
    )
    b.add_argument(
        "--width",
        type=int_range(1, 256),
        help="FastGAN's base channels for the training speed (default 64 on a GPU, 16 on the CPU)",
    )
    b.add_argument(
        "--batch",
        type=setting("batch_size"),
        default=64,
        help="batch size (training speed, --distributed; default 64)",
    )
    b.add_argument(
        "--steps",
        type=int_range(0, 10**9, note="0 = the mode's default"),
        default=0,
        help="timed steps per repeat (training speed, --distributed) or per run (--quality)",
    )
    b.add_argument(
        "--repeats",
        type=int_range(1, 1000),
        help="repeats of each timing (default 3; --load: 2)",
    )
    b.add_argument(
        "--seeds", type=int_range(1, 1000), default=10, help="seeds per dataset for --quality"
    )
    b.add_argument(
        "--datasets", help="dataset(s), built-in names or sources (default: the mode's own)"
    )
    b.add_argument(
        "--n",
        type=int_range(1, 10**8),
        help="pictures for --prepare (default 10,000), points for --curves",
    )
    b.add_argument(
        "--workers",
        type=int_range(1, 1024),
        help="decode threads for --prepare, processes for --quality",
    )
    b.add_argument(
        "--seconds",
        type=float_range(0, 86_400, low_open=True),
        help="timed seconds per run (--gui, --metrics, --distributed: default 10; --explorer: 5)",
    )
    b.add_argument(
        "--busy",
        type=int_range(1, 256),
        default=1,
        help="cores kept busy beside training for --load and --gui (default 1)",
    )
    b.add_argument(
        "--warmup",
        type=float_range(0, 3600),
        default=2.0,
        help="untimed seconds before each timed --gui run (default 2)",
    )
    b.add_argument(
        "--eta-seconds",
        type=float_range(0, 3600),
        default=40.0,
        metavar="S",
        help="--gui: the length of the run to the end whose ETA is checked (default 40; 0: none)",
    )
    b.add_argument(
        "--launches",
        type=int_range(0, 100),
        default=3,
        help="timed launches of `ganstudio` for --gui (default 3; 0: none)",
    )
    b.add_argument(
        "--feature-steps",
        type=int_range(1, 10**6),
        metavar="N",
        help="training steps of the feature extractor of --metrics and --images (default: "
        "its own, 400 for a classifier; fewer make a quick, rougher check)",
    )
    b.add_argument(
        "--minutes",
        type=setting("minutes"),
        metavar="M",
        help="minutes of training per recipe for --images (default 5)",
    )
    b.add_argument(
        "--recipes",
        metavar="A,B,...",
        help="the --images recipes to compare (default: all of dcgan, dcgan-hinge, "
        "dcgan-rpgan, fastgan-hinge, fastgan-rpgan; see ganstudio/bench/images.py)",
    )
    b.add_argument(
        "--samples",
        type=int_range(20, 10**6),
        metavar="N",
        help="generated (and real) samples per --images measurement (default 1,000, as "
        "while training)",
    )
    b.add_argument("--out", metavar="FILE.json", help="also write the --images table as JSON")
    b.set_defaults(func=cmd_bench)
    return b


def _datasets(args: argparse.Namespace, mode: str) -> list[str]:
    """The mode's datasets (--datasets A,B,...) as sources (a built-in name becomes
    builtin:NAME)."""
    names = [n.strip() for n in (args.datasets or _DATASETS[mode]).split(",") if n.strip()]
    if not names:
        raise CLIError("--datasets names no dataset")
    return [n if ":" in n else f"builtin:{n}" for n in names]


def _one_dataset(args: argparse.Namespace, mode: str) -> str:
    """The mode's one dataset as a source (a built-in name becomes builtin:NAME)."""
    names = _datasets(args, mode)
    if len(names) > 1:
        raise CLIError(f"--{mode} takes one dataset, not {args.datasets!r}")
    return names[0]


def cmd_bench(args: argparse.Namespace) -> int:
    seconds = 10.0 if args.seconds is None else args.seconds
    repeats = args.repeats if args.repeats is not None else (2 if args.load else 3)
    if args.allocator:
        from ganstudio.bench.load import allocator_table

        print(
            allocator_table(
                datasets=_datasets(args, "allocator"),
                seconds=8.0 if args.seconds is None else args.seconds,
                repeats=repeats,
            )
        )
    elif args.optimizer:
        from ganstudio.bench.optimizer import optimizer_table

        print(
            optimizer_table(
                datasets=_datasets(args, "optimizer"),
                device=args.device or "cpu",
                seconds=4.0 if args.seconds is None else args.seconds,
                repeats=5 if args.repeats is None else args.repeats,
            )
        )
    elif args.distributed:
        from ganstudio.bench.distributed import distributed_table

        distributed_table(
            dataset=_one_dataset(args, "distributed"),
            device=args.device or "auto",
            batch=args.batch,
            seconds=seconds,
            repeats=repeats,
            steps=args.steps or None,
            print_fn=print,
        )
    elif args.load:
        from ganstudio.bench.load import load_table

        print(
            load_table(
                datasets=_datasets(args, "load"),
                seconds=8.0 if args.seconds is None else args.seconds,
                repeats=repeats,
                busy=args.busy,
            )
        )
    elif args.explorer:
        from ganstudio.bench.explorer import explorer_table

        explorer_table(
            seconds=min(5.0 if args.seconds is None else args.seconds, 30.0), print_fn=print
        )
    elif args.images:
        from ganstudio.bench.images import DEFAULT_MINUTES, images_table

        recipes = None if args.recipes is None else [r.strip() for r in args.recipes.split(",")]
        images_table(  # an unknown recipe or a dataset of points: a UserError, one line
            datasets=_datasets(args, "images"),
            minutes=DEFAULT_MINUTES if args.minutes is None else args.minutes,
            recipes=recipes,
            samples=args.samples or 1000,
            device=args.device or "auto",
            feature_steps=args.feature_steps,
            out=args.out,
            print_fn=print,
        )
    elif args.projection:
        from ganstudio.bench.projection import DEFAULT_MINUTES as PROJECTION_MINUTES
        from ganstudio.bench.projection import projection_table

        projection_table(  # a dataset or model of points: a UserError, one line
            model=args.model,
            dataset=_one_dataset(args, "projection"),
            minutes=PROJECTION_MINUTES if args.minutes is None else args.minutes,
            width=args.width,
            n=min(args.n or 16, 1000),
            steps=args.steps or 300,
            samples=args.samples or 10_000,
            feature_steps=args.feature_steps,
            device=args.device or "cpu",
            print_fn=print,
        )
    elif args.curves:
        from ganstudio.bench.curves import curves_benchmark

        curves_benchmark(points=args.n or 1_000_000, print_fn=print)
    elif args.gui:
        from ganstudio.bench.window import gui_table

        gui_table(
            seconds=seconds,
            warmup=args.warmup,
            repeats=repeats,
            datasets=_datasets(args, "gui"),
            launches=args.launches,
            busy=args.busy,
            eta_seconds=args.eta_seconds,
            print_fn=print,
        )
    elif args.metrics:
        from ganstudio.bench.metrics import metrics_table

        metrics_table(
            dataset=_one_dataset(args, "metrics"),
            seconds=seconds,
            repeats=repeats,
            feature_steps=args.feature_steps,
            print_fn=print,
        )
    elif args.prepare:
        from ganstudio.bench.prepare import prepare_table

        prepare_table(n=args.n or 10_000, workers=args.workers, print_fn=print)
    elif args.quality:
        from ganstudio.bench import training

        training.quality_table(
            seeds=args.seeds,
            steps=args.steps or None,
            datasets=(args.datasets or _DATASETS["quality"]).split(","),
            workers=args.workers,
            print_fn=print,
        )
    else:
        from ganstudio.bench import training

        if args.model not in ("dcgan", "fastgan"):
            raise CLIError(f"--model must be dcgan or fastgan, not {args.model!r}")
        training.speed_table(
            device=args.device or "auto",
            batch=args.batch,
            steps=args.steps or None,
            repeats=repeats,
            print_fn=print,
            arch=args.model,
            width=args.width,
        )
    return 0
