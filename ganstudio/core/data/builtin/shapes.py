"""The built-in ``shapes``: coloured shapes on gradient backgrounds, rendered from signed
distance functions at 32 or 64 px."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import torch

from ganstudio.core.data.builtin.common import (
    MAX_IMAGES,
    check_options,
    parse_count,
    parse_int,
    seeded_generator,
    uniform,
)
from ganstudio.core.data.dataset import (
    IMAGES,
    Dataset,
    DatasetInfo,
)
from ganstudio.core.data.guards import check_memory

log = logging.getLogger(__name__)

SHAPE_SIZES = (32, 64)
SHAPE_NAMES = ("circle", "square", "triangle", "hexagon", "star", "ring")
# Shapes are generated about this many pixels at a time, to bound memory and stay in cache.
_CHUNK_PIXELS = 1 << 18

# ---------------------------------------------------------------------------------------------
# Shapes: signed-distance rendering of coloured shapes on gradient backgrounds


def _sd_circle(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(x * x + y * y) - r


def _sd_square(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    h = r * 0.74  # half side
    qx, qy = x.abs() - h, y.abs() - h
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
    return outside + torch.maximum(qx, qy).clamp(max=0)


def _sd_triangle(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # Equilateral triangle with circumradius r (after Inigo Quilez's sdEquilateralTriangle).
    h = r * (math.sqrt(3.0) / 2.0)  # half side
    k = math.sqrt(3.0)
    x = x.abs() - h
    y = y + h / k
    fold = (x + k * y) > 0
    x, y = torch.where(fold, (x - k * y) / 2, x), torch.where(fold, (-k * x - y) / 2, y)
    x = x - torch.minimum(torch.maximum(x, -2 * h), torch.zeros_like(x))
    return -torch.sqrt(x * x + y * y) * torch.sign(y)


def _sd_hexagon(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # Regular hexagon with circumradius r (after Inigo Quilez's sdHexagon).
    kx, ky, kz = -0.866025404, 0.5, 0.577350269
    a = r * (math.sqrt(3.0) / 2.0)  # apothem
    x, y = x.abs(), y.abs()
    d = 2.0 * (kx * x + ky * y).clamp(max=0)
    x, y = x - d * kx, y - d * ky
    x = x - torch.minimum(torch.maximum(x, -kz * a), kz * a)
    y = y - a
    return torch.sqrt(x * x + y * y) * torch.sign(y)


def _sd_star(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # Five-pointed star, outer radius r, inner radius 0.45 r (after Inigo Quilez's sdStar5).
    k1x, k1y = 0.809016994375, -0.587785252292
    k2x, k2y = -k1x, k1y
    rf = 0.45
    y = -y  # point up in image coordinates (y grows downwards)
    x = x.abs()
    d = 2.0 * (k1x * x + k1y * y).clamp(min=0)
    x, y = x - d * k1x, y - d * k1y
    d = 2.0 * (k2x * x + k2y * y).clamp(min=0)
    x, y = x - d * k2x, y - d * k2y
    x = x.abs()
    y = y - r
    bax, bay = rf * -k1y, rf * k1x - 1.0
    h = ((x * bax + y * bay) / (bax * bax + bay * bay)).clamp(min=0)
    h = torch.minimum(h, r)
    dx, dy = x - bax * h, y - bay * h
    return torch.sqrt(dx * dx + dy * dy) * torch.sign(y * bax - x * bay)


def _sd_ring(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return (torch.sqrt(x * x + y * y) - 0.7 * r).abs() - 0.3 * r


_SDFS: tuple[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], ...] = (
    _sd_circle,
    _sd_square,
    _sd_triangle,
    _sd_hexagon,
    _sd_star,
    _sd_ring,
)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """HSV (each in [0, 1], any shape) -> RGB stacked on a new last axis."""
    n = torch.tensor([5.0, 3.0, 1.0])
    k = (n + h[..., None] * 6.0) % 6.0
    ramp = torch.minimum(torch.minimum(k, 4.0 - k), torch.ones_like(k)).clamp(min=0)
    return v[..., None] - v[..., None] * s[..., None] * ramp


def shape_colours(
    g: torch.Generator, count: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Background end colours (two, muted) and a fill colour that stands out from both."""
    hue = torch.rand(count, generator=g)
    c1 = _hsv_to_rgb(hue, uniform(g, (count,), 0.05, 0.6), uniform(g, (count,), 0.1, 0.95))
    hue2 = (hue + uniform(g, (count,), -0.2, 0.2)) % 1.0
    c2 = _hsv_to_rgb(hue2, uniform(g, (count,), 0.05, 0.6), uniform(g, (count,), 0.1, 0.95))
    # Several candidate fills per image; keep the first far enough from both background
    # colours, or failing that the farthest.
    tries = 16
    fills = _hsv_to_rgb(
        torch.rand((count, tries), generator=g),
        uniform(g, (count, tries), 0.45, 1.0),
        uniform(g, (count, tries), 0.35, 1.0),
    )
    dist = torch.minimum((fills - c1[:, None]).norm(dim=-1), (fills - c2[:, None]).norm(dim=-1))
    ok = dist > 0.5
    pick = torch.where(ok.any(1), ok.float().argmax(1), dist.argmax(1))
    fill = fills[torch.arange(count), pick]
    return c1, c2, fill


def _parse_size(value: object) -> int:
    try:
        s = parse_int("size", value)
    except ValueError:
        raise ValueError(f"size must be 32 or 64, got {value!r}") from None
    if s not in SHAPE_SIZES:
        raise ValueError(f"size must be 32 or 64, got {s}")
    return s


def shapes(seed: int = 0, n: object = 20_000, size: object = 32, **extra: object) -> Dataset:
    """Coloured shapes (circle, square, triangle, hexagon, star, ring) on varied backgrounds.

    RGB, ``size`` 32 or 64. Each image has one shape at a random position, scale and
    rotation, in a colour chosen to contrast with its background: a two-colour linear
    gradient in a random direction, sometimes with faint stripes, plus light noise.
    Labels are the shape type (see SHAPE_NAMES).
    """
    check_options("shapes", extra, ("n", "size"))
    s = _parse_size(size)
    count = parse_count(n, MAX_IMAGES)
    # up to 2.5 GB at the largest n and size: more than some machines can spare
    check_memory(count * 3 * s * s, f"{count:,} shapes at {s}x{s}", "builtin:shapes")
    start = time.perf_counter()
    g = seeded_generator(seed)

    labels = torch.randint(len(SHAPE_NAMES), (count,), generator=g)
    radius = uniform(g, (count,), 0.2, 0.4) * s
    # Keep the whole shape inside the image: centre at least radius + 1 px from the edges.
    centre = (
        radius[:, None]
        + 1.0
        + torch.rand((count, 2), generator=g) * (s - 2.0 * (radius[:, None] + 1.0))
    )
    angle = torch.rand(count, generator=g) * (2.0 * math.pi)
    c1, c2, fill = shape_colours(g, count)
    grad_angle = torch.rand(count, generator=g) * (2.0 * math.pi)
    striped = torch.rand(count, generator=g) < 0.3
    stripe_amp = torch.where(striped, uniform(g, (count,), 0.02, 0.06), torch.zeros(count))
    stripe_freq = uniform(g, (count,), 3.0, 8.0) * (2.0 * math.pi / s)
    stripe_angle = torch.rand(count, generator=g) * (2.0 * math.pi)
    stripe_phase = torch.rand(count, generator=g) * (2.0 * math.pi)
    noise_amp = uniform(g, (count,), 0.0, 0.025)

    axis = torch.arange(s, dtype=torch.float32) + 0.5  # pixel centres
    px = axis[None, None, :]
    py = axis[None, :, None]
    gx, gy = px - s / 2, py - s / 2
    cos_grad, sin_grad = torch.cos(grad_angle) / (0.75 * s), torch.sin(grad_angle) / (0.75 * s)
    cos_stripe = torch.cos(stripe_angle) * stripe_freq
    sin_stripe = torch.sin(stripe_angle) * stripe_freq
    cos_shape, sin_shape = torch.cos(angle), torch.sin(angle)
    out = torch.empty((count, 3, s, s), dtype=torch.uint8)
    chunk = max(64, _CHUNK_PIXELS // (s * s))  # small chunks keep the work in cache
    for lo in range(0, count, chunk):
        sl = slice(lo, min(lo + chunk, count))
        c = sl.stop - sl.start

        def per(v: torch.Tensor, sl: slice = sl) -> torch.Tensor:
            return v[sl, None, None]

        # Background: gradient across the image, optional stripes, light noise.
        t = (gx * per(cos_grad) + gy * per(sin_grad)).add_(0.5).clamp_(0.0, 1.0)[:, None]
        phase = gx * per(cos_stripe) + gy * per(sin_stripe) + per(stripe_phase)
        shade = torch.randn((c, s, s), generator=g).mul_(per(noise_amp))
        shade.addcmul_(phase.sin_(), per(stripe_amp))
        c1c = c1[sl, :, None, None]
        bg = torch.addcmul(c1c, c2[sl, :, None, None] - c1c, t).add_(shade[:, None])

        # Shape: signed distance in pixels, in the shape's rotated frame.
        dx, dy = px - per(centre[:, 0]), py - per(centre[:, 1])
        ca, sa = per(cos_shape), per(sin_shape)
        x, y = dx * ca + dy * sa, dy * ca - dx * sa
        dist = torch.empty((c, s, s))
        lab = labels[sl]
        for kind, sdf in enumerate(_SDFS):
            sel = (lab == kind).nonzero().squeeze(1)
            if len(sel):
                dist[sel] = sdf(x[sel], y[sel], radius[sl][sel, None, None])
        # Antialiased coverage: smoothstep across one pixel of the edge.
        a = dist.neg_().add_(0.5).clamp_(0.0, 1.0)
        a = (a * a * (3.0 - 2.0 * a))[:, None]
        img = bg.addcmul_(fill[sl, :, None, None] - bg, a)
        out[sl] = img.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)

    log.debug("generated %d shapes (%dpx) in %.2f s", count, s, time.perf_counter() - start)
    info = DatasetInfo(
        name="builtin:shapes",
        kind=IMAGES,
        count=count,
        sample_shape=(3, s, s),
        class_names=SHAPE_NAMES,
    )
    return Dataset(out, info, labels)
