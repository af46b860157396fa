"""A feature space for quality metrics, trained by us on the user's own data: no download.

FD, KID and precision/recall (`ganstudio.core.quality.metrics`) need a feature space. Inception,
the usual one, is a 100 MB download that knows nothing of the user's pictures; here a small
network is trained on the dataset itself (seconds to a minute on a CPU):

- Labelled images (two classes or more): a classifier; features: its 128-value embedding
  before the class layer (as FID uses Inception's last pool); its class probabilities give
  a classifier score in the spirit of the Inception Score.
- Unlabelled images: an autoencoder; features: its 128-value bottleneck, which must keep
  what the pictures show to rebuild them. No classes, hence no score.
- 2-D points: the points themselves (centred and scaled; no training). Gaussian modes of
  the dataset are its classes: p(mode | x) is a softmax of -|x - centre|^2 / (2 sigma^2).

Image features end with each channel's mean, spread and mean neighbouring-pixel difference:
blur and noise barely change a compact code but change these. Images are resized to 32 px
(up to 40 px) or 64 px (folded 2x2 into channels, so it costs what 32 px does): detail
finer than 64 px is not seen. Features are centred on the real data, then a classifier's
are scaled to unit mean variance (KID's polynomial kernel expects that) and an
autoencoder's shrinkage-whitened (`normaliser`): its raw code is dominated by one
direction, overall brightness, in which dropping kinds of picture barely shows.

Caveats: values compare only with the same extractor (data, version, steps and seed: it is
then the same network) at the same sample count, never with published FIDs (`ganstudio eval
--inception` gives those). An autoencoder weighs blur and noise more than a classifier.

Extractors are cached as ``<cache>/features/<fingerprint>-v<N>.safetensors`` (safetensors
with a JSON description, never a pickle; written atomically). A damaged file, or one made
with other settings, is ignored (logged) and replaced.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganstudio.core.data.cache import cache_root
from ganstudio.core.data.dataset import Dataset
from ganstudio.core.fileio import atomic_write_bytes

log = logging.getLogger(__name__)
Device = str | torch.device
Array = np.ndarray
Samples = np.ndarray | Tensor  # uint8 images, float images in [-1, 1], or float points

VERSION = 1
META_KEY = "ganstudio.features"
DIM = 128  # embedding size
WIDTH = 16  # channels of the first convolution
CLASSIFIER_STEPS = 400
AUTOENCODER_STEPS = 300
BATCH = 128
LR = 2e-3
NORM_SAMPLES = 4000  # real samples that set the feature normalisation
# What embedding a sample costs against one sample of a training step (a forward pass of
# the encoder, against a forward and a backward pass): for estimates of the work left.
FORWARD_SHARE = 1 / 3


class Encoder(nn.Module):
    """Images (N, C, S, S) in [-1, 1] at the working size -> (N, DIM) embedding: four 3x3
    convolutions (32 -> 4 px) and a linear layer; 64 px is first folded 2x2 into channels."""

    def __init__(self, channels: int, size: int, dim: int = DIM, width: int = WIDTH) -> None:
        super().__init__()
        self.fold = 2 if size == 64 else 1
        layers: list[nn.Module] = []
        chans = channels * self.fold**2
        for i, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            layers += [nn.Conv2d(chans, out, 3, 1 if i == 0 else 2, 1), nn.ReLU()]
            chans = out
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(chans * 16, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(F.pixel_unshuffle(x, self.fold) if self.fold > 1 else x))

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(embedding, features): the embedding followed by, per channel, the picture's
        mean, spread and mean absolute difference of neighbouring pixels."""
        dx, dy = (x[..., 1:] - x[..., :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()
        emb = self(x)
        stats = [x.mean((2, 3)), x.std((2, 3)), dx.mean((2, 3)) + dy.mean((2, 3))]
        return emb, torch.cat([emb, *stats], 1)


def encoder_of(modules: Mapping[str, nn.Module]) -> Encoder:
    """The ``"encoder"`` of an extractor's modules (always an Encoder)."""
    encoder = modules["encoder"]
    assert isinstance(encoder, Encoder)
    return encoder


def decoder(channels: int, size: int, dim: int = DIM, width: int = WIDTH) -> nn.Module:
    """(N, DIM) -> images (N, C, S, S): the Encoder mirrored with transposed convolutions."""
    fold = 2 if size == 64 else 1
    layers: list[nn.Module] = [nn.Linear(dim, 8 * width * 16), nn.Unflatten(1, (8 * width, 4, 4))]
    for i, o in ((8, 4), (4, 2), (2, 1)):  # 4 -> 8 -> 16 -> 32 px
        layers += [nn.ReLU(), nn.ConvTranspose2d(i * width, o * width, 4, 2, 1)]
    layers += [nn.ReLU(), nn.Conv2d(width, channels * fold**2, 3, 1, 1), nn.PixelShuffle(fold)]
    return nn.Sequential(*layers)


def resize(x: Tensor, size: int) -> Tensor:
    """Float images to size x size (bilinear, antialiased when shrinking)."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=max(x.shape[-2:]) > size)


class FeatureExtractor:
    """Turns samples into feature vectors, and class probabilities where there are classes.

    ``kind`` is "classifier", "autoencoder" or "points". Image samples are uint8 (N, C, H, W)
    (NumPy or torch) or float tensors in [-1, 1]; points are float (N, 2). Features are
    ``(raw - mean) @ proj`` in float64 (see `normaliser`).
    """

    def __init__(
        self,
        meta: dict[str, Any],
        modules: dict[str, nn.Module],
        mean: Tensor,
        proj: Tensor,
        device: Device,
    ) -> None:
        self.meta, self.kind, self.dim = meta, str(meta["kind"]), int(meta["dim"])
        self.modules, self.mean, self.proj = modules, mean.double().cpu(), proj.double().cpu()
        self.to(device)

    @property
    def num_classes(self) -> int:
        return int(self.meta.get("classes", 0))

    def to(self, device: Device) -> FeatureExtractor:
        self.device = torch.device(device)
        for m in self.modules.values():
            m.to(self.device).eval().requires_grad_(False)
        return self

    def describe(self) -> str:
        """One line for users: what the feature space is and how good it is."""
        m = self.meta
        if self.kind == "points":
            modes = f"; classes: its {m['classes']} modes" if m.get("classes") else ""
            return f"the 2-D points themselves (centred and scaled){modes}"
        acc, mse = m.get("heldout_accuracy"), m.get("heldout_mse")
        took = f"{m['steps']} steps in {m['train_seconds']:.0f} s"
        if self.kind == "classifier":
            how = f"{acc:.1%} held-out accuracy, " if acc is not None else ""
            return f"own features: a classifier of {m['classes']} labelled classes ({how}{took})"
        how = f"held-out reconstruction error {mse:.4f}, " if mse is not None else ""
        return f"own features: an autoencoder of {m['count']} unlabelled pictures ({how}{took})"

    @torch.no_grad()
    def _raw(self, samples: Samples, batch_size: int) -> tuple[Tensor, Tensor | None]:
        """Raw features (float64, CPU) and class logits (or None)."""
        x = samples if torch.is_tensor(samples) else torch.from_numpy(np.asarray(samples))
        if self.kind == "points":  # logits: -|x - centre|^2 / (2 sigma^2) per mode
            if x.ndim != 2 or x.shape[1] != 2:
                raise ValueError(f"expected 2-D points (N, 2), got shape {tuple(x.shape)}")
            pts, logits = x.to(torch.float64).cpu(), None
            if self.num_classes:
                centres = torch.tensor(self.meta["modes"], dtype=torch.float64)
                sigma = float(self.meta["sigma"])
                logits = -torch.cdist(pts, centres).square() / (2 * sigma * sigma)
            return pts, logits
        c = self.meta["channels"]
        if x.ndim != 4 or x.shape[1] != c:
            raise ValueError(f"expected images (N, {c}, H, W), got shape {tuple(x.shape)}")
        feats: list[Tensor] = []
        logits_out: list[Tensor] = []
        encoder, head = encoder_of(self.modules), self.modules.get("head")
        for part in x.split(batch_size):
            part = part.to(self.device)
            part = part.float().div_(127.5).sub_(1) if part.dtype == torch.uint8 else part.float()
            part = resize(part.clamp(-1, 1), self.meta["work_size"])
            emb, f = encoder.features(part)
            feats.append(f.double().cpu())
            if head is not None:
                logits_out.append(head(emb).double().cpu())
        return torch.cat(feats), (torch.cat(logits_out) if head is not None else None)

    def features_and_probs(
        self, samples: Samples, batch_size: int = 250
    ) -> tuple[Array, Array | None]:
        """features() and class_probs() from one pass through the network."""
        f, logits = self._raw(samples, batch_size)
        probs = None if logits is None else torch.softmax(logits, dim=1).numpy()
        return ((f - self.mean) @ self.proj).numpy(), probs

    def features(self, samples: Samples, batch_size: int = 250) -> np.ndarray:
        """Feature vectors, float64 (N, dim)."""
        return self.features_and_probs(samples, batch_size)[0]

    def class_probs(self, samples: Samples, batch_size: int = 250) -> np.ndarray | None:
        """p(class | sample), float64 (N, classes); None when the space has no classes."""
        return self.features_and_probs(samples, batch_size)[1]


def normaliser(raw: Tensor, shrink: bool) -> tuple[Tensor, Tensor]:
    """(mean, proj) such that (raw - mean) @ proj has unit mean variance per value.

    With ``shrink``, each principal direction of variance w is first scaled by
    1 / sqrt(w + mean w): strong directions end up near unit variance and weak ones keep
    their size, so none dominates and none is blown up (shrinkage whitening)."""
    raw = raw.double().cpu()
    mean = raw.mean(0)
    cov = torch.cov(raw.T).reshape(raw.shape[1], -1) if len(raw) > 1 else torch.eye(len(mean))
    if shrink:
        w, v = torch.linalg.eigh(cov.double())
        c = float(w.clamp_min_(0).mean()) + 1e-12
        return mean, v / (w + c).sqrt() * math.sqrt(len(w) / (float((w / (w + c)).sum()) + 1e-12))
    scale = float(cov.diagonal().mean().sqrt())
    return mean, torch.eye(len(mean), dtype=torch.float64) / (scale if scale > 0 else 1.0)


def extractor_kind(dataset: Dataset) -> str:
    """The extractor a dataset gets: "points", "classifier" (images with labels of two
    classes or more) or "autoencoder"."""
    if not dataset.info.is_image:
        return "points"
    if (labels := dataset.labels) is not None and len(labels) == len(dataset) and labels.max() > 0:
        return "classifier"
    return "autoencoder"


def _points_extractor(dataset: Dataset) -> FeatureExtractor:
    info = dataset.info
    modes = list(info.modes) if info.modes and info.mode_sigma else []
    meta = {"version": VERSION, "kind": "points", "dim": 2, "fingerprint": info.fingerprint}
    meta |= {"classes": len(modes), "modes": [list(m) for m in modes], "sigma": info.mode_sigma}
    return FeatureExtractor(meta, {}, *normaliser(dataset.data[:100_000], False), "cpu")


class ExtractorTraining:
    """Trains a dataset's feature extractor a slice of time at a time.

    ``run_for(seconds)`` trains for about that long (at least one step) and says whether it
    is done; ``result()`` trains what is left and returns the extractor (2-D point sets
    are done at once). A tenth of the data (at most 2000) is held out to measure it.
    """

    def __init__(
        self, dataset: Dataset, device: Device = "cpu", seed: int = 0, steps: int | None = None
    ) -> None:
        self.dataset, self.device, self.seed = dataset, torch.device(device), seed
        self.kind = extractor_kind(dataset)
        self.step, self.seconds, self.batch_size = 0, 0.0, BATCH
        self._first = 0.0  # seconds of the first step (one-time costs: see _step_seconds)
        self._result: FeatureExtractor | None = None
        if self.kind == "points":
            self.steps = 0
            self._result = _points_extractor(dataset)
            return
        default = CLASSIFIER_STEPS if self.kind == "classifier" else AUTOENCODER_STEPS
        self.steps = max(1, int(default if steps is None else steps))
        info = dataset.info
        self.size = 32 if info.image_size <= 40 else 64  # the working size
        self.classes = 0
        if self.kind == "classifier":
            assert dataset.labels is not None
            self.labels = dataset.labels.long()
            self.classes = max(len(info.class_names), int(self.labels.max()) + 1)
        self._gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(dataset), generator=self._gen)
        held = min(len(dataset) // 10, 2000) if len(dataset) >= 20 else 0
        self._held, self._train = perm[:held], perm[held:]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.modules: dict[str, nn.Module] = {"encoder": Encoder(info.channels, self.size)}
            if self.kind == "classifier":
                self.modules["head"] = nn.Sequential(nn.ReLU(), nn.Linear(DIM, self.classes))
            else:
                self.modules["decoder"] = decoder(info.channels, self.size)
        params = [p for m in self.modules.values() for p in m.to(self.device).parameters()]
        self._opt = torch.optim.Adam(params, lr=LR)

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def progress(self) -> float:
        """0..1: the share of training steps done (1 once the extractor is ready)."""
        return 1.0 if self.done else min(0.99, self.step / self.steps)

    def seconds_per_sample(self) -> float | None:
        """What embedding one sample with this extractor costs, as far as its training has
        measured it (see FORWARD_SHARE); None before the first step (and for 2-D points,
        whose features cost nothing)."""
        step = self._step_seconds()
        return None if step is None else step / self.batch_size * FORWARD_SHARE

    def _step_seconds(self) -> float | None:
        """Seconds per training step so far, the first step left out once there are others:
        it pays one-time costs (the allocator's first blocks, the kernels' first setup) and
        took 1.3 to 3 times a later step on 2 CPU cores (109 against 84 ms headless, about
        230 against 80 ms beside the window's first paints), which put the first estimate of
        the time left to the extractor at twice the truth. None before the first step."""
        if self.step == 0 or self.seconds <= 0:
            return None
        if self.step == 1 or self.seconds <= self._first:
            return self.seconds / self.step
        return (self.seconds - self._first) / (self.step - 1)

    def seconds_left(self) -> float | None:
        """Seconds of work left to the extractor at the speed measured so far: the steps
        left, then the held-out samples and the normalisation's samples embedded. 0 when
        done, None before the first step."""
        if self.done:
            return 0.0
        per_sample = self.seconds_per_sample()
        if per_sample is None:
            return None
        step = self._step_seconds()
        assert step is not None  # per_sample is not None
        embedded = len(self._held) + min(len(self._train), NORM_SAMPLES)
        return step * (self.steps - self.step) + per_sample * embedded

    def _batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        x = self.dataset.data[idx.to(self.dataset.device)].to(self.device)
        x = resize(x.float().div_(127.5).sub_(1.0), self.size)
        y = self.labels[idx.to(self.labels.device)].to(self.device) if self.classes else None
        return x, y

    def _loss(
        self, x: Tensor, y: Tensor | None, reduction: str = "mean"
    ) -> tuple[Tensor, Tensor | None]:
        f = self.modules["encoder"](x)
        if y is not None:
            logits = self.modules["head"](f)
            return F.cross_entropy(logits, y, reduction=reduction), logits
        return F.mse_loss(self.modules["decoder"](f), x, reduction=reduction), None

    def run_for(self, seconds: float) -> bool:
        """Train for about ``seconds`` (at least one step unless done); True once done."""
        if self.done:
            return True
        start = self._slice = time.perf_counter()
        while self.step < self.steps:
            for group in self._opt.param_groups:  # cosine decay to 0
                group["lr"] = LR * 0.5 * (1 + math.cos(math.pi * self.step / self.steps))
            idx = torch.randint(len(self._train), (self.batch_size,), generator=self._gen)
            loss, _ = self._loss(*self._batch(self._train[idx]))
            self._opt.zero_grad(set_to_none=True)
            loss.backward()
            self._opt.step()
            self.step += 1
            if self.step == 1:
                self._first = time.perf_counter() - start
            if time.perf_counter() - start >= seconds:
                break
        if self.step >= self.steps:
            self._finish()
        self.seconds += time.perf_counter() - start
        return self.done

    def result(self) -> FeatureExtractor:
        while not self.run_for(1.0):
            pass
        assert self._result is not None  # run_for is True once there is one
        return self._result

    @torch.no_grad()
    def _finish(self) -> None:  # (no layer behaves differently in training)
        info, held = self.dataset.info, self._held
        score: dict[str, float | None] = {"heldout_accuracy": None, "heldout_mse": None}
        if len(held):
            total = 0.0
            for part in held.split(500):
                x, y = self._batch(part)
                loss, logits = self._loss(x, y, "sum")
                hits = None if logits is None or y is None else (logits.argmax(1) == y).sum()
                total += float(loss) if hits is None else float(hits)
            if self.classes:
                score["heldout_accuracy"] = total / len(held)
            else:  # per pixel value, on [0, 1]
                score["heldout_mse"] = total / (len(held) * info.data_dim) / 4
        enc = encoder_of(self.modules)
        norm = self._train[:NORM_SAMPLES].split(500)
        raw = torch.cat([enc.features(self._batch(p)[0])[1].double().cpu() for p in norm])
        took = round(self.seconds + time.perf_counter() - self._slice, 2)
        meta = {"version": VERSION, "kind": self.kind, "dim": raw.shape[1], "classes": self.classes}
        meta |= {"fingerprint": info.fingerprint, "dataset": info.name, "count": len(self.dataset)}
        meta |= {"channels": info.channels, "work_size": self.size, "steps": self.steps}
        meta |= {"seed": self.seed, "batch_size": self.batch_size, "train_seconds": took, **score}
        self.modules.pop("decoder", None)
        mean, proj = normaliser(raw, shrink=self.kind == "autoencoder")
        self._result = FeatureExtractor(meta, self.modules, mean, proj, self.device)
        del self._opt


def cache_path(fingerprint: str) -> Path:
    return cache_root() / "features" / f"{fingerprint}-v{VERSION}.safetensors"


def save_extractor(extractor: FeatureExtractor, path: str | Path) -> None:
    """Weights as safetensors with the JSON description in its metadata, written atomically."""
    from safetensors.torch import save

    tensors = {
        f"{name}.{k}": v.detach().float().cpu().contiguous()
        for name, m in extractor.modules.items()
        for k, v in m.state_dict().items()
    }
    tensors |= {"norm.mean": extractor.mean.contiguous(), "norm.proj": extractor.proj.contiguous()}
    atomic_write_bytes(path, save(tensors, metadata={META_KEY: json.dumps(extractor.meta)}))


def load_extractor(path: str | Path, device: Device = "cpu") -> FeatureExtractor:
    """An extractor written by save_extractor; ValueError or OSError when it is unusable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = json.loads((fh.metadata() or {})[META_KEY])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        if not isinstance(meta, dict) or meta.get("version") != VERSION:
            raise ValueError(f"made by another version ({meta.get('version')!r})")
        kind, dim = meta["kind"], int(meta["dim"])
        mean, proj = tensors["norm.mean"], tensors["norm.proj"]
        modules: dict[str, nn.Module] = {}
        if kind in ("classifier", "autoencoder"):
            modules["encoder"] = Encoder(int(meta["channels"]), int(meta["work_size"]))
            if kind == "classifier":
                modules["head"] = nn.Sequential(nn.ReLU(), nn.Linear(DIM, int(meta["classes"])))
        elif kind != "points":
            raise ValueError(f"unknown kind {kind!r}")
    except (SafetensorError, KeyError, TypeError) as exc:
        raise ValueError(f"not a feature extractor file ({type(exc).__name__}: {exc})") from None
    ok = mean.shape == (dim,) and proj.shape == (dim, dim) and (mean.sum() + proj.sum()).isfinite()
    if not ok:
        raise ValueError("the feature normalisation is damaged (wrong size or not finite)")
    for name, m in modules.items():
        state = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
        try:
            m.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"weights do not fit ({str(exc).splitlines()[0]})") from None
    return FeatureExtractor(meta, modules, mean, proj, device)


def cached_extractor(
    dataset: Dataset, training: ExtractorTraining, device: Device = "cpu"
) -> FeatureExtractor | None:
    """The cached extractor of this data made with ``training``'s settings, or None (a
    damaged or mismatched cache file is logged and ignored)."""
    path = cache_path(dataset.info.fingerprint)
    if not path.is_file():
        return None
    try:
        ext = load_extractor(path, device)
    except (OSError, ValueError) as exc:
        log.warning("ignoring a damaged feature cache file %s (%s): retraining", path, exc)
        return None
    m, wanted = ext.meta, (dataset.info.fingerprint, training.kind, training.steps, training.seed)
    if (m.get("fingerprint"), ext.kind, m.get("steps"), m.get("seed")) != wanted:
        log.warning("feature cache %s was made with other settings: retraining", path)
        return None
    log.info("feature extractor loaded from %s", path)
    return ext


def store_extractor(extractor: FeatureExtractor, dataset: Dataset) -> None:
    """Cache the extractor of this data (a failure only logs)."""
    try:
        save_extractor(extractor, cache_path(dataset.info.fingerprint))
    except OSError as exc:
        log.warning("could not write the feature cache (%s)", exc)


def get_extractor(
    dataset: Dataset,
    device: Device = "cpu",
    progress: Callable[[float], None] | None = None,
    use_cache: bool = True,
    seed: int = 0,
    steps: int | None = None,
) -> FeatureExtractor:
    """The dataset's extractor: from the cache when a matching one is there, else trained
    (calling ``progress(fraction)`` now and then) and cached."""
    training = ExtractorTraining(dataset, device, seed=seed, steps=steps)
    cached = (
        cached_extractor(dataset, training, device) if use_cache and not training.done else None
    )
    if cached is not None:
        return cached
    report = progress or (lambda fraction: None)
    while not training.run_for(0.5):
        report(training.progress)
    ext = training.result()
    report(1.0)
    if use_cache and ext.kind != "points":
        log.info("feature extractor ready in %.1f s: %s", training.seconds, ext.describe())
        store_extractor(ext, dataset)
    return ext
