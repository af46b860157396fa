"""`ganstudio export`: a model file in a format for use outside the app (ONNX for now)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganstudio.cli.common import CLIError

# Output formats of `ganstudio export MODEL --FORMAT OUT`: option name -> what it writes.
# Other exports that are not a conversion of the model (a picture grid, an interpolation)
# can become `ganstudio export KIND MODEL ...` by adding an optional first positional
# (nargs="?", choices=KINDS) before "model": argparse gives a lone positional to "model".
FORMATS = {"onnx": ("OUT.onnx", "the generator as an ONNX model: input z, output samples")}


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `export` command to the CLI's subcommands; returns its parser."""
    e = sub.add_parser(
        "export",
        help="export a model file for use outside the app (ONNX)",
        description="Convert a generator file into a format other programs can run.",
        epilog="Example: ganstudio export runs/ring8/generator.safetensors --onnx ring8.onnx. "
        'ONNX export needs the optional packages: pip install "ganstudio[onnx]".',
    )
    e.add_argument("model", metavar="MODEL", help="a generator file or checkpoint (.safetensors)")
    e.add_argument("--onnx", metavar="OUT.onnx", help="write the generator as an ONNX model")
    e.add_argument(
        "--opset",
        type=int,
        metavar="N",
        help="ONNX opset version (default 17; 9 to 20)",
    )
    e.set_defaults(func=cmd_export)
    return e


def cmd_export(args: argparse.Namespace) -> int:
    from ganstudio.core import onnx_export
    from ganstudio.core.modelfile import load_generator

    if args.onnx is None:
        formats = "; ".join(f"--{name} {meta} ({text})" for name, (meta, text) in FORMATS.items())
        raise CLIError(f"choose an output format: {formats}")
    if args.opset is not None:
        try:
            onnx_export.check_opset(args.opset)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    out = Path(args.onnx)
    if out.is_dir():
        raise CLIError(f"{out}: is a folder; give a file name such as {out / 'model.onnx'}")
    gen = load_generator(args.model)
    onnx_export.export_onnx(gen, out, opset=args.opset)
    print(f"wrote {out}", file=sys.stderr)
    return 0
