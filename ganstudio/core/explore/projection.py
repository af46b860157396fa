"""Projection: find the latent whose sample looks most like a given picture.

StyleGAN2's projector (Karras et al. 2020, ``projector.py``) made the schedule standard, and
it is followed here on the generator's own latents, z ~ N(0, I):

- Start: the ``starts`` nearest (in the loss) of ``candidates`` seeded random latents
  (10,000 by default): each is a start of the optimisation, all optimised in one batch, and
  the best at the end is kept. (``init="mean"``: every start at the mean latent instead, as
  StyleGAN2 starts at the mean w.)
- Adam on z with a learning rate that ramps up over the first 5% of the steps and down on a
  cosine over the last 25%; latent noise, added to z in each forward pass, that starts at
  5% of the latents' typical norm sqrt(dim) and decays quadratically to zero at 75% of the
  steps.
- The latent is kept where latents live (``latent_norm``): |z| of z ~ N(0, I) is about
  sqrt(dim), give or take 1 / sqrt(2). "shell" (the default) puts it back within 3 of those
  spreads of sqrt(dim) after each step when it strays; "sphere" puts it back on the sphere
  of radius sqrt(dim) after every step; "penalty" adds (|z|^2 / dim - 1)^2 to the loss;
  "free" leaves it alone.
- The loss needs no downloaded network: L1 + L2 on an image pyramid (the picture, then
  halved while both sides are at least 4 px), plus the squared distance in the program's own
  feature space (core.quality.features: a small network trained on the model's dataset and
  cached by the dataset's fingerprint, which the model file records). When none is cached
  the pixel loss works alone, and the result says so.

Reported distances are measured on the 8-bit pictures: the mean absolute pixel difference on
a 0-1 scale, and the root mean square difference of the normalised features (the features
have unit variance per value over the real data).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ganstudio import __version__
from ganstudio.core.conditioning import run_generator
from ganstudio.core.data.guards import MAX_MEMBER_BYTES, NotRegularFile, human_bytes
from ganstudio.core.data.prepare import PrepSettings, SkipPicture, decode_picture
from ganstudio.core.errors import UserError
from ganstudio.core.explore import sampling
from ganstudio.core.explore.provenance import encode_vectors, read_json_file
from ganstudio.core.explore.vector_files import load_vectors, save_vectors
from ganstudio.core.fileio import FileTooLargeError, atomic_write_bytes, read_regular
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.quality.features import (
    FeatureExtractor,
    cache_path,
    encoder_of,
    load_extractor,
    resize,
)
from ganstudio.core.render import to_uint8

log = logging.getLogger(__name__)

# What a projection may ask for: the CLI's options and the window's fields are held to these.
MIN_STEPS, MAX_STEPS = 1, 10_000
DEFAULT_STEPS = 300
MIN_STARTS, MAX_STARTS = 1, 64
DEFAULT_STARTS = 4
MAX_CANDIDATES = 100_000
DEFAULT_CANDIDATES = 10_000
MAX_POOL_BYTES = 512 * 2**20  # the candidates' pictures, held while the starts are chosen
MAX_PICTURE_BYTES = MAX_MEMBER_BYTES  # a picture file (the largest Pillow decodes, as stored)
LATENT_NORMS = ("shell", "sphere", "penalty", "free")
INITS = ("nearest", "mean")
PICTURE_BACKGROUND = (255, 255, 255)  # under transparency, as a picture folder's default

# The schedule of StyleGAN2's projector, in shares of the steps.
LEARNING_RATE = 0.1
LR_RAMP_UP = 0.05
LR_RAMP_DOWN = 0.25
NOISE_FACTOR = 0.05  # of the latents' typical norm sqrt(dim), at the start
NOISE_RAMP = 0.75  # the noise is gone after this share of the steps
PENALTY_WEIGHT = 0.01  # of (|z|^2 / dim - 1)^2 with latent_norm="penalty"
# |z| of z ~ N(0, I) is about sqrt(dim) with a spread of 1 / sqrt(2) whatever the size: the
# shell keeps it within this many spreads of sqrt(dim).
SHELL_SPREADS = 3.0
FEATURE_WEIGHT = 0.1  # of the feature term against the pixel term
MIN_LEVEL = 4  # the pyramid's smallest side
CANDIDATE_BATCH = 250  # candidate latents per forward pass
PREVIEW_EVERY = 10  # steps between the reconstructions a progress update carries

SIDECAR_SUFFIX = ".json"  # latent.npy -> latent.npy.json


class ProjectionError(UserError, ValueError):
    """A projection cannot be made: a bad picture, a model of points, a bad setting."""


class ProjectionCancelled(Exception):
    """Raised by project() when ``cancelled()`` said so between two steps."""


# ----------------------------------------------------------------------------------------
# The target picture


@dataclass(frozen=True, eq=False)
class Target:
    """A picture prepared as training data for a model: uint8 (C, H, W), with where it came
    from (``name``), its source's SHA-256 (the file's bytes, or the array's) and what the
    source was ("WxH MODE")."""

    pixels: np.ndarray
    name: str
    sha256: str
    described: str


def _settings_for(sample_shape: Sequence[int]) -> PrepSettings:
    if len(sample_shape) != 3:
        raise ProjectionError(
            "projection needs a picture model; this model makes 2-D points, not pictures"
        )
    c, h, w = (int(d) for d in sample_shape)
    if h != w or c not in (1, 3):
        raise ProjectionError(f"projection needs square 1- or 3-channel pictures, not {c}x{h}x{w}")
    return PrepSettings(h, "gray" if c == 1 else "rgb", "center-crop", PICTURE_BACKGROUND)


def load_target(picture: str | Path | np.ndarray, sample_shape: Sequence[int]) -> Target:
    """A picture file (or an array) prepared as training pictures are for a model of
    ``sample_shape`` (C, H, W): its size and colour mode, centre-cropped (core.data.prepare).

    An array already of shape (C, H, W) uint8 is taken as it is; an (H, W) or (H, W, C)
    uint8 array is prepared like a file. ProjectionError names the file for anything it
    cannot use.
    """
    settings = _settings_for(sample_shape)
    shape = tuple(int(d) for d in sample_shape)
    if isinstance(picture, np.ndarray):
        a = np.ascontiguousarray(picture)
        if a.dtype != np.uint8:
            raise ProjectionError(f"a picture array must be uint8, not {a.dtype}")
        digest = hashlib.sha256(a.tobytes()).hexdigest()
        if a.shape == shape:
            return Target(a.copy(), "array", digest, f"{shape[2]}x{shape[1]} array")
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
            raise ProjectionError(f"a picture array must be (H, W) or (H, W, C), not {a.shape}")
        a = a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a
        return _prepared(a, "array", digest, settings)
    path = Path(picture)
    try:
        data = read_regular(path, MAX_PICTURE_BYTES)
    except FileNotFoundError:
        raise ProjectionError(f"{path}: no such file") from None
    except FileTooLargeError:
        raise ProjectionError(
            f"{path}: larger than {human_bytes(MAX_PICTURE_BYTES)}, more than any picture "
            "GAN Studio reads"
        ) from None
    except (NotRegularFile, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ProjectionError(f"{path}: cannot read it ({reason})") from None
    return _prepared(data, str(path), hashlib.sha256(data).hexdigest(), settings)


def _prepared(src: bytes | np.ndarray, name: str, digest: str, s: PrepSettings) -> Target:
    with warnings.catch_warnings():
        # A picture over Pillow's pixel limit is refused like any other bad file.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            pixels, described = decode_picture(src, s)
        except SkipPicture as exc:
            raise ProjectionError(f"{name}: cannot use this picture: {exc}") from None
    pixels = pixels.reshape(s.size, s.size, s.channels).transpose(2, 0, 1)
    return Target(np.ascontiguousarray(pixels), name, digest, described)


# ----------------------------------------------------------------------------------------
# Distances and the loss


def pixel_distances(images: np.ndarray | Tensor, target: np.ndarray) -> np.ndarray:
    """Mean absolute pixel difference of uint8 images (N, C, H, W) to a uint8 target
    (C, H, W), on a 0-1 scale: float64 (N,)."""
    a = np.asarray(images, dtype=np.int16)
    d = np.abs(a - np.asarray(target, dtype=np.int16)[None])
    return d.reshape(len(a), -1).mean(1) / 255.0


def feature_distances(
    extractor: FeatureExtractor, images: np.ndarray | Tensor, target: np.ndarray
) -> np.ndarray:
    """Root mean square difference of the normalised features of uint8 images (N, C, H, W)
    and of a uint8 target (C, H, W): float64 (N,)."""
    f = extractor.features(images)
    t = extractor.features(np.asarray(target)[None])
    return np.sqrt(((f - t) ** 2).mean(1))


def _pyramid(x: Tensor) -> list[Tensor]:
    levels = [x]
    while min(levels[-1].shape[-2:]) >= 2 * MIN_LEVEL:
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


class PictureLoss:
    """The projection's loss against one target picture, per sample of a batch (N,).

    ``pixel(x)``: mean over the pyramid's levels of the mean absolute plus the mean squared
    difference, x and the target in [-1, 1]. ``feature(x)``: the mean squared difference of
    the normalised features (None without an extractor). ``total`` weighs them together.
    """

    def __init__(
        self,
        target: np.ndarray,
        extractor: FeatureExtractor | None,
        device: torch.device,
        feature_weight: float = FEATURE_WEIGHT,
    ) -> None:
        pixels = torch.from_numpy(np.array(target, np.uint8)).to(device)[None]
        t = pixels.float().div(127.5).sub(1.0)
        self.device = device
        self.target_levels = _pyramid(t)
        self.extractor = extractor
        self.feature_weight = float(feature_weight) if extractor is not None else 0.0
        if extractor is not None:
            extractor.to(device)
            self.encoder = encoder_of(extractor.modules)
            self.work_size = int(extractor.meta["work_size"])
            self.mean = extractor.mean.float().to(device)
            self.proj = extractor.proj.float().to(device)
            with torch.no_grad():
                self.target_features = self.normalised_features(t)

    def normalised_features(self, x: Tensor) -> Tensor:
        """Normalised features (N, F) of pictures x in [-1, 1] (differentiable)."""
        _emb, f = self.encoder.features(resize(x.clamp(-1.0, 1.0), self.work_size))
        return (f.float() - self.mean) @ self.proj

    def feature_of(self, features: Tensor) -> Tensor:
        """The feature term (N,) of normalised features (N, F)."""
        return (features - self.target_features).square().mean(1)

    def pixel(self, x: Tensor) -> Tensor:
        parts = []
        for a, b in zip(_pyramid(x), self.target_levels):
            d = (a - b).flatten(1)
            parts.append(d.abs().mean(1) + d.square().mean(1))
        return torch.stack(parts).mean(0)

    def feature(self, x: Tensor) -> Tensor | None:
        if self.extractor is None:
            return None
        return self.feature_of(self.normalised_features(x))

    def parts(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """(pixel, feature or None, total), each (N,)."""
        pixel = self.pixel(x)
        feature = self.feature(x)
        total = pixel if feature is None else pixel + self.feature_weight * feature
        return pixel, feature, total

    def describe(self) -> str:
        text = f"L1 + L2 on a {len(self.target_levels)}-level pixel pyramid"
        if self.extractor is not None:
            text += f" + {self.feature_weight:g} x own-feature distance"
        return text


# ----------------------------------------------------------------------------------------
# The feature extractor of the model's training data


def find_extractor(
    meta: dict[str, Any], device: str | torch.device = "cpu"
) -> tuple[FeatureExtractor | None, str]:
    """The feature extractor cached for the data a model was trained on (found by the
    dataset fingerprint its description records), and a sentence for the user; None when
    there is none (or it does not fit the model's pictures)."""
    dataset = meta.get("dataset") or {}
    fingerprint = dataset.get("fingerprint") if isinstance(dataset, dict) else None
    if not fingerprint:
        return None, "pixel loss only: the model file does not record its training data"
    path = cache_path(str(fingerprint))
    if not path.is_file():
        return None, (
            "pixel loss only: no feature extractor is cached for the model's training data "
            "(`ganstudio eval MODEL` makes and caches one)"
        )
    try:
        extractor = load_extractor(path, device)
    except (OSError, ValueError) as exc:
        log.warning("ignoring the feature cache file %s (%s)", path, exc)
        return None, "pixel loss only: the cached feature extractor is damaged"
    channels = meta.get("channels") or (dataset.get("sample_shape") or [None])[0]
    if extractor.kind == "points" or (channels and extractor.meta.get("channels") != channels):
        return None, "pixel loss only: the cached feature extractor does not fit the model"
    return extractor, f"pixel loss and {extractor.describe()}"


# ----------------------------------------------------------------------------------------
# Projecting


@dataclass(frozen=True)
class ProjectionUpdate:
    """Progress of a projection after ``step`` of ``steps``: the best start's loss and
    distances so far (in the loss's units), and every PREVIEW_EVERY steps (and at the last)
    its reconstruction, uint8 (C, H, W)."""

    step: int
    steps: int
    loss: float
    pixel_loss: float
    feature_loss: float | None
    reconstruction: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Projection:
    """A projected picture.

    latent: float32 (dim,), the kept latent (before any truncation).
    reconstruction, target: uint8 (C, H, W), the generator's picture of it and the target.
    pixel_distance, feature_distance: the final distances (module docstring); the feature
        distance is None without a feature extractor.
    start_pixel_distance: the pixel distance of the best start before optimising (with the
        "nearest" init, the nearest of the candidate samples).
    history: float32 (steps, 3): per step the best start's loss, pixel and feature term
        (NaN without features).
    """

    latent: np.ndarray
    reconstruction: np.ndarray
    target: Target
    pixel_distance: float
    feature_distance: float | None
    start_pixel_distance: float
    history: np.ndarray
    loss: str
    features: str
    steps: int
    starts: int
    candidates: int
    seed: int
    latent_norm: str
    init: str
    seconds: float
    notes: tuple[str, ...] = field(default=())

    def provenance(self, gen_meta: dict[str, Any]) -> dict[str, Any]:
        """How this latent was found, for its file: the model, the source picture, the loss,
        the settings and the final distances."""
        return {
            "kind": "projection",
            "app_version": __version__,
            "model_hash": str(gen_meta.get("content_hash", "")),
            "model_step": gen_meta.get("step"),
            "latent_dim": int(self.latent.shape[0]),
            "source": {
                "name": Path(self.target.name).name,
                "sha256": self.target.sha256,
                "described": self.target.described,
                "prepared": list(self.target.pixels.shape),
            },
            "loss": self.loss,
            "features": self.features,
            "steps": self.steps,
            "starts": self.starts,
            "candidates": self.candidates,
            "seed": self.seed,
            "latent_norm": self.latent_norm,
            "init": self.init,
            "distances": {
                "pixel": round(self.pixel_distance, 6),
                "feature": None
                if self.feature_distance is None
                else round(self.feature_distance, 6),
                "start_pixel": round(self.start_pixel_distance, 6),
            },
            "seconds": round(self.seconds, 3),
        }


def default_candidates(sample_shape: Sequence[int]) -> int:
    """DEFAULT_CANDIDATES, or fewer when their pictures would take more than MAX_POOL_BYTES
    (about 2,700 for 256 px RGB)."""
    return max(1, min(DEFAULT_CANDIDATES, MAX_POOL_BYTES // max(1, math.prod(sample_shape))))


def check_pool_size(candidates: int, sample_shape: Sequence[int]) -> None:
    """ProjectionError when the candidates' pictures would take more than MAX_POOL_BYTES."""
    need = candidates * math.prod(sample_shape)
    if need > MAX_POOL_BYTES:
        most = MAX_POOL_BYTES // max(1, math.prod(sample_shape))
        raise ProjectionError(
            f"{candidates:,} candidates of {'x'.join(map(str, sample_shape))} pictures would take "
            f"{human_bytes(need)} of memory; at most {most:,} fit in {human_bytes(MAX_POOL_BYTES)}"
        )


def check_settings(steps: int, starts: int, candidates: int, latent_norm: str, init: str) -> None:
    """ProjectionError for a setting outside its range."""

    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(steps) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise ProjectionError(
            f"steps must be a whole number from {MIN_STEPS} to {MAX_STEPS:,}, not {steps!r}"
        )
    if not whole(starts) or not MIN_STARTS <= starts <= MAX_STARTS:
        raise ProjectionError(
            f"starts must be a whole number from {MIN_STARTS} to {MAX_STARTS}, not {starts!r}"
        )
    if not whole(candidates) or not starts <= candidates <= MAX_CANDIDATES:
        raise ProjectionError(
            f"candidates must be a whole number from the number of starts ({starts}) to "
            f"{MAX_CANDIDATES:,}, not {candidates!r}"
        )
    if latent_norm not in LATENT_NORMS:
        raise ProjectionError(
            f"latent_norm must be one of {', '.join(LATENT_NORMS)}, not {latent_norm!r}"
        )
    if init not in INITS:
        raise ProjectionError(f"init must be one of {', '.join(INITS)}, not {init!r}")


def learning_rate(t: float) -> float:
    """StyleGAN2's schedule at progress t in [0, 1]: ramp up, hold, cosine ramp down."""
    ramp = min(1.0, (1.0 - t) / LR_RAMP_DOWN)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, t / LR_RAMP_UP)
    return LEARNING_RATE * ramp


def noise_scale(t: float, dim: int) -> float:
    """Standard deviation of the latent noise per value at progress t: NOISE_FACTOR of the
    latents' typical norm sqrt(dim), decaying quadratically to 0 at NOISE_RAMP."""
    return math.sqrt(dim) * NOISE_FACTOR * max(0.0, 1.0 - t / NOISE_RAMP) ** 2


def generator_copy(source: GeneratorFile | sampling.GeneratorWeights) -> nn.Module:
    """A copy of the generator of a model file or of a weights copy (a training Snapshot) in
    eval mode, for a thread of its own (the explorer's renderer keeps using the original)."""
    if isinstance(source, GeneratorFile):
        return copy.deepcopy(source.module).eval().requires_grad_(False)
    return sampling.sampler_for(source).module


def _as_module(gen: GeneratorFile | nn.Module) -> tuple[nn.Module, dict[str, Any]]:
    if isinstance(gen, GeneratorFile):
        if not gen.is_image:
            raise ProjectionError(
                "projection needs a picture model; this model makes 2-D points, not pictures"
            )
        return gen.module, gen.meta
    return gen, {}


def _on_sphere(z: Tensor) -> Tensor:
    return z * (math.sqrt(z.shape[1]) / z.norm(dim=1, keepdim=True).clamp_min(1e-8))


def _in_shell(z: Tensor) -> Tensor:
    """z with each norm clamped to sqrt(dim) +- SHELL_SPREADS / sqrt(2)."""
    middle, half = math.sqrt(z.shape[1]), SHELL_SPREADS / math.sqrt(2.0)
    norm = z.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return z * (norm.clamp(max(middle - half, 1e-3), middle + half) / norm)


@dataclass(frozen=True, eq=False)
class CandidatePool:
    """Seeded random latents (n, D) with their pictures, uint8 (n, C, H, W), and (with an
    extractor) their normalised features (n, F) float32, on the CPU: made once, they serve
    every projection with this generator, seed and extractor (and a benchmark's baseline)."""

    z: Tensor
    images: np.ndarray
    features: Tensor | None
    seed: int


@torch.no_grad()
def candidate_pool(
    module: nn.Module,
    n: int,
    seed: int = 0,
    extractor: FeatureExtractor | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> CandidatePool:
    """The pictures (and features) of ``n`` seeded random latents of an image generator
    (ProjectionError when they would take more than MAX_POOL_BYTES)."""
    stop = cancelled or (lambda: False)
    dim = int(getattr(module, "latent_dim"))  # noqa: B009
    device = next(module.parameters()).device
    check_pool_size(n, tuple(int(d) for d in getattr(module, "out_shape")))  # noqa: B009
    z = sampling.latents(seed, n, dim)
    was_training = module.training
    module.eval()
    images, feats = [], []
    try:
        loss = None
        if extractor is not None:
            shape = tuple(int(d) for d in getattr(module, "out_shape"))  # noqa: B009
            loss = PictureLoss(np.zeros(shape, np.uint8), extractor, device)
        for part in z.split(CANDIDATE_BATCH):
            if stop():
                raise ProjectionCancelled
            x = run_generator(module, part.to(device)).float()
            images.append(to_uint8(x))
            if loss is not None:
                feats.append(loss.normalised_features(x).cpu())
    finally:
        module.train(was_training)
    return CandidatePool(z, np.concatenate(images), torch.cat(feats) if feats else None, seed)


@torch.no_grad()
def _nearest_candidates(
    pool: CandidatePool, loss: PictureLoss, k: int, cancelled: Callable[[], bool]
) -> Tensor:
    """The k latents of the pool of least loss (k, D), nearest first."""
    totals = []
    use_features = loss.extractor is not None and pool.features is not None
    for i in range(0, len(pool.z), CANDIDATE_BATCH):
        if cancelled():
            raise ProjectionCancelled
        part = torch.from_numpy(pool.images[i : i + CANDIDATE_BATCH]).to(loss.device)
        total = loss.pixel(part.float().div(127.5).sub(1.0))
        if use_features:
            assert pool.features is not None
            f = pool.features[i : i + CANDIDATE_BATCH].to(loss.device)
            total = total + loss.feature_weight * loss.feature_of(f)
        totals.append(total.cpu())
    order = torch.cat(totals).argsort()[:k]
    return pool.z[order]


def project(
    gen: GeneratorFile | nn.Module,
    picture: Target | str | Path | np.ndarray,
    *,
    steps: int = DEFAULT_STEPS,
    starts: int = DEFAULT_STARTS,
    candidates: int | None = None,
    seed: int = 0,
    extractor: FeatureExtractor | None | str = "auto",
    latent_norm: str = "shell",
    init: str = "nearest",
    feature_weight: float = FEATURE_WEIGHT,
    pool: CandidatePool | None = None,
    progress: Callable[[ProjectionUpdate], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Projection:
    """Find the latent of ``gen`` (a model file's generator, or an image generator module)
    whose picture is nearest to ``picture`` (see the module docstring).

    ``extractor``: a feature extractor, None for the pixel loss alone, or "auto": the one
    cached for a model file's training data (find_extractor). ``progress(update)`` is called
    after every step; ``cancelled()`` is asked before every step (and while the candidates
    are searched): when it says True, ProjectionCancelled is raised. ``pool``: the candidates
    made beforehand (candidate_pool with the same module, count, seed and extractor), else
    they are made here; ``candidates`` None: default_candidates. The same arguments give the
    same result on the same device.
    """
    module, meta = _as_module(gen)
    shape = tuple(int(d) for d in getattr(module, "out_shape", ()))
    if candidates is None:
        candidates = default_candidates(shape)
    check_settings(steps, starts, candidates, latent_norm, init)
    check_pool_size(candidates, shape)
    target = picture if isinstance(picture, Target) else load_target(picture, shape)
    _settings_for(shape)  # a module of points is refused here too
    if target.pixels.shape != shape:
        raise ProjectionError(
            f"the picture is prepared as {target.pixels.shape}, the model makes {shape}"
        )
    dim = int(getattr(module, "latent_dim"))  # noqa: B009
    device = next(module.parameters()).device
    stop = cancelled or (lambda: False)
    notes: list[str] = []
    if isinstance(extractor, str):
        if extractor != "auto":
            raise ProjectionError('extractor must be a FeatureExtractor, None or "auto"')
        extractor, features = find_extractor(meta, device)
    else:
        features = (
            f"pixel loss and {extractor.describe()}" if extractor is not None else "pixel loss only"
        )
    if extractor is None:
        notes.append(features)
    started = time.perf_counter()
    was_training = module.training
    module.eval()
    try:
        loss = PictureLoss(target.pixels, extractor, device, feature_weight)
        if pool is None or len(pool.z) != candidates or pool.seed != seed:
            pool = candidate_pool(module, candidates, seed, extractor, stop)
        if init == "nearest":
            z0 = _nearest_candidates(pool, loss, starts, stop)
        else:
            z0 = pool.z.mean(0, keepdim=True).expand(starts, dim).clone()
        z0 = z0.to(device)
        with torch.no_grad():
            start_images = to_uint8(run_generator(module, z0).float())
        start_pixel = pixel_distances(start_images, target.pixels)
        z = (_on_sphere(z0) if latent_norm == "sphere" and init == "nearest" else z0).clone()
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=LEARNING_RATE, betas=(0.9, 0.999))
        noise_gen = torch.Generator(device=device).manual_seed(int(seed) + 1)
        history = np.full((steps, 3), np.nan, np.float32)
        for step in range(steps):
            if stop():
                raise ProjectionCancelled
            t = step / steps
            for group in opt.param_groups:
                group["lr"] = learning_rate(t)
            sigma = noise_scale(t, dim)
            noise = torch.randn(z.shape, generator=noise_gen, device=device) * sigma
            x = run_generator(module, z + noise).float()
            pixel, feature, total = loss.parts(x)
            objective = total
            if latent_norm == "penalty":
                objective = total + PENALTY_WEIGHT * (z.square().mean(1) - 1.0).square()
            (grad,) = torch.autograd.grad(objective.sum(), [z])
            z.grad = grad
            opt.step()
            if latent_norm in ("sphere", "shell"):
                with torch.no_grad():
                    z.copy_(_on_sphere(z) if latent_norm == "sphere" else _in_shell(z))
            best = int(total.detach().argmin())
            history[step, 0] = float(total[best].detach())
            history[step, 1] = float(pixel[best].detach())
            if feature is not None:
                history[step, 2] = float(feature[best].detach())
            if progress is not None:
                last = step == steps - 1
                shown = None
                if last or step % PREVIEW_EVERY == 0:
                    shown = to_uint8(x[best : best + 1].detach())[0]
                progress(
                    ProjectionUpdate(
                        step + 1,
                        steps,
                        float(history[step, 0]),
                        float(history[step, 1]),
                        None if feature is None else float(history[step, 2]),
                        shown,
                    )
                )
        with torch.no_grad():
            final = z.detach()
            candidates_z = torch.cat([final, z0])  # a start that only got worse keeps its start
            totals = loss.parts(run_generator(module, candidates_z).float())[2]
            best = int(totals.argmin())
            if best >= len(final):
                notes.append("no start improved on its starting latent; the start is kept")
            latent = candidates_z[best]
            reconstruction = to_uint8(run_generator(module, latent[None]).float())[0]
    finally:
        module.train(was_training)
    feature_distance = (
        float(feature_distances(extractor, reconstruction[None], target.pixels)[0])
        if extractor is not None
        else None
    )
    return Projection(
        latent=latent.cpu().numpy().astype(np.float32),
        reconstruction=reconstruction,
        target=target,
        pixel_distance=float(pixel_distances(reconstruction[None], target.pixels)[0]),
        feature_distance=feature_distance,
        start_pixel_distance=float(start_pixel.min()),
        history=history,
        loss=loss.describe() + f"; latent norm {latent_norm}",
        features=features,
        steps=steps,
        starts=starts,
        candidates=candidates,
        seed=int(seed),
        latent_norm=latent_norm,
        init=init,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------------------
# The latent file


def sidecar_path(path: str | Path) -> Path:
    """Where a .npy latent's provenance goes: latent.npy -> latent.npy.json."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def save_projection(
    path: str | Path, projection: Projection, gen_meta: dict[str, Any]
) -> list[Path]:
    """Write the projected latent as an explorer vector file, with its provenance: a .json
    vector file holds it under "projection"; a .npy file holds the raw float32 (1, D) array
    and gets a sidecar ``latent.npy.json`` (itself a vector file of the same latent, with
    the provenance). Both written atomically; returns the paths written."""
    p = Path(path)
    z = projection.latent[None]
    meta = {
        "truncation": 1.0,
        "seed": None,
        "model_hash": str(gen_meta.get("content_hash", "")),
        "projection": projection.provenance(gen_meta),
    }
    if p.suffix.lower() == ".json":
        save_vectors(p, z, meta)
        return [p]
    save_vectors(p, z)  # refuses a suffix that is neither .npy nor .json
    sidecar = sidecar_path(p)
    doc = {"vectors": encode_vectors(z), **meta}
    atomic_write_bytes(sidecar, (json.dumps(doc) + "\n").encode())
    return [p, sidecar]


def read_projection(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The latent (dim,) of a projection file and its provenance (from the .json file, or
    from a .npy file's sidecar); ExportError / ProjectionError naming the file."""
    p = Path(path)
    z, meta = load_vectors(p)
    if p.suffix.lower() == ".npy":
        doc = read_json_file(sidecar_path(p), "a projection's provenance")
        meta = doc if isinstance(doc, dict) else {}
    prov = meta.get("projection")
    if not isinstance(prov, dict) or prov.get("kind") != "projection":
        raise ProjectionError(f"{p}: not a projected latent (no projection provenance)")
    return z[0], prov
