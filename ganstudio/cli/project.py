"""`ganstudio project`: find the latent whose sample looks most like a picture, and save it
with its provenance (core.explore.projection)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganstudio.cli.common import CLIError, Progress, int_range, setting

# core.explore.projection's bounds (that module imports torch; the parser must not).
STEPS = (1, 10_000)
STARTS = (1, 64)
CANDIDATES = (1, 100_000)
LATENT_NORMS = ("shell", "sphere", "penalty", "free")
LATENT_SUFFIXES = (".npy", ".json")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "project",
        help="find the latent of a picture model that draws a given picture",
        description="Project a picture into a generator's latent space: prepare it as "
        "training pictures are (size, colour, centre crop), start from the nearest of "
        "--candidates random samples, then optimise --starts latents at once (StyleGAN2's "
        "schedule) on a pixel-pyramid loss plus the model data's own feature distance (when "
        "a feature extractor is cached for it; else pixels alone). Writes the latent as an "
        "explorer vector file with its provenance.",
    )
    p.add_argument("model", help="a generator file, a checkpoint, or a run folder")
    p.add_argument("picture", help="the picture to find (png, jpg, webp, ...)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="LATENT",
        help="latent.npy (and latent.npy.json beside it with the provenance) or latent.json",
    )
    p.add_argument("--reconstruction", metavar="PNG", help="also save the model's picture of it")
    p.add_argument(
        "--steps", type=int_range(*STEPS), default=300, help="optimisation steps (default 300)"
    )
    p.add_argument(
        "--starts", type=int_range(*STARTS), default=4, help="starts optimised at once (default 4)"
    )
    p.add_argument(
        "--candidates",
        type=int_range(*CANDIDATES),
        help="random latents the starts are chosen from, nearest first (default 10,000, "
        "fewer for large pictures: their pictures are held in at most 512 MiB)",
    )
    p.add_argument("--seed", type=setting("seed"), default=0, help="seed of the candidates")
    p.add_argument(
        "--latent-norm",
        choices=LATENT_NORMS,
        default="shell",
        help="keep |z| within the shell where N(0, I) latents lie, sqrt(dim) +- 2.1 (default), "
        "on the sphere |z| = sqrt(dim), pull it there with a penalty, or leave it free",
    )
    p.add_argument(
        "--pixels-only", action="store_true", help="no feature distance, even when one is cached"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda ...")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_project)


def _check_outputs(args: argparse.Namespace) -> None:
    from ganstudio.core.fileio import writable_target

    out = Path(args.output)
    if out.suffix.lower() not in LATENT_SUFFIXES:
        raise CLIError(f"-o {out}: a latent is saved as .npy or .json")
    writable_target(out)
    if args.reconstruction is not None:
        rec = Path(args.reconstruction)
        if rec.suffix.lower() != ".png":
            raise CLIError(f"--reconstruction {rec}: the picture is saved as .png")
        writable_target(rec)


def cmd_project(args: argparse.Namespace) -> int:
    from ganstudio.core.device import pick_device
    from ganstudio.core.explore import projection as proj
    from ganstudio.core.modelfile import load_generator
    from ganstudio.core.render import make_grid, save_png
    from ganstudio.core.runs.reader import find_model

    _check_outputs(args)  # before the long work
    if args.candidates is not None and args.candidates < args.starts:
        raise CLIError(f"--candidates ({args.candidates}) must be at least --starts")
    model_path = find_model(args.model)
    gen = load_generator(model_path, pick_device(args.device))
    if not gen.is_image:
        raise CLIError(f"{model_path}: projection needs a picture model; this one makes 2-D points")
    target = proj.load_target(args.picture, gen.sample_shape)
    extractor, features = (None, "pixel loss only") if args.pixels_only else ("auto", "")
    bar = Progress(args.steps, enabled=not args.quiet, label="step")

    def progress(update: proj.ProjectionUpdate) -> None:
        extra = "" if update.feature_loss is None else f", features {update.feature_loss:.4f}"
        bar.update(
            update.step,
            f"loss {update.loss:.4f} (pixels {update.pixel_loss:.4f}{extra})",
            force=update.step >= update.steps,
        )

    candidates = args.candidates or proj.default_candidates(gen.sample_shape)
    if not args.quiet:
        print(
            f"choosing {args.starts} starts among {candidates:,} random latents ...",
            file=sys.stderr,
            flush=True,
        )
    try:
        result = proj.project(
            gen,
            target,
            steps=args.steps,
            starts=args.starts,
            candidates=candidates,
            seed=args.seed,
            extractor=extractor,
            latent_norm=args.latent_norm,
            progress=progress,
        )
    finally:
        bar.close()
    written = proj.save_projection(args.output, result, gen.meta)
    if args.reconstruction is not None:
        picture = make_grid(result.reconstruction[None], 1, 1, padding=0)
        model_hash = str(gen.meta.get("content_hash", ""))
        save_png(args.reconstruction, picture, {"ganstudio.model_hash": model_hash})
        written.append(Path(args.reconstruction))
    features = features or result.features
    feature = (
        f", feature distance {result.feature_distance:.4f}"
        if result.feature_distance is not None
        else ""
    )
    print(
        f"pixel distance {result.pixel_distance:.4f} (its start, the nearest of "
        f"{candidates:,} random samples: {result.start_pixel_distance:.4f}){feature}; "
        f"{features}; {result.seconds:.1f} s"
    )
    print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
    return 0
