"""`ganstudio data inspect`: describe a dataset and write a preview grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganstudio.cli.common import dataset_name, load_with_progress


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    from ganstudio.core.data.load import parse_spec
    from ganstudio.core.data.summary import describe, preview
    from ganstudio.core.render import save_png

    base, options = parse_spec(args.path)
    for key in ("size", "mode", "resize", "background"):
        if getattr(args, key) is not None:
            options[key] = str(getattr(args, key))
    if args.no_cache:
        options["cache"] = "0"
    spec = f"{base}?{urlencode(options)}" if options else base
    dataset = load_with_progress(spec, 0, args.quiet)
    for line in describe(dataset):
        print(line)
    out = Path(args.output or f"{dataset_name(base)}-preview.png")
    save_png(out, preview(dataset), {"ganstudio.dataset": spec})
    print(f"preview:  {out}")
    return 0
