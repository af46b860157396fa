"""`ganstudio export`: a model in another format (ONNX), or pictures and animations that
carry their provenance (`export grid`, `export interpolation`), re-rendered with
`export reproduce`, or a labelled synthetic dataset of PNG files (`export dataset`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganstudio.cli.classes import add_class_options, chosen_classes, grid_classes
from ganstudio.cli.common import (
    CLIError,
    float_range,
    int_range,
    load_model,
    parse_grid,
    setting,
)
from ganstudio.core.config import LIMITS, short_repr

if TYPE_CHECKING:
    from ganstudio.core.modelfile import GeneratorFile

# Output formats of `ganstudio export MODEL --FORMAT OUT`: option name -> what it writes.
FORMATS = {"onnx": ("OUT.onnx", "the generator as an ONNX model: input z, output samples")}
# `ganstudio export KIND MODEL ...`: an optional first positional (argparse gives a lone
# positional to "model", so `ganstudio export MODEL --onnx OUT` keeps working).
KINDS = ("grid", "interpolation", "reproduce", "dataset")

# Options of each kind, with their defaults; an option given to a kind that does not use
# it is an error rather than silently ignored.
_GRID: dict[str, object] = {
    "grid": "8x8",
    "seed": 0,
    "truncation": 1.0,
    "padding": 2,
    "background": "202020",
}
_INTERPOLATION: dict[str, object] = {
    "seeds": None,
    "steps": 24,
    "mode": "slerp",
    "easing": "linear",
    "fps": 24.0,
    "loop": False,
    "truncation": 1.0,
}
_CLASSES: dict[str, object] = {"class_name": None, "class_list": None}  # cli.classes
OPTIONS: dict[str | None, dict[str, object]] = {
    None: {"onnx": None, "opset": None},
    "grid": _GRID | _CLASSES | {"upscale": 1, "output": None},
    "interpolation": _INTERPOLATION | _CLASSES | {"upscale": 1, "output": None},
    "reproduce": {"model_file": None, "any_model": False, "output": None},
    "dataset": {
        "n": None,
        "per_class": None,
        "seed": 0,
        "truncation": 1.0,
        "overwrite": False,
        "quiet": False,
        "output": None,
    },
}
_ALL_OPTIONS = sorted({name for options in OPTIONS.values() for name in options})

MAX_FRAMES = 10_000
# onnx_export.MIN_OPSET..MAX_OPSET (that module imports torch; the parser must not).
OPSETS = (9, 20)
# GIF frames last at most 655.35 s; below 0.1 frames per second nobody watches.
FPS = (0.1, 120.0)
MAX_UPSCALE = 16
MAX_PADDING = 64
SEEDS = LIMITS["seed"]
MAX_DATASET_PICTURES = 100_000  # core.explore.dataset_export.MAX_PICTURES (torch-free here)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `export` command to the CLI's subcommands; returns its parser."""
    e = sub.add_parser(
        "export",
        help="export a model (ONNX), an image grid or an interpolation animation",
        description="Convert a generator file into a format other programs can run "
        "(MODEL --onnx OUT), or export pictures that remember how they were made: "
        "`export grid MODEL -o grid.png`, `export interpolation MODEL --seeds 1,2,3 -o "
        "walk.gif`, and `export reproduce EXPORT --model MODEL -o OUT` to render an export "
        "again from its provenance; `export dataset MODEL --n 1000 -o FOLDER` writes a "
        "synthetic dataset (PNG files, one subfolder per class, and manifest.json).",
        epilog="Examples: ganstudio export runs/ring8/generator.safetensors --onnx ring8.onnx; "
        "ganstudio export grid runs/digits/generator.safetensors --grid 8x8 --seed 0 -o "
        'grid.png. ONNX export needs the optional packages: pip install "ganstudio[onnx]"; '
        "MP4 needs imageio with imageio-ffmpeg, or av.",
    )
    e.add_argument(
        "kind",
        nargs="?",
        choices=KINDS,
        metavar="KIND",
        help=f"what to export: {', '.join(KINDS)} (leave out for a model format such as --onnx)",
    )
    e.add_argument(
        "model",
        metavar="MODEL",
        help="a generator file, a checkpoint or a run folder; for reproduce, the EXPORT",
    )
    e.add_argument("--onnx", metavar="OUT.onnx", help="write the generator as an ONNX model")
    e.add_argument(
        "--opset",
        type=int_range(*OPSETS),
        metavar="N",
        help="ONNX opset version (default 17; 9 to 20)",
    )
    e.add_argument(
        "-o", "--output", metavar="OUT", help="grid .png, .gif/.webp/.mp4, or a dataset FOLDER"
    )
    g = e.add_argument_group("grid")
    g.add_argument("--grid", metavar="RxC", help="rows x columns (default 8x8)")
    g.add_argument(
        "--seed",
        type=setting("seed"),
        metavar="S",
        help="seeds S, S+1, ... one per cell or picture (0)",
    )
    g.add_argument(
        "--padding",
        type=int_range(0, MAX_PADDING),
        metavar="PX",
        help="pixels between cells (2)",
    )
    g.add_argument("--background", metavar="HEX", help="colour between cells (202020)")
    a = e.add_argument_group("interpolation")
    a.add_argument("--seeds", metavar="S1,S2,...", help="keyframe seeds, at least 2")
    a.add_argument(
        "--steps",
        type=int_range(1, MAX_FRAMES),
        metavar="N",
        help="frames per keyframe segment (24)",
    )
    a.add_argument("--mode", choices=("slerp", "lerp"), help="interpolation (slerp)")
    a.add_argument(
        "--easing",
        choices=("linear", "ease-in-out", "ease-in", "ease-out"),
        help="pacing within each segment (linear)",
    )
    a.add_argument(
        "--fps", type=float_range(*FPS), metavar="F", help="frames per second (24; 0.1-120)"
    )
    a.add_argument(
        "--loop",
        action="store_true",
        default=None,
        help="return to the first keyframe and loop forever (default: play once)",
    )
    add_class_options(e.add_argument_group("grid and interpolation of a class-conditional model"))
    both = e.add_argument_group("grid, interpolation and dataset")
    both.add_argument(
        "--truncation",
        type=float_range(0, 1, low_open=True),
        metavar="PSI",
        help="in (0, 1]; 1 = off",
    )
    both.add_argument(
        "--upscale",
        type=int_range(1, MAX_UPSCALE),
        metavar="K",
        help="integer pixel scaling (1)",
    )
    ds = e.add_argument_group("dataset")
    ds.add_argument(
        "--n",
        type=int_range(1, MAX_DATASET_PICTURES),
        metavar="N",
        help=f"pictures in all (1 to {MAX_DATASET_PICTURES:,}; with classes, shared evenly)",
    )
    ds.add_argument(
        "--per-class",
        type=int_range(1, MAX_DATASET_PICTURES),
        metavar="K",
        help="pictures of each class (a model with classes)",
    )
    ds.add_argument(
        "--overwrite",
        action="store_true",
        default=None,
        help="write into a folder that is not empty (an earlier dataset export there is replaced)",
    )
    ds.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress bar")
    r = e.add_argument_group("reproduce")
    r.add_argument("--model", dest="model_file", metavar="MODEL", help="the model to render with")
    r.add_argument(
        "--any-model",
        action="store_true",
        default=None,
        help="render even when MODEL is not the model the export was made with",
    )
    e.set_defaults(func=cmd_export)
    return e


def _option_name(name: str) -> str:
    return {
        "model_file": "--model",
        "output": "-o/--output",
        "quiet": "-q/--quiet",
        "class_name": "--class",
        "class_list": "--classes",
    }.get(name, "--" + name.replace("_", "-"))


def _settle_options(args: argparse.Namespace) -> None:
    """Refuse options the chosen kind does not use; fill in the kind's defaults."""
    allowed = OPTIONS[args.kind]
    for name in _ALL_OPTIONS:
        if getattr(args, name) is not None and name not in allowed:
            what = f"export {args.kind}" if args.kind else "export MODEL --onnx OUT"
            hint = "" if args.kind else f" (for pictures: ganstudio export {{{','.join(KINDS)}}})"
            raise CLIError(f"{_option_name(name)} does not apply to `ganstudio {what}`{hint}")
    for name, default in allowed.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def cmd_export(args: argparse.Namespace) -> int:
    if args.kind is None and args.model in KINDS:
        what = "EXPORT" if args.model == "reproduce" else "MODEL"
        raise CLIError(f"give the {what} file after `ganstudio export {args.model}`")
    _settle_options(args)
    if args.kind is None:
        return _export_model(args)
    from ganstudio.core.explore.exports import ExportError

    try:
        if args.kind == "reproduce":
            return _reproduce(args)
        if args.kind == "dataset":
            return _export_dataset(args)
        return _export_kind(args)
    except ExportError as exc:
        raise CLIError(str(exc)) from None


def _export_model(args: argparse.Namespace) -> int:
    from ganstudio.core.explore import onnx_export

    if args.onnx is None:
        formats = "; ".join(f"--{name} {meta} ({text})" for name, (meta, text) in FORMATS.items())
        raise CLIError(
            f"choose an output format: {formats}; or an export kind: "
            f"ganstudio export {{{','.join(KINDS)}}} ..."
        )
    if args.opset is not None:
        try:
            onnx_export.check_opset(args.opset)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    out = Path(args.onnx)
    if out.is_dir():
        raise CLIError(f"{out}: is a folder; give a file name such as {out / 'model.onnx'}")
    gen = load_model(args.model)
    onnx_export.export_onnx(gen, out, opset=args.opset)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _output(args: argparse.Namespace, suffixes: tuple[str, ...]) -> Path:
    if args.output is None:
        raise CLIError(f"give the output file with -o OUT ({', '.join(suffixes)})")
    out = Path(args.output)
    if out.is_dir():
        raise CLIError(f"{out}: is a folder; give a file name such as {out / ('x' + suffixes[0])}")
    if out.suffix.lower() not in suffixes:
        raise CLIError(f"{out}: the output must end in {' or '.join(suffixes)}")
    return out


def _whole(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise CLIError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CLIError(f"--seeds takes whole numbers separated by commas, not {text!r}") from None
    if len(seeds) < 2:
        raise CLIError("--seeds needs at least 2 keyframe seeds, e.g. --seeds 1,2,3")
    bad = [s for s in seeds if not SEEDS.contains(s)]
    if bad:
        raise CLIError(f"--seeds must each be {SEEDS.describe()}, not {short_repr(bad[0])}")
    return seeds


def _export_kind(args: argparse.Namespace) -> int:
    from ganstudio.core.explore import exports

    if not 0 < args.truncation <= 1:
        raise CLIError(f"--truncation must be in (0, 1] (1 = off), not {args.truncation:g}")
    upscale = _whole(args.upscale, "--upscale", 1, MAX_UPSCALE)
    if args.kind == "grid":
        out = _output(args, exports.PICTURE_SUFFIXES)
        rows, cols = parse_grid(args.grid)
        if args.seed + rows * cols - 1 > SEEDS.high:
            raise CLIError(
                f"--seed {args.seed} with {rows * cols} cells would use seeds past "
                f"{int(SEEDS.high)}: give a --seed of at most {int(SEEDS.high) - rows * cols + 1}"
            )
        padding = _whole(args.padding, "--padding", 0, MAX_PADDING)
        try:
            background = exports.parse_colour(args.background)
        except ValueError as exc:
            raise CLIError(f"--background: {exc}") from None
        gen = _load_image_model(args.model)
        prov = exports.grid_provenance(
            gen,
            rows,
            cols,
            seeds=range(args.seed, args.seed + rows * cols),
            truncation=args.truncation,
            padding=padding,
            background=background,
            upscale=upscale,
            classes=grid_classes(gen, chosen_classes(gen, args), rows, cols),
        )
    else:
        if args.seeds is None:
            raise CLIError("give the keyframe seeds with --seeds, e.g. --seeds 1,2,3")
        seeds = _parse_seeds(args.seeds)
        steps = _whole(args.steps, "--steps", 1, MAX_FRAMES)
        if not FPS[0] <= args.fps <= FPS[1]:
            raise CLIError(f"--fps must be between {FPS[0]:g} and {FPS[1]:g}, not {args.fps:g}")
        frames = steps * (len(seeds) if args.loop else len(seeds) - 1) + (not args.loop)
        if frames > MAX_FRAMES:
            raise CLIError(f"{frames} frames is too many (at most {MAX_FRAMES}); use fewer --steps")
        out = _output(args, exports.ANIMATION_SUFFIXES)
        exports.animation_format(out)  # MP4 without an encoder: say so before loading
        gen = _load_image_model(args.model)
        chosen = chosen_classes(gen, args)
        if chosen is not None and len(chosen) > 1:
            raise CLIError("an interpolation draws one class: give --class NAME")
        if gen.classes and chosen is None:
            chosen = [0]  # every frame draws one class: the first unless --class says
        prov = exports.interpolation_provenance(
            gen,
            classes=chosen,
            seeds=seeds,
            steps=steps,
            mode=args.mode,
            easing=args.easing,
            loop=args.loop,
            fps=args.fps,
            truncation=args.truncation,
            upscale=upscale,
        )
    exports.write_export(out, gen, prov)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _load_image_model(path: str) -> GeneratorFile:
    from ganstudio.core.explore.exports import NOT_FOR_POINTS

    gen = load_model(path)
    if not gen.is_image:
        raise CLIError(f"{path}: {NOT_FOR_POINTS}")
    return gen


def _reproduce(args: argparse.Namespace) -> int:
    from ganstudio.core.explore import exports

    prov = exports.read_provenance(args.model)
    if args.model_file is None:
        raise CLIError(
            f"give the model to render with: --model MODEL (the export was made with model "
            f"{prov['model_hash'] or '?'})"
        )
    suffixes = (
        exports.ANIMATION_SUFFIXES if prov["kind"] == "interpolation" else exports.PICTURE_SUFFIXES
    )
    out = _output(args, suffixes)
    if out.resolve() == Path(args.model).resolve():
        raise CLIError(f"{out}: is the export itself; give another output file")
    gen = _load_image_model(args.model_file)
    if not exports.model_matches(gen, prov):
        if not args.any_model:
            raise CLIError(
                f"{args.model_file} is model {gen.meta.get('content_hash', '?')}, but "
                f"{args.model} was made with model {prov['model_hash'] or '?'}: the pictures "
                "would differ (add --any-model to render it with this model anyway)"
            )
        prov = prov | {"model_hash": str(gen.meta.get("content_hash", ""))}
    exports.write_export(out, gen, prov)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _export_dataset(args: argparse.Namespace) -> int:
    from ganstudio.cli.common import Progress
    from ganstudio.core.explore import dataset_export

    if args.output is None:
        raise CLIError("give the dataset folder with -o FOLDER")
    if args.n is None and args.per_class is None:
        raise CLIError(
            "give the number of pictures with --n N (or --per-class K for a model with classes)"
        )
    gen = _load_image_model(args.model)
    try:
        plan = dataset_export.plan_export(
            gen,
            args.output,
            n=args.n,
            per_class=args.per_class,
            truncation=args.truncation,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except dataset_export.DatasetExportError as exc:
        raise CLIError(str(exc)) from None
    if not args.quiet:
        print(f"{plan.folder}: {plan.describe()}", file=sys.stderr)
    bar = Progress(plan.total, enabled=not args.quiet, label="pictures")
    try:
        result = dataset_export.export_dataset(
            gen, plan, lambda done, total: bar.update(done, force=done >= total)
        )
    except KeyboardInterrupt:
        bar.close()
        manifest = plan.folder / dataset_export.MANIFEST
        print(
            f"stopped: {manifest} lists the pictures written before the interruption",
            file=sys.stderr,
        )
        return 130
    bar.close()
    print(f"wrote {result.written:,} pictures and {result.manifest_path}", file=sys.stderr)
    return 0
