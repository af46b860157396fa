"""Latent-space maths for exploring a generator: seeded vectors, truncation, interpolation,
keyframe paths, neighbourhoods and PCA directions (GANSpace).

Every function takes and returns NumPy float32 arrays, (D,) for one latent vector and (N, D)
for several, so the results can cross threads and be saved as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ganstudio.core.explore import sampling

EASINGS = ("linear", "ease-in-out", "ease-in", "ease-out")
MODES = ("slerp", "lerp")

# Below this sine of the angle between two directions, they count as parallel or opposite.
_PARALLEL_SINE = 1e-6


def seed_vector(seed: int, dim: int) -> np.ndarray:
    """The latent vector (dim,) a seed stands for: ``sampling.latents(seed, 1, dim)[0]``."""
    return sampling.latents(seed, 1, dim)[0].numpy().astype(np.float32)


def seed_vectors(first_seed: int, n: int, dim: int) -> np.ndarray:
    """One vector per seed first_seed, first_seed + 1, ...: float32 (n, dim)."""
    if n < 0:
        raise ValueError(f"the number of vectors must be 0 or more, not {n}")
    out = np.empty((n, dim), dtype=np.float32)
    for i in range(n):
        out[i] = seed_vector(first_seed + i, dim)
    return out


def truncate(z: np.ndarray, psi: float) -> np.ndarray:
    """The truncation trick: pull latents towards the mean latent (0) by psi in (0, 1].

    psi = 1 leaves them as they are; smaller values trade variety for typical-looking samples.
    Works on one vector (D,) or several (N, D).
    """
    psi = float(psi)
    if not 0.0 < psi <= 1.0:
        raise ValueError(f"truncation psi must be in (0, 1] (1 = off), not {psi:g}")
    return (np.asarray(z, dtype=np.float32) * np.float32(psi)).astype(np.float32)


def _as_vector(v: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be one latent vector (D,), got shape {v.shape}")
    return v


def _pin_endpoints(
    out: np.ndarray, t: np.ndarray, a: np.ndarray, b: np.ndarray, scalar: bool
) -> np.ndarray:
    out = out.astype(np.float32)
    out[t == 0.0] = a.astype(np.float32)
    out[t == 1.0] = b.astype(np.float32)
    return out[0] if scalar else out


def _prepare(
    a: np.ndarray, b: np.ndarray, t: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same size, got {a.shape[0]} and {b.shape[0]}")
    scalar = np.ndim(t) == 0
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if t.ndim != 1:
        raise ValueError(f"t must be a number or a 1-D array, got shape {t.shape}")
    return a, b, t, scalar


def lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Linear interpolation between a and b (D,): (D,) for a number t, (T, D) for t (T,).

    t = 0 gives a and t = 1 gives b exactly.
    """
    a, b, t, scalar = _prepare(a, b, t)
    out = (1.0 - t)[:, None] * a + t[:, None] * b
    return _pin_endpoints(out, t, a, b, scalar)


def _perpendicular(u: np.ndarray) -> np.ndarray:
    """A unit vector perpendicular to unit u, the same every time for the same u."""
    axis = np.zeros_like(u)
    axis[int(np.argmin(np.abs(u)))] = 1.0  # the axis least aligned with u
    p = axis - (axis @ u) * u
    return p / np.linalg.norm(p)


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation between a and b (D,): (D,) for a number t, (T, D) for t (T,).

    The direction moves along the great circle from a's direction to b's and the length
    changes linearly from |a| to |b|, so two vectors of the same length keep that length all
    along the path. t = 0 gives a and t = 1 gives b exactly. Parallel vectors (or a zero
    vector) fall back to lerp; opposite vectors turn through a fixed perpendicular direction.
    """
    a, b, t, scalar = _prepare(a, b, t)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return lerp(a, b, t[0] if scalar else t)
    ua, ub = a / na, b / nb
    cos = float(np.clip(ua @ ub, -1.0, 1.0))
    across = ub - cos * ua  # the part of b's direction perpendicular to a's
    sin = float(np.linalg.norm(across))
    if sin < _PARALLEL_SINE:
        if cos > 0:
            return lerp(a, b, t[0] if scalar else t)
        across, angle = _perpendicular(ua), np.pi
    else:
        across, angle = across / sin, float(np.arctan2(sin, cos))
    theta = t[:, None] * angle
    direction = np.cos(theta) * ua + np.sin(theta) * across
    out = ((1.0 - t) * na + t * nb)[:, None] * direction
    return _pin_endpoints(out, t, a, b, scalar)


def ease(t: float | np.ndarray, name: str = "linear") -> float | np.ndarray:
    """Map progress t in [0, 1] to eased progress in [0, 1], monotonically, 0 -> 0 and 1 -> 1.

    Values outside [0, 1] are clipped first.
    """
    if name not in EASINGS:
        raise ValueError(f"unknown easing {name!r}; choose one of {', '.join(EASINGS)}")
    x = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if name == "ease-in-out":
        x = x * x * (3.0 - 2.0 * x)  # smoothstep
    elif name == "ease-in":
        x = x * x
    elif name == "ease-out":
        x = 1.0 - (1.0 - x) ** 2
    return float(x) if np.ndim(t) == 0 else x


def keyframe_path(
    keys: np.ndarray,
    steps: int,
    mode: str = "slerp",
    easing: str = "linear",
    loop: bool = False,
) -> np.ndarray:
    """Latents for an animation through keyframes (K, D): float32 (N, D).

    Each segment between consecutive keys gets ``steps`` frames, eased within the segment.
    Without loop, N = steps * (K - 1) + 1 and the last frame is the last key; with loop the
    path goes on from the last key back towards the first, N = steps * K, and the first key
    is not repeated at the end (so the animation can repeat seamlessly).
    """
    keys = np.asarray(keys, dtype=np.float32)
    if keys.ndim != 2 or keys.shape[0] < 2:
        raise ValueError(f"a path needs at least 2 keyframes (K, D), got shape {keys.shape}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps per segment must be a whole number of 1 or more, not {steps}")
    if mode not in MODES:
        raise ValueError(f"unknown interpolation mode {mode!r}; choose one of {', '.join(MODES)}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}; choose one of {', '.join(EASINGS)}")
    steps = int(steps)
    interpolate = slerp if mode == "slerp" else lerp
    t = ease(np.arange(steps) / steps, easing)
    ends = list(range(1, len(keys))) + ([0] if loop else [])
    segments = [interpolate(keys[i - 1 if i else -1], keys[i], t) for i in ends]
    if not loop:
        segments.append(keys[-1:])
    return np.concatenate(segments).astype(np.float32)


def neighbours(z: np.ndarray, n: int, spread: float, seed: int = 0) -> np.ndarray:
    """n variations of z (D,): z plus spread times seeded normal noise, float32 (n, D).

    Row 0 is z itself; the same seed always gives the same neighbours.
    """
    z = _as_vector(z, "z").astype(np.float32)
    if n < 1:
        raise ValueError(f"the number of neighbours must be 1 or more, not {n}")
    if not spread >= 0:
        raise ValueError(f"spread must be 0 or more, not {spread}")
    noise = sampling.latents(seed, n, z.shape[0]).numpy()
    out = z + np.float32(spread) * noise
    out[0] = z
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------
# GANSpace (Härkönen et al. 2020): principal directions of the generator's early features,
# carried back to the latent space by regression.


@dataclass(frozen=True, eq=False)
class Directions:
    """Interpretable latent directions, strongest first.

    vectors: float32 (k, D) unit-norm latent directions.
    stdev: float32 (k,) the spread of the latents along each direction (a slider spanning
        +-3 stdev covers nearly all samples).
    explained: float32 (k,) each component's share of the feature variance.
    """

    vectors: np.ndarray
    stdev: np.ndarray
    explained: np.ndarray


_NONLINEAR = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU)


def first_block(module: nn.Module) -> nn.Sequential:
    """The generator's first block: its ``head`` when it has one (FastGAN: z -> 4x4), else
    the layers of ``module.net`` up to and including its first nonlinearity."""
    head = getattr(module, "head", None)
    if isinstance(head, nn.Sequential):
        return head
    net = getattr(module, "net", None)
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"{type(module).__name__} has no `net` Sequential to analyse")
    for i, layer in enumerate(net):
        if isinstance(layer, _NONLINEAR):
            block = net[: i + 1]
            assert isinstance(block, nn.Sequential)  # a slice of a Sequential is one
            return block
    raise ValueError(f"{type(module).__name__}.net has no nonlinearity")


@torch.no_grad()
def first_block_features(module: nn.Module, z: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Activations after the generator's first block for latents z (N, D), flattened (N, F).

    Computed in eval mode (batch norm uses its running statistics); the module's mode is
    restored afterwards. Returns float32 on the CPU.
    """
    block = first_block(module)
    param = next(module.parameters())
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(param.device, param.dtype)
    if isinstance(block[0], (nn.ConvTranspose2d, nn.Conv2d)):
        z = z.view(z.shape[0], -1, 1, 1)  # convolutional generators take z as a 1x1 image
    was_training = module.training
    module.eval()
    try:
        return block(z).flatten(1).float().cpu()
    finally:
        module.train(was_training)


def _top_components(x: torch.Tensor, q: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left singular vectors (N, q) and singular values (q,) of centred x (N, F).

    Randomized SVD (Halko et al. 2011) with a seeded test matrix, so the result is
    deterministic and the global random state is left alone.
    """
    n, f = x.shape
    if min(n, f) <= 4 * q + 20:
        u, s, _ = torch.linalg.svd(x, full_matrices=False)
        return u[:, :q], s[:q]
    g = torch.Generator().manual_seed(int(seed))
    sketch = min(2 * q + 10, n, f)  # oversampling: holds ~98% of the top-q variance even
    basis, _ = torch.linalg.qr(x @ torch.randn(f, sketch, generator=g))  # for a flat spectrum
    for _ in range(5):  # power iterations sharpen the leading subspace
        basis, _ = torch.linalg.qr(x.T @ basis)
        basis, _ = torch.linalg.qr(x @ basis)
    u, s, _ = torch.linalg.svd(basis.T @ x, full_matrices=False)
    return (basis @ u)[:, :q], s[:q]


def pca_directions(
    module: nn.Module, k: int = 10, n_samples: int = 2000, seed: int = 0
) -> Directions:
    """GANSpace directions of a generator (mlp_g, dcgan_g or fastgan_g): float32 (k', D) with
    k' = min(k, latent size, feature count, n_samples - 1).

    Samples n_samples latents (seeded), takes the activations after the first block (see
    ``first_block``), finds their principal components, and regresses the latents onto the
    principal coordinates (least squares) to get one latent direction per component. Signs
    are fixed so that each direction's largest entry is positive; the same arguments always
    give the same directions.
    """
    # getattr: nn.Module types its attributes as Tensor | Module; latent_dim is an int here.
    dim = int(getattr(module, "latent_dim"))  # noqa: B009
    if k < 1:
        raise ValueError(f"the number of directions must be 1 or more, not {k}")
    if n_samples < 2:
        raise ValueError(f"PCA needs at least 2 samples, not {n_samples}")
    z = sampling.latents(seed, n_samples, dim)
    feats = first_block_features(module, z)
    feats -= feats.mean(0)
    k = min(k, dim, feats.shape[1], n_samples - 1)
    u, s = _top_components(feats, k, seed)
    u, s = u.double(), s.double()
    coords = u * s  # principal coordinates (N, k)
    z_centred = (z - z.mean(0)).double()
    vectors = torch.linalg.lstsq(coords, z_centred).solution  # (k, D): z ~ coords @ vectors
    norms = vectors.norm(dim=1, keepdim=True)
    vectors = vectors / norms.clamp_min(1e-12)
    biggest = vectors.gather(1, vectors.abs().argmax(1, keepdim=True))
    vectors = vectors * torch.where(biggest < 0, -1.0, 1.0)
    stdev = (z_centred @ vectors.T).std(0)
    total = float(torch.linalg.vector_norm(feats)) ** 2
    explained = s.square() / total if total > 0 else torch.zeros_like(s)
    return Directions(
        vectors=vectors.float().numpy(),
        stdev=stdev.float().numpy(),
        explained=explained.float().numpy(),
    )
