"""The standard FID and Inception Score network: InceptionV3 for the FID weights file.

FID (Heusel et al. 2017) and the Inception Score (Salimans et al. 2016) are comparable with
published numbers only when computed with one particular network: the TensorFlow Inception
graph of 2015-12-05, as ported to PyTorch by pytorch-fid. Its weights are the file
``pt_inception-2015-12-05-6726825d.pth`` (about 91 MB), a ``torch.save``d state dict that the
``pytorch-fid`` package downloads (torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``
has the same keys). The program never downloads it; the user points to a file they have.

The network is written here (torchvision is not used) with the parameter names of
torchvision's ``Inception3`` (1008 classes, no auxiliary classifier), so the file loads with
``load_state_dict(strict=True)``, and with pytorch-fid's changes that reproduce the TensorFlow
graph: the average pools of the Mixed blocks ignore the zero padding (``count_include_pad=False``)
and the last block's pool branch is a max pool. Images are resized to 299 x 299 (bilinear,
``align_corners=False``) and scaled to [-1, 1] as pytorch-fid does, so the 2048-d pool features
are pytorch-fid's. The file is read with ``torch.load(weights_only=True)``: tensors only, no
Python objects, so a crafted file cannot run code.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.core.errors import UserError
from ganstudio.core.quality.metrics import frechet_distance

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE = 299
FEATURES = 2048
CLASSES = 1008


class InceptionError(UserError, ValueError):
    """The Inception weights file cannot be used; the message names the file and the reason."""


class _Conv(nn.Module):
    """torchvision's BasicConv2d: convolution without bias, batch norm, ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool leaves the zero padding out of the mean.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):
    """Mixed_5b..5d (pytorch-fid's FIDInceptionA), 35 x 35."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1 = _Conv(cin, 48, 1)
        self.branch5x5_2 = _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class _BlockB(nn.Module):
    """Mixed_6a (torchvision's InceptionB): 35 x 35 -> 17 x 17."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockC(nn.Module):
    """Mixed_6b..6e (pytorch-fid's FIDInceptionC), 17 x 17, factorised 7 x 7 convolutions."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1 = _Conv(cin, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(cin, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = conv(d)
        d = self.branch7x7dbl_5(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class _BlockD(nn.Module):
    """Mixed_7a (torchvision's InceptionD): 17 x 17 -> 8 x 8."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _Conv(cin, 192, 1)
        self.branch3x3_2 = _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class _BlockE(nn.Module):
    """Mixed_7b (FIDInceptionE_1, average pool) and Mixed_7c (FIDInceptionE_2, max pool)."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(cin, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        # The TensorFlow graph's last block max-pools here (pytorch-fid's FIDInceptionE_2).
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pool)], 1)


def _resize(x: torch.Tensor) -> torch.Tensor:
    """(N, 1 or 3, H, W) -> (N, 3, 299, 299): grey repeated to RGB, bilinear like pytorch-fid."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


class InceptionV3(nn.Module):
    """InceptionV3 as in pytorch-fid's FID model; the parameter names are the weights file's.

    ``forward(x)`` takes float images in [-1, 1], (N, 1 or 3, H, W) of any size, and returns
    ``(pool, logits)``: the 2048-d average-pool features FID uses, (N, 2048), and the 1008
    class logits, (N, 1008), computed as ``pool @ fc.weight.T`` without ``fc.bias``, as the
    original Inception Score code (a MatMul on ``softmax/logits`` weights) and torch-fidelity's
    ``logits_unbiased`` do.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b = _BlockA(192, pool_features=32)
        self.Mixed_5c = _BlockA(256, pool_features=64)
        self.Mixed_5d = _BlockA(288, pool_features=64)
        self.Mixed_6a = _BlockB(288)
        self.Mixed_6b = _BlockC(768, c7=128)
        self.Mixed_6c = _BlockC(768, c7=160)
        self.Mixed_6d = _BlockC(768, c7=160)
        self.Mixed_6e = _BlockC(768, c7=192)
        self.Mixed_7a = _BlockD(768)
        self.Mixed_7b = _BlockE(1280, max_pool=False)
        self.Mixed_7c = _BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # 64 x 147 x 147
        x = F.max_pool2d(x, 3, stride=2)  # 73 x 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # 192 x 71 x 71
        x = F.max_pool2d(x, 3, stride=2)  # 35 x 35
        blocks: tuple[nn.Module, ...] = (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a)
        for block in blocks:
            x = block(x)  # 768 x 17 x 17 after Mixed_6a
        for block in (self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # 2048 x 8 x 8
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pool, pool @ self.fc.weight.T


def _fail(path: Path, what: str) -> InceptionError:
    return InceptionError(f"{path}: {what} (expected the Inception weights file {WEIGHTS_FILE}).")


def _few(keys: Iterable[str], n: int = 4) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise _fail(path, "no such file")
    if not path.is_file():
        raise _fail(path, "not a file")
    try:
        with warnings.catch_warnings():  # e.g. about pickle protocols: the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower():
            raise _fail(path, "it holds Python objects, refused: only tensors are read") from None
        raise _fail(path, "not a PyTorch weights file") from None
    except Exception:  # noqa: BLE001 - any reader failure is a bad file
        what = "the file is empty" if path.stat().st_size == 0 else "not a PyTorch weights file"
        raise _fail(path, what) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise _fail(path, "not a state dict (a mapping of names to tensors)")
    return dict(state)


def load_inception(path: str | Path, device: str | torch.device = "cpu") -> InceptionV3:
    """The FID InceptionV3 with the weights of ``path``, in eval mode, without gradients.

    Raises InceptionError, naming the file, when it is missing, unreadable, holds Python
    objects, is torchvision's ImageNet Inception rather than the FID one, or has other keys or
    shapes than ``pt_inception-2015-12-05-6726825d.pth``.
    """
    path = Path(path)
    state = _read_state_dict(path)
    model = InceptionV3()
    expected = model.state_dict()
    fc = state.get("fc.weight")
    if any(k.startswith("AuxLogits.") for k in state) or (
        fc is not None and tuple(fc.shape) == (1000, FEATURES)
    ):
        raise _fail(
            path, "torchvision's ImageNet Inception v3 (inception_v3_google), not the FID one"
        )
    # Files written without batch-norm step counters (unused in eval mode) are fine.
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value.clone()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        parts = [f"missing {_few(missing)}" if missing else ""]
        parts.append(f"unexpected {_few(unexpected)}" if unexpected else "")
        raise _fail(path, "wrong keys: " + "; ".join(p for p in parts if p))
    wrong = [k for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        k = sorted(wrong)[0]
        shapes = f"{k} is {tuple(state[k].shape)}, not {tuple(expected[k].shape)}"
        count = f"{len(wrong)} tensor{'s' if len(wrong) > 1 else ''}"
        raise _fail(path, f"{count} of the wrong shape, e.g. {shapes}")
    if not all(v.is_floating_point() for k, v in state.items() if "num_batches" not in k):
        raise _fail(path, "some weights are not floating-point numbers")
    if not all(bool(torch.isfinite(v).all()) for v in state.values()):
        raise _fail(path, "some weights are NaN or infinite")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise _fail(path, "the weights do not fit the network") from None
    model.eval().requires_grad_(False)
    return model.to(device)


@torch.no_grad()
def inception_outputs(
    model: InceptionV3,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pool features (N, 2048) and class probabilities (N, 1008), float64, of uint8 images.

    ``images``: uint8 (N, C, H, W), C 1 (repeated to RGB) or 3, numpy or torch. Converted as
    pytorch-fid converts image files: x / 255, resized to 299 x 299, then 2 x - 1. The
    probabilities are the softmax (in float64) of the logits without bias over all 1008
    classes. ``device``: where to run (the model is moved there), by default the model's
    device; ``progress(done, total)`` is called after each batch.
    """
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, 1 or 3, H, W), got {x.dtype} {tuple(x.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    features, probs = [], []
    for start in range(0, len(x), batch_size):
        batch = _resize(x[start : start + batch_size].to(device).float().div(255))
        pool, logits = model(2 * batch - 1)
        features.append(pool.double().cpu())
        probs.append(torch.softmax(logits.double(), dim=1).cpu())
        if progress is not None:
            progress(min(start + batch_size, len(x)), len(x))
    if not features:
        return np.zeros((0, FEATURES)), np.zeros((0, CLASSES))
    return torch.cat(features).numpy(), torch.cat(probs).numpy()


def fid(
    model: InceptionV3,
    images_a: np.ndarray | torch.Tensor,
    images_b: np.ndarray | torch.Tensor,
    batch_size: int = 50,
) -> float:
    """The standard FID between two sets of uint8 images (see ``inception_outputs``)."""
    a = inception_outputs(model, images_a, batch_size)[0]
    return frechet_distance(a, inception_outputs(model, images_b, batch_size)[0])


def inception_score(probs: npt.ArrayLike, splits: int = 10) -> tuple[float, float]:
    """The Inception Score: exp(E_x KL(p(y|x) || p(y))), its mean and std over ``splits``.

    Follows the original code (Salimans et al. 2016) and torch-fidelity: ``probs`` are the
    softmax over all 1008 classes, the "background" class 0 and the 7 unused ones included;
    the rows are split in order into ``splits`` consecutive parts of N // splits or so rows,
    p(y) is each part's mean, and the std is numpy's (ddof 0) over the parts. torch-fidelity
    shuffles the rows first (seed 2020); the one-split value is the same either way.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) < 1:
        raise ValueError(f"expected probabilities (N, classes), got shape {p.shape}")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of rows {len(p)}, got {splits}")
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(1), 1, atol=1e-4):
        raise ValueError("probabilities must be finite, non-negative and sum to 1 per row")
    log_p = np.log(np.where(p > 0, p, 1.0))  # 0 log 0 = 0
    scores = []
    for i in range(splits):
        rows = slice(i * len(p) // splits, (i + 1) * len(p) // splits)
        part, log_part = p[rows], log_p[rows]
        marginal = part.mean(0, keepdims=True)
        log_marginal = np.log(np.where(marginal > 0, marginal, 1.0))
        kl = (part * (log_part - log_marginal)).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))
