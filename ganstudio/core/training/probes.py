"""Looking inside a running game without changing it: D's outputs, its extremes, the 2-D field.

A probe runs the networks being trained (the generator itself, not its EMA average) on a
fresh real batch and a fresh generated batch, in their training mode, so it shows what the
discriminator is learning from. It changes no training state: the random draws come from
the probe's own generator, gradients are taken with ``torch.autograd.grad`` (nothing is
accumulated in the weights' ``.grad``), and every buffer (batch-norm statistics, spectral
norm vectors) is put back afterwards. A run with probes is bit-for-bit the run without.

For 2-D datasets the probe also maps the whole plane: D's output on a grid (the heat map),
the gradient of the generator's loss at each generated point (where the generator is being
pushed), the image of a grid in latent space (the generator's manifold, warped) and how
many generated points fall on each mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ganstudio.core.conditioning import run_discriminator, run_generator
from ganstudio.core.quality.coverage import HQ_RADIUS_SIGMAS
from ganstudio.core.render import to_uint8
from ganstudio.core.training.events import Field2D, Probe

if TYPE_CHECKING:
    from ganstudio.core.training.trainer import Trainer

# Samples per probe (also capped by the training batch size for images).
PROBE_SAMPLES = 256
EXTREMES = 8  # least-real real images and most-real generated images shown
FIELD_RESOLUTION = 64  # heat-map cells per side
FIELD_POINTS = 512  # generated points drawn with their arrows
FIELD_REAL = 512  # at least FIELD_POINTS: a relativistic loss pairs each point with a real one
MANIFOLD_LINES = 21  # latent grid lines per direction
MANIFOLD_SPAN = 2.5  # the latent grid covers [-span, span] on two latent axes
FIELD_MARGIN = 0.25  # heat map extent: the data's bounding box grown by this share


@contextlib.contextmanager
def preserved_buffers(*modules: nn.Module) -> Iterator[None]:
    """Restore every buffer of the modules on exit (a forward pass in training mode updates
    batch-norm running statistics and spectral-norm power-iteration vectors)."""
    saved = [[(b, b.detach().clone()) for b in m.buffers()] for m in modules]
    try:
        yield
    finally:
        with torch.no_grad():
            for pairs in saved:
                for buf, copy in pairs:
                    buf.copy_(copy)


def _per_sample(out: torch.Tensor, pack: int, probabilistic: bool) -> torch.Tensor:
    out = out.detach().float().reshape(-1)
    if probabilistic:
        out = torch.sigmoid(out)
    return out.repeat_interleave(pack) if pack > 1 else out


def _pack(trainer: Trainer) -> int:
    return int(getattr(trainer.D, "pack", 1) or 1)


def field_extent(data: np.ndarray) -> tuple[float, float, float, float]:
    """A square view around the data (its bounding box plus a margin)."""
    finite = data[np.isfinite(data).all(axis=1)]
    if not len(finite):
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    centre = (lo + hi) / 2
    half = float(max(hi - lo)) / 2 * (1 + 2 * FIELD_MARGIN) or 1.0
    return (
        float(centre[0] - half),
        float(centre[0] + half),
        float(centre[1] - half),
        float(centre[1] + half),
    )


def _d_on_points(trainer: Trainer, pts: torch.Tensor) -> torch.Tensor:
    """D's per-point output; with PacGAN each point is judged as a pack of copies of itself."""
    pack = _pack(trainer)
    x = pts.repeat_interleave(pack, dim=0) if pack > 1 else pts
    return trainer.D(x)


def _field(trainer: Trainer, gen: torch.Generator) -> Field2D:
    device, loss = trainer.device, trainer.loss
    G, D = trainer.G, trainer.D
    data = trainer.data.data
    if trainer.field_extent is None:
        trainer.field_extent = field_extent(data.float().cpu().numpy())
    x0, x1, y0, y1 = trainer.field_extent
    n = FIELD_RESOLUTION
    ys, xs = torch.meshgrid(torch.linspace(y0, y1, n), torch.linspace(x0, x1, n), indexing="ij")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).to(device)
    with torch.no_grad():
        heat = _per_sample(_d_on_points(trainer, grid), 1, loss.probabilistic).reshape(n, n)
    idx = torch.randint(len(data), (FIELD_REAL,), generator=gen).to(data.device)
    real = data[idx].float()

    z = trainer.fixed_z
    with torch.no_grad():
        all_fake = torch.cat([G(c) for c in z.split(1024)]).float()
    pack = _pack(trainer)
    count = len(all_fake) // pack * pack
    shown = min(FIELD_POINTS, count) // pack * pack
    fake = all_fake[:shown].detach().requires_grad_(True)
    g_real = None
    if loss.g_needs_real:  # a relativistic loss: pair the points with as many real ones
        with torch.no_grad():
            g_real = D(real[:shown]).float()
    with torch.enable_grad():
        g_loss = loss.g_loss(D(fake).float(), g_real)
        (grad,) = torch.autograd.grad(g_loss, fake)
    # The loss is a mean over D's outputs: scale back to each point's own loss.
    push = -grad * (shown // pack)

    latent_dim = z.shape[1]
    t = torch.linspace(-MANIFOLD_SPAN, MANIFOLD_SPAN, MANIFOLD_LINES)
    a, b = torch.meshgrid(t, t, indexing="ij")
    zg = torch.zeros(MANIFOLD_LINES * MANIFOLD_LINES, latent_dim)
    zg[:, 0] = a.reshape(-1)
    if latent_dim > 1:
        zg[:, 1] = b.reshape(-1)
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            manifold = G(zg.to(device)).float().reshape(MANIFOLD_LINES, MANIFOLD_LINES, 2)
    finally:
        G.train(was_training)

    modes = trainer.info.modes
    radius = 0.0
    if modes and trainer.info.mode_sigma:
        radius = HQ_RADIUS_SIGMAS * float(trainer.info.mode_sigma)
        centres = torch.tensor(modes, dtype=torch.float32, device=device)
        dist = torch.cdist(all_fake, centres)
        nearest, which = dist.min(1)
        on_mode = nearest <= radius
        counts = torch.bincount(which[on_mode], minlength=len(modes)).cpu().numpy()
        counts = np.append(counts, int((~on_mode).sum())).astype(np.int64)
    else:
        counts = np.zeros(0, np.int64)

    def host(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy().astype(np.float32)

    return Field2D(
        extent=trainer.field_extent,
        heat=host(heat),
        real=host(real),
        fake=host(fake),
        push=host(push),
        manifold=host(manifold),
        mode_counts=counts,
        mode_radius=radius,
    )


def take_probe(trainer: Trainer, phase: str = "") -> Probe:
    """A probe of ``trainer``'s current networks (see the module docstring)."""
    gen = trainer.probe_rng
    device, loss, r = trainer.device, trainer.loss, trainer.resolved
    G, D = trainer.G, trainer.D
    pack = _pack(trainer)
    is_image = trainer.info.is_image
    n = min(PROBE_SAMPLES, r.batch_size) if is_image else PROBE_SAMPLES
    n = max(pack, n // pack * pack)
    data = trainer.data
    with preserved_buffers(G, D), torch.no_grad():
        idx = torch.randint(len(data), (n,), generator=gen).to(data.device)
        raw = data.data[idx]
        real = data.normalize(raw.to(device))
        z = torch.randn(n, r.latent_dim, generator=gen).to(device)
        # A conditional run: D judges the real pictures by their labels, and the generated
        # ones by random classes (drawn from the probes' own generator).
        y_real = y_fake = None
        if trainer.classes and data.labels is not None:
            y_real = data.labels[idx.to(data.labels.device)].long().to(device)
            y_fake = torch.randint(trainer.classes, (n,), generator=gen).to(device)
        fake = run_generator(G, z, y_fake).float()
        d_real = _per_sample(run_discriminator(D, real, y_real), pack, loss.probabilistic)
        d_fake = _per_sample(run_discriminator(D, fake, y_fake), pack, loss.probabilistic)
        if is_image:
            k = min(EXTREMES, n)
            low = torch.argsort(d_real)[:k]
            high = torch.argsort(d_fake, descending=True)[:k]
            least, least_s = raw[low.to(raw.device)].cpu().numpy(), d_real[low]
            most, most_s = to_uint8(fake[high]), d_fake[high]
        else:
            least = most = np.zeros((0,), np.uint8)
            least_s = most_s = torch.zeros(0)
        field = None if is_image else _field(trainer, gen)

    def host(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy().astype(np.float32)

    return Probe(
        step=trainer.step,
        phase=phase,
        probabilistic=loss.probabilistic,
        d_real=host(d_real),
        d_fake=host(d_fake),
        least_real=np.asarray(least),
        least_real_scores=host(least_s),
        most_real=np.asarray(most),
        most_real_scores=host(most_s),
        field=field,
    )
