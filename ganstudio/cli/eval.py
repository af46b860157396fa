"""`ganstudio eval`: sample quality of a model against real data, with the real-data floor.

Own features by default (a network trained on the dataset itself and cached; see
core.quality.features and core.quality.evaluation); with ``--inception FILE`` also the
standard FID and Inception Score from the user's pt_inception-2015-12-05 weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganstudio.cli.common import CLIError, Progress, int_range, load_with_progress, setting

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ganstudio.core.data.dataset import Dataset
    from ganstudio.core.modelfile import GeneratorFile
    from ganstudio.core.quality.evaluation import ClassQuality, Evaluator
    from ganstudio.core.quality.features import FeatureExtractor
    from ganstudio.core.quality.inception import InceptionV3


# core.quality.evaluation.MIN_SAMPLES (that module imports torch; the parser must not), and
# twice the usual 50,000 of published FIDs: each is generated, with two real sets as large.
SAMPLES = (10, 100_000)
MAX_FEATURE_STEPS = 100_000


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "eval",
        help="measure sample quality against the real data (FD, KID, precision, recall)",
        description="Compare samples of a model with real data in a feature space trained on "
        "the dataset itself (no download; cached), next to the floor: the same metrics for "
        "two halves of the real data.",
    )
    e.add_argument("model", help="a generator file, a checkpoint, or a run folder")
    e.add_argument(
        "--dataset",
        metavar="SOURCE",
        help="the real data (default: the dataset the model was trained on)",
    )
    e.add_argument(
        "--samples",
        type=int_range(*SAMPLES),
        default=1000,
        help="generated samples, and real ones per half (10-100000)",
    )
    e.add_argument(
        "--seed", type=setting("seed"), default=0, help="seed of the latents and the real halves"
    )
    e.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    e.add_argument("--json", action="store_true", help="print JSON instead of the table")
    e.add_argument(
        "--no-cache", action="store_true", help="train the feature network anew, keep nothing"
    )
    e.add_argument(
        "--feature-steps",
        type=int_range(1, MAX_FEATURE_STEPS),
        metavar="N",
        help="training steps of the feature network (default 400 classifier, 300 autoencoder)",
    )
    e.add_argument(
        "--inception",
        metavar="FILE",
        help="also the standard FID and Inception Score, with this "
        "pt_inception-2015-12-05 weights file (never downloaded)",
    )
    e.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    e.set_defaults(func=cmd_eval)


def _shape_text(shape: Sequence[int]) -> str:
    return "2-D points" if len(shape) == 1 else "x".join(str(s) for s in shape) + " images"


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def cmd_eval(args: argparse.Namespace) -> int:
    from ganstudio.core.device import pick_device
    from ganstudio.core.explore import sampling
    from ganstudio.core.modelfile import load_generator
    from ganstudio.core.quality.evaluation import MIN_SAMPLES, Evaluator, format_evaluation
    from ganstudio.core.quality.features import get_extractor
    from ganstudio.core.render import to_uint8
    from ganstudio.core.runs.reader import find_model

    if args.samples < MIN_SAMPLES:
        raise CLIError(f"--samples must be at least {MIN_SAMPLES}")
    if args.feature_steps is not None and args.feature_steps < 1:
        raise CLIError("--feature-steps must be positive")
    device = pick_device(args.device)
    model_path = find_model(args.model)
    gen = load_generator(model_path, device)
    spec = args.dataset or gen.meta.get("dataset", {}).get("spec")
    if not spec:
        raise CLIError(f"{model_path}: the file does not name its dataset; give --dataset")
    dataset = load_with_progress(spec, 0, args.quiet)

    # The model must make what the dataset holds.
    z = sampling.latents(args.seed, args.samples, gen.latent_dim)
    probe = sampling.generate(gen.module, z[:2])
    made, held = tuple(probe.shape[1:]), tuple(dataset.info.sample_shape)
    if made != held:
        raise CLIError(
            f"{model_path} makes {_shape_text(made)}, but {spec} holds {_shape_text(held)}"
        )

    inception_model = None
    if args.inception:  # checked before the long work
        if not dataset.info.is_image:
            raise CLIError("--inception is for image models; this one makes 2-D points")
        inception_model = _load_inception(args.inception, device)

    bar = Progress(100, enabled=not args.quiet, label="feature network")
    extractor = get_extractor(
        dataset,
        device,
        progress=lambda f: bar.update(int(f * 100), force=f >= 1),
        use_cache=not args.no_cache,
        seed=args.seed,
        steps=args.feature_steps,
    )
    bar.close()
    _say(args, f"features: {extractor.describe()}")
    try:
        evaluator = Evaluator(extractor, dataset, n=args.samples, seed=args.seed)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    _say(args, f"sampling {evaluator.n} samples from {model_path.name} ...")
    out = sampling.generate(gen.module, z[: evaluator.n])
    samples = to_uint8(out) if dataset.info.is_image else out.numpy()
    ev = evaluator.evaluate(samples)
    per_class = _per_class(args, gen, extractor, dataset) if gen.classes else None
    standard = None
    if inception_model is not None:
        standard = _inception(args, inception_model, dataset, evaluator, samples, device)

    if args.json:
        doc = {
            "model": str(model_path),
            "dataset": spec,
            "seed": args.seed,
            **ev.to_dict(),
            "inception": standard,
        }
        if per_class is not None:
            doc["per_class"] = [r.to_dict() for r in per_class[0]]
            doc["per_class_notes"] = per_class[1]
        print(json.dumps(doc, indent=2))
    else:
        print(format_evaluation(ev))
        if per_class is not None:
            from ganstudio.core.quality.evaluation import format_per_class

            print(format_per_class(*per_class))
        if standard is not None:
            print(_inception_text(standard))
    return 0


def _per_class(
    args: argparse.Namespace, gen: GeneratorFile, extractor: FeatureExtractor, dataset: Dataset
) -> tuple[list[ClassQuality], list[str]]:
    """Per-class measures of a class-conditional model: args.samples shared among its
    classes (at least MIN_SAMPLES each)."""
    import torch

    from ganstudio.core.explore import sampling
    from ganstudio.core.quality.evaluation import MIN_SAMPLES, per_class_quality
    from ganstudio.core.render import to_uint8

    if dataset.class_count != gen.classes:
        return [], [
            f"per-class measures skipped: the model draws {gen.classes} classes, the data "
            f"has {dataset.class_count}"
        ]
    per = max(MIN_SAMPLES, args.samples // gen.classes)
    _say(args, f"per class: {per} samples for each of {gen.classes} classes ...")

    def draw(c: int, n: int) -> np.ndarray:
        z = sampling.latents(args.seed + 1 + c, n, gen.latent_dim)
        y = torch.full((n,), c, dtype=torch.int64)
        return to_uint8(sampling.generate(gen.module, z, classes=y))

    return per_class_quality(extractor, dataset, draw, gen.class_names, per, seed=args.seed)


def _load_inception(path: str, device: torch.device) -> InceptionV3:
    try:
        from ganstudio.core.quality import inception
    except ImportError:
        raise CLIError("--inception: this version has no Inception network") from None
    try:
        return inception.load_inception(path, device)
    except inception.InceptionError as exc:
        raise CLIError(str(exc)) from None


def _bar_progress(bar: Progress) -> Callable[[int, int], None]:
    """A progress callback (done, total) that moves ``bar``."""

    def update(done: int, total: int) -> None:
        bar.update(done, force=done >= total)

    return update


def _inception(
    args: argparse.Namespace,
    model: InceptionV3,
    dataset: Dataset,
    evaluator: Evaluator,
    samples: np.ndarray,
    device: torch.device,
) -> dict[str, Any]:
    """Standard FID (generated and real B against real A) and Inception Scores."""
    from ganstudio.core.quality import inception
    from ganstudio.core.quality.metrics import frechet_distance

    data = dataset.data
    sets: dict[str, np.ndarray | torch.Tensor] = {
        "real A": data[evaluator.real_a.to(data.device)].cpu(),
        "real B": data[evaluator.real_b.to(data.device)].cpu(),
        "generated": samples,
    }
    outputs = {}
    for name, images in sets.items():
        bar = Progress(len(images), enabled=not args.quiet, label=f"inception {name}")
        outputs[name] = inception.inception_outputs(
            model, images, device=device, progress=_bar_progress(bar)
        )
        bar.close()
    (fa, _), (fb, pb), (fg, pg) = outputs["real A"], outputs["real B"], outputs["generated"]
    splits = min(10, len(pg))
    is_gen, is_real = inception.inception_score(pg, splits), inception.inception_score(pb, splits)
    return {
        "weights": str(args.inception),
        "fid": frechet_distance(fa, fg),
        "fid_floor": frechet_distance(fa, fb),
        "is": is_gen[0],
        "is_std": is_gen[1],
        "is_real": is_real[0],
        "is_real_std": is_real[1],
        "n": len(fg),
    }


def _inception_text(s: dict[str, Any]) -> str:
    return (
        f"\nstandard Inception ({Path(s['weights']).name}, {s['n']} samples):\n"
        f"  FID {s['fid']:.2f} (floor, real against real: {s['fid_floor']:.2f}); lower is better\n"
        f"  IS  {s['is']:.2f} +- {s['is_std']:.2f} (real data: {s['is_real']:.2f} +- "
        f"{s['is_real_std']:.2f}); higher is better\n"
        "  Comparable with published numbers only at the same sample count (usually 50,000)."
    )
