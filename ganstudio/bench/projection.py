"""`ganstudio bench --projection`: how near a projection comes to a picture, against what
one gets without optimising.

A dataset (builtin:digits by default) is split: ``n`` pictures, drawn with a fixed seed, are
held out; a generator is trained on the rest for ``minutes`` (core.training: a Trainer and
run_training, this process; or ``model`` is a model file, whose training data is then not
known to exclude them), and the rest's feature extractor is made (core.quality.features;
cached). Then two sets of ``n`` targets are projected (core.explore.projection):

(a) the held-out real pictures: a projection can only come near what the generator can draw;
(b) pictures generated from known latents: a perfect projection finds them exactly.

Each is compared, in the same distances (mean absolute pixel difference on a 0-1 scale, RMS
difference of the normalised features), with two baselines: the nearest of ``samples``
random samples (by each distance; the projection's starts are chosen from the same samples)
and the nearest training picture. For (b) the RMS distance per latent value between the
recovered and the true latent, next to that of a random latent (about sqrt 2) and of the
nearest random sample. An ablation repeats the projection with other settings on the
first ``ablation`` targets of each set: the latent kept on its sphere, pulled by a penalty or
left free instead of kept in its shell, the pixel loss alone, and StyleGAN2's start at the
mean latent.

The numbers depend on the generator (its training time), the extractor and the sample
count; compare rows of one table.
"""

from __future__ import annotations

import gc
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ganstudio.core.config import TrainConfig
from ganstudio.core.data import Dataset, load_dataset
from ganstudio.core.device import pick_device
from ganstudio.core.errors import UserError
from ganstudio.core.explore import projection as proj
from ganstudio.core.explore import sampling
from ganstudio.core.modelfile import load_generator
from ganstudio.core.quality.features import FeatureExtractor, get_extractor
from ganstudio.core.render import to_uint8
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

log = logging.getLogger(__name__)

PrintFn = Callable[[str], None]

DEFAULT_DATASET = "builtin:digits"
DEFAULT_MINUTES = 3.0
DEFAULT_N = 16
DEFAULT_ABLATION = 8
ARCHITECTURES = ("dcgan", "fastgan")
FASTGAN_WIDTH = 8  # as bench --images: the narrowest FastGAN that is not a toy
SEED = 0
TRUE_LATENT_SEED = 10**9  # the generated targets' latents: far from the candidates' seed
PROGRESS_EVERY = 10.0

# name -> project() settings on top of the default (shell, features, nearest start)
VARIANTS: dict[str, dict[str, Any]] = {
    "latent on the sphere": {"latent_norm": "sphere"},
    "latent free": {"latent_norm": "free"},
    "latent penalty": {"latent_norm": "penalty"},
    "pixels only": {"extractor": None},
    "mean start (StyleGAN2)": {"init": "mean", "latent_norm": "free"},
}


class ProjectionBenchError(UserError):
    """A request the benchmark cannot carry out (a dataset of points, a model of points)."""


@dataclass
class Scores:
    """Per target distances of one method: pixel, feature and (generated targets) latent."""

    pixel: list[float] = field(default_factory=list)
    feature: list[float] = field(default_factory=list)
    latent: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def mean(self, key: str) -> float | None:
        values = getattr(self, key)
        return float(np.mean(values)) if values else None


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def split(data: Dataset, n: int, seed: int = SEED) -> tuple[Dataset, np.ndarray]:
    """(the training part, the held-out uint8 pictures (n, C, H, W)): n pictures drawn with
    a seeded permutation; the training part is a Dataset of its own (its own fingerprint)."""
    if len(data) < n + 2:
        raise ProjectionBenchError(
            f"{data.info.name}: {len(data)} pictures cannot spare {n} for holding out"
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    held, rest = order[:n], order[n:].sort().values
    labels = None if data.labels is None else data.labels[rest]
    info = replace(data.info, count=len(rest), fingerprint="")
    return Dataset(data.data[rest].contiguous(), info, labels), data.data[held].cpu().numpy()


def _latent_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def _train(
    data: Dataset, spec: str, arch: str, width: int | None, minutes: float, device: str
) -> tuple[nn.Module, str]:
    fields: dict[str, Any] = {"arch": arch}
    if width is not None or arch == "fastgan":
        fields["width"] = width or FASTGAN_WIDTH
    cfg = TrainConfig(dataset=spec, device=device, seed=SEED, minutes=minutes, **fields)
    trainer = Trainer(cfg, data)
    outcome = run_training(trainer)
    if not outcome.ok:
        raise ProjectionBenchError(f"training the generator failed: {outcome.message}")
    r = trainer.resolved
    module = trainer.sampler().eval().requires_grad_(False)
    about = (
        f"{r.arch} width {r.width}, {r.loss} loss, trained {trainer.step:,} steps "
        f"({trainer.elapsed:.0f} s) on {len(data):,} pictures"
    )
    return module, about


def _nearest(
    pool_images: np.ndarray,
    pool_features: np.ndarray | None,
    extractor: FeatureExtractor,
    target: np.ndarray,
) -> tuple[float, float, int]:
    """(least pixel distance, least feature distance, index of the pixel-nearest) of
    pictures to a target, each distance minimised on its own."""
    pixel = proj.pixel_distances(pool_images, target)
    t = extractor.features(target[None])
    feats = pool_features if pool_features is not None else extractor.features(pool_images)
    feature = np.sqrt(((feats - t) ** 2).mean(1))
    return float(pixel.min()), float(feature.min()), int(pixel.argmin())


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _rows(title: str, scores: dict[str, Scores], latent: bool) -> list[str]:
    head = f"  {title:<38} {'pixel':>8} {'feature':>8}" + (f" {'latent':>8}" if latent else "")
    lines = [head + f" {'s/picture':>9}"]
    for name, s in scores.items():
        line = f"    {name:<36} {_fmt(s.mean('pixel')):>8} {_fmt(s.mean('feature')):>8}"
        if latent:
            line += f" {_fmt(s.mean('latent')):>8}"
        secs = s.mean("seconds")
        lines.append(line + (f" {secs:9.1f}" if secs is not None else ""))
    return lines


def _verdict(projected: Scores, baseline: Scores, what: str) -> str:
    wins = sum(p < b for p, b in zip(projected.pixel, baseline.pixel))
    p, b = projected.mean("pixel") or 0.0, baseline.mean("pixel") or 0.0
    ratio = p / b if b > 0 else float("nan")
    return (
        f"  {what}: the projection is nearer (pixels) than the nearest random sample for "
        f"{wins} of {len(projected.pixel)} pictures; mean pixel distance {ratio:.0%} of it"
    )


def projection_table(
    model: str = "dcgan",
    dataset: str = DEFAULT_DATASET,
    minutes: float = DEFAULT_MINUTES,
    width: int | None = None,
    n: int = DEFAULT_N,
    steps: int = proj.DEFAULT_STEPS,
    starts: int = proj.DEFAULT_STARTS,
    samples: int = proj.DEFAULT_CANDIDATES,
    ablation: int = DEFAULT_ABLATION,
    feature_steps: int | None = None,
    device: str = "cpu",
    print_fn: PrintFn = print,
    progress: PrintFn = _stderr,
) -> dict[str, Any]:
    """Print (and return) the table (see the module docstring). ``model``: "dcgan" or
    "fastgan" to train one (``width`` its base channels, default the product's own, 8 for
    FastGAN), or a model file."""
    proj.check_settings(steps, starts, max(samples, starts), "shell", "nearest")
    dev = pick_device(device)
    progress(f"{dataset}: loading")
    full = load_dataset(dataset, seed=SEED)
    if not full.info.is_image:
        raise ProjectionBenchError(f"--projection needs pictures; {dataset} holds 2-D points")
    train, held = split(full, n)
    del full
    gen = None if model in ARCHITECTURES else load_generator(model, dev)  # checked first
    if gen is not None:
        if not gen.is_image:
            raise ProjectionBenchError(f"{model}: projection needs a picture model")
        if gen.sample_shape != train.info.sample_shape:
            raise ProjectionBenchError(
                f"{model} makes {gen.sample_shape} pictures, {dataset} holds "
                f"{train.info.sample_shape}"
            )
        module, about = gen.module, f"{model} ({gen.spec.name})"
        fp = (gen.meta.get("dataset") or {}).get("fingerprint")
        held_note = (
            f"the {n} held-out pictures were not trained on"
            if fp == train.info.fingerprint
            else "the model file's training data is not this split: the held-out pictures "
            "may have been trained on"
        )
    started = time.perf_counter()
    extractor = get_extractor(train, dev, seed=SEED, steps=feature_steps)
    progress(f"feature extractor ready ({time.perf_counter() - started:.0f} s)")
    if gen is None:
        progress(f"training {model} for {minutes:g} min on {len(train):,} pictures")
        module, about = _train(train, dataset, model, width, minutes, str(dev))
        held_note = f"the {n} held-out pictures were not trained on"
    module = module.to(dev).eval().requires_grad_(False)
    dim = int(getattr(module, "latent_dim"))  # noqa: B009

    progress(f"rendering {samples:,} random samples (the baseline and the starts)")
    pool = proj.candidate_pool(module, samples, SEED, extractor)
    pool_features = extractor.features(pool.images)
    train_images = train.data.cpu().numpy()
    train_features = extractor.features(train_images)
    true_z = sampling.latents(TRUE_LATENT_SEED, n, dim)
    with torch.no_grad():
        generated = to_uint8(sampling.generate(module, true_z))
    random_z = sampling.latents(TRUE_LATENT_SEED + 1, n, dim).numpy()

    sets = {"a": held, "b": generated}
    results: dict[str, dict[str, Scores]] = {}
    names = ["projection", f"nearest of {samples:,} random samples", "nearest training picture"]
    last = [time.perf_counter()]
    for key, targets in sets.items():
        scores = {name: Scores() for name in names}
        variants = {f"  {v}": Scores() for v in VARIANTS} if ablation else {}
        for i, target in enumerate(targets):
            settings: dict[str, Any] = {"steps": steps, "starts": starts, "candidates": samples}
            res = proj.project(module, target, extractor=extractor, pool=pool, **settings)
            s = scores["projection"]
            s.pixel.append(res.pixel_distance)
            s.feature.append(res.feature_distance or float("nan"))
            s.seconds.append(res.seconds)
            pix, feat, at = _nearest(pool.images, pool_features, extractor, target)
            rs = scores[names[1]]
            rs.pixel.append(pix)
            rs.feature.append(feat)
            pix, feat, _ = _nearest(train_images, train_features, extractor, target)
            ts = scores[names[2]]
            ts.pixel.append(pix)
            ts.feature.append(feat)
            if key == "b":
                s.latent.append(_latent_distance(res.latent, true_z[i].numpy()))
                rs.latent.append(_latent_distance(pool.z[at].numpy(), true_z[i].numpy()))
            if i < ablation:
                for name, change in VARIANTS.items():
                    # The pool's features serve every variant: a variant without features
                    # chooses its starts by pixels alone.
                    v = proj.project(
                        module, target, pool=pool, **{"extractor": extractor, **settings, **change}
                    )
                    vs = variants[f"  {name}"]
                    vs.pixel.append(v.pixel_distance)
                    vs.feature.append(
                        float(proj.feature_distances(extractor, v.reconstruction[None], target)[0])
                    )
                    vs.seconds.append(v.seconds)
                    if key == "b":
                        vs.latent.append(_latent_distance(v.latent, true_z[i].numpy()))
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_EVERY or i == len(targets) - 1:
                last[0] = now
                progress(f"set ({key}): {i + 1} of {len(targets)} pictures projected")
        if key == "b":
            scores["random latent"] = Scores(
                latent=[_latent_distance(r, t.numpy()) for r, t in zip(random_z, true_z)]
            )
        if variants:  # the default settings on the ablation's pictures, to compare with
            first = scores["projection"]
            k = min(ablation, len(targets))
            scores["  default, the same pictures"] = Scores(
                first.pixel[:k], first.feature[:k], first.latent[:k], first.seconds[:k]
            )
        scores.update(variants)
        results[key] = scores
        gc.collect()

    print_fn(
        f"projection: {dataset}, {about}; {steps} steps, {starts} starts from the nearest of "
        f"{samples:,} random samples, on {dev}; {held_note}"
    )
    print_fn(f"  features: {extractor.describe()}")
    print_fn(
        "  distances: pixel = mean |difference| on 0-1, feature = RMS of the normalised "
        "features, latent = RMS per value to the true latent; lower is better"
    )
    print_fn(
        "  ablation rows (indented): other settings, on the first "
        f"{min(ablation, n)} pictures of the set"
    )
    lines = _rows(f"(a) {n} held-out real pictures", results["a"], latent=False)
    lines += _rows(f"(b) {n} generated pictures, latent known", results["b"], latent=True)
    for line in lines:
        print_fn(line)
    print_fn(_verdict(results["a"]["projection"], results["a"][names[1]], "(a)"))
    print_fn(_verdict(results["b"]["projection"], results["b"][names[1]], "(b)"))
    return {
        "dataset": dataset,
        "model": about,
        "steps": steps,
        "starts": starts,
        "samples": samples,
        "n": n,
        "sets": {
            k: {
                name: {m: s.mean(m) for m in ("pixel", "feature", "latent", "seconds")}
                for name, s in v.items()
            }
            for k, v in results.items()
        },
    }
