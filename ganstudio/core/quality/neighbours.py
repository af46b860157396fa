"""Nearest real images to a few generated ones: is the generator copying its training data?

The search walks the dataset in chunks, so 60,000 images of 64x64x3 never need more than
one chunk of floats at a time (plus a queries x chunk table of distances). Candidates are
picked with the fast ``|q|^2 + |x|^2 - 2 q.x`` form and their distances then recomputed
directly, so an exact copy reads as distance 0, not as float32 rounding noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

# Floats of data converted at a time when ``chunk`` is not given (64 MiB of float32).
CHUNK_FLOATS = 2**24

FeatureFn = Callable[[torch.Tensor], "torch.Tensor | np.ndarray"]
ProgressFn = Callable[[int, int], None]


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 (B, C*H*W) in [-1, 1]: the pixel space the networks see."""
    return images.reshape(len(images), -1).float().div_(127.5).sub_(1.0)


def _as_features(fn: FeatureFn, images: torch.Tensor) -> torch.Tensor:
    out = torch.as_tensor(fn(images))
    return out.reshape(len(images), -1).float()


def _exact_distances(q: torch.Tensor, x: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """|q_i - x_cand[i, j]| for each query i and candidate j, a few queries at a time."""
    per_query = max(1, cand.shape[1] * q.shape[1])
    step = max(1, CHUNK_FLOATS // per_query)
    parts = [
        (q[s : s + step, None, :] - x[cand[s : s + step]]).square_().sum(-1).sqrt_()
        for s in range(0, len(q), step)
    ]
    return torch.cat(parts)


def nearest_real(
    queries: np.ndarray | torch.Tensor,
    data: np.ndarray | torch.Tensor,
    k: int = 8,
    chunk: int | None = None,
    features: FeatureFn | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` images of ``data`` closest to each query, nearest first.

    ``queries``: uint8 (Q, C, H, W); ``data``: uint8 (N, C, H, W), a tensor (on any device;
    the search runs there) or an array. Distances are Euclidean, between pixel values
    scaled to [-1, 1], or between ``features(batch)`` (a callable taking a uint8 batch and
    returning float (B, F)) when given. ``chunk``: data images per step (default: about
    64 MiB of floats). ``progress(done, total)`` is called after each chunk; whatever it
    raises stops the search.

    Returns (indices int64 (Q, k'), distances float32 (Q, k')) with k' = min(k, N).
    """
    data_t = torch.as_tensor(data)
    device = data_t.device
    q_raw = torch.as_tensor(queries).to(device)
    if q_raw.ndim != data_t.ndim or q_raw.shape[1:] != data_t.shape[1:]:
        raise ValueError(
            f"queries of shape {tuple(q_raw.shape)} do not match data of shape "
            f"{tuple(data_t.shape)}"
        )
    n, nq = len(data_t), len(q_raw)
    k = min(int(k), n)
    if k <= 0 or nq == 0:
        return np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32)
    embed = pixel_features if features is None else (lambda b: _as_features(features, b))
    q = embed(q_raw).to(device)
    if chunk is None:
        chunk = max(1, CHUNK_FLOATS // max(1, q.shape[1]))
    chunk = max(int(chunk), 1)
    q_sq = (q * q).sum(1, keepdim=True)
    best_d = torch.full((nq, k), float("inf"), device=device)
    best_i = torch.full((nq, k), -1, dtype=torch.int64, device=device)
    for start in range(0, n, chunk):
        x = embed(data_t[start : start + chunk]).to(device)
        # Fast squared distances to pick candidates (float32 rounding is fine for ranking) ...
        d2 = q_sq + (x * x).sum(1) - 2.0 * (q @ x.T)
        take = min(k, len(x))
        cand = d2.topk(take, dim=1, largest=False).indices  # (Q, take)
        # ... then their exact distances, so an identical image is at 0.
        exact = _exact_distances(q, x, cand)
        all_d = torch.cat([best_d, exact], 1)
        all_i = torch.cat([best_i, cand + start], 1)
        order = all_d.argsort(dim=1, stable=True)[:, :k]
        best_d = all_d.gather(1, order)
        best_i = all_i.gather(1, order)
        if progress is not None:
            progress(min(start + chunk, n), n)
    return best_i.cpu().numpy(), best_d.cpu().numpy().astype(np.float32)
