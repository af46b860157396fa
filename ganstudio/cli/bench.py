"""`ganstudio bench`: speed, mode coverage and picture-preparation benchmarks."""

from __future__ import annotations

import argparse

from ganstudio.cli.common import CLIError


def cmd_bench(args: argparse.Namespace) -> int:
    from ganstudio.bench import training as bench

    if args.distributed:
        from ganstudio.bench.distributed import distributed_table

        dataset = args.datasets if args.datasets != "ring8,grid25" else "digits"
        distributed_table(
            dataset=dataset if ":" in dataset else f"builtin:{dataset}",
            device=args.device or "auto",
            batch=args.batch,
            seconds=args.seconds,
            repeats=args.repeats,
            print_fn=print,
        )
    elif args.explorer:
        from ganstudio.bench.explorer import explorer_table

        explorer_table(seconds=min(args.seconds, 30.0), print_fn=print)
    elif args.gui:
        from ganstudio.bench.window import gui_table

        dataset = args.datasets if args.datasets != "ring8,grid25" else "ring8"
        gui_table(
            seconds=args.seconds,
            repeats=args.repeats,
            dataset=dataset if ":" in dataset else f"builtin:{dataset}",
            print_fn=print,
        )
    elif args.metrics:
        from ganstudio.bench.metrics import metrics_table

        dataset = args.datasets if args.datasets != "ring8,grid25" else "digits"
        metrics_table(
            dataset=dataset if ":" in dataset else f"builtin:{dataset}",
            seconds=args.seconds,
            repeats=args.repeats,
            print_fn=print,
        )
    elif args.prepare:
        from ganstudio.bench.prepare import prepare_table

        if args.n < 1:
            raise CLIError("--n must be positive")
        prepare_table(n=args.n, workers=args.workers, print_fn=print)
    elif args.quality:
        bench.quality_table(
            seeds=args.seeds, steps=args.steps, datasets=args.datasets.split(","), print_fn=print
        )
    else:
        bench.speed_table(
            device=args.device or "auto",
            batch=args.batch,
            steps=args.steps or None,
            repeats=args.repeats,
            print_fn=print,
        )
    return 0
