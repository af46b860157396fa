"""The built-in ``digits``: MNIST-like 28 px digits drawn from Pillow's bundled font glyphs,
jittered like handwriting (no download)."""

from __future__ import annotations

import functools
import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from ganstudio.core.data.builtin.common import (
    MAX_IMAGES,
    check_options,
    parse_count,
    seeded_generator,
    uniform,
)
from ganstudio.core.data.dataset import (
    IMAGES,
    Dataset,
    DatasetInfo,
)

log = logging.getLogger(__name__)

DIGIT_SIZE = 28
# Digits are generated this many samples at a time, to bound memory and stay in cache.
_CHUNK = 128

# ---------------------------------------------------------------------------------------------
# Digits: glyphs of Pillow's bundled font, jittered like handwriting, MNIST-style framing

_TEMPLATE = 96  # template canvas size (pixels)
# (font size, stroke width) pairs: after scaling every glyph to the same height these give
# strokes from about 2.6 to 4.2 output pixels thick, the range of MNIST's pens.
_VARIANTS = ((88, 0), (88, 1), (88, 2), (88, 3), (72, 0), (72, 1), (72, 2))
_SUPERSAMPLE = 3  # render at 3x and area-average down to 28x28
_DIGIT_BOX = 20.0  # MNIST fits each digit in a 20x20 box, centred by mass in 28x28
_DIGIT_LIMIT = 12.0  # keep the ink within this many pixels of the centre after jitter


@functools.lru_cache(maxsize=1)
def digit_templates() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render every digit at each (font size, stroke width) variant.

    Returns (templates (K, 1, T, T) float in [0, 1], digit (K,), centre of mass (K, 2) and
    ink bounding box (K, 4) as x0, y0, x1, y1, both in template pixels relative to the
    canvas centre). Templates are ordered variant-major: index = variant * 10 + digit.
    """
    from PIL import Image, ImageDraw, ImageFont

    images, digits, coms, boxes = [], [], [], []
    ys, xs = np.mgrid[0:_TEMPLATE, 0:_TEMPLATE].astype(np.float64) + 0.5
    half = _TEMPLATE / 2
    for size, stroke in _VARIANTS:
        font = ImageFont.load_default(size=size)
        for d in range(10):
            img = Image.new("L", (_TEMPLATE, _TEMPLATE), 0)
            ImageDraw.Draw(img).text(
                (half, half), str(d), fill=255, font=font, anchor="mm", stroke_width=stroke
            )
            bbox = img.getbbox()
            if bbox is None or min(bbox) == 0 or max(bbox) == _TEMPLATE:
                raise RuntimeError(f"digit {d} does not fit the {_TEMPLATE}px template")
            a = np.asarray(img, dtype=np.float64) / 255.0
            mass = a.sum()
            coms.append(((a * xs).sum() / mass - half, (a * ys).sum() / mass - half))
            boxes.append([v - half for v in bbox])
            images.append(a.astype(np.float32))
            digits.append(d)
    return (
        torch.from_numpy(np.stack(images))[:, None],
        torch.tensor(digits),
        torch.tensor(coms, dtype=torch.float32),
        torch.tensor(boxes, dtype=torch.float32),
    )


def _cubic_upsampler(coarse: int, size: int) -> torch.Tensor:
    """Matrix (size, coarse) that bicubically upsamples a coarse 1-D signal (align corners).

    Applied on both sides (P @ X @ P.T) it equals 2-D bicubic upsampling, as two small
    matrix products instead of a much slower interpolation kernel.
    """
    eye = torch.eye(coarse)[:, None, :, None]
    up = F.interpolate(eye, size=(size, 1), mode="bicubic", align_corners=True)
    return up[:, 0, :, 0].T.contiguous()


def digits(seed: int = 0, n: object = 60_000, **extra: object) -> Dataset:
    """MNIST-like 28x28 grayscale digits 0-9, white on black, labels 0-9.

    Glyphs of Pillow's bundled Aileron font at several sizes and stroke widths, scaled to
    fit a box of about 20 px and centred by mass as in MNIST, then jittered per sample:
    rotation (+-15 deg), slant, scale, aspect, a pixel or two of shift and a smooth elastic
    wobble. The ink is kept at least 2 px from the edges (bar the wobble).
    """
    check_options("digits", extra, ("n",))
    count = parse_count(n, MAX_IMAGES)
    start = time.perf_counter()
    templates, _, com, box = digit_templates()
    g = seeded_generator(seed)

    labels = torch.randint(10, (count,), generator=g)
    index = torch.randint(len(_VARIANTS), (count,), generator=g) * 10 + labels
    angle = uniform(g, (count,), -15.0, 15.0) * (math.pi / 180.0)
    shear = uniform(g, (count,), -0.25, 0.25)
    scale = uniform(g, (count,), 0.85, 1.05)
    aspect = uniform(g, (count,), 0.8, 1.15)
    shift = uniform(g, (count, 2), -1.5, 1.5)

    # Inverse map from output pixels u (relative to the centre) to template pixels p:
    # p = com + k * M (u - shift), with k template pixels per output pixel.
    b = box[index]
    extent = torch.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    k = extent / (_DIGIT_BOX * scale)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    shr = torch.zeros(count, 2, 2)
    shr[:, 0, 0] = 1.0 / aspect
    shr[:, 0, 1] = shear
    shr[:, 1, 1] = 1.0
    m = (shr @ rot) * k[:, None, None]
    # Move the shift where needed so the transformed ink box stays inside the frame.
    corners = torch.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [0, 3]], b[:, [2, 3]]], dim=1)
    mapped = torch.einsum("nij,nkj->nki", torch.linalg.inv(m), corners - com[index, None])
    low = mapped.amin(dim=1) + shift
    high = mapped.amax(dim=1) + shift
    shift = shift + (-_DIGIT_LIMIT - low).clamp(min=0) - (high - _DIGIT_LIMIT).clamp(min=0)

    # Smooth elastic wobble: random displacements (output pixels) on a 4x4 lattice.
    wobble = torch.randn((count, 2, 4, 4), generator=g) * 0.5

    # Fold grid_sample's normalisation ([-1, 1] across the template) into the map.
    m = m / (_TEMPLATE / 2)
    offset = com[index] / (_TEMPLATE / 2)
    hi = DIGIT_SIZE * _SUPERSAMPLE
    up = _cubic_upsampler(4, hi)
    # Supersampled output pixel centres in output-pixel units, relative to the centre.
    axis = (torch.arange(hi, dtype=torch.float32) + 0.5) / _SUPERSAMPLE - DIGIT_SIZE / 2
    out = torch.empty((count, 1, DIGIT_SIZE, DIGIT_SIZE), dtype=torch.uint8)
    for lo in range(0, count, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, count))
        field = up @ wobble[sl] @ up.T  # (c, 2, hi, hi)
        ux = field[:, 0].add_(axis[None, None, :] - shift[sl, 0, None, None])
        uy = field[:, 1].add_(axis[None, :, None] - shift[sl, 1, None, None])
        mm = m[sl, :, :, None, None]
        # Write x and y straight into the interleaved grid (much faster than stacking).
        grid = torch.empty((len(ux), hi, hi, 2))
        for i in range(2):
            torch.addcmul(offset[sl, i, None, None], mm[:, i, 0], ux, out=grid[..., i])
            grid[..., i].addcmul_(mm[:, i, 1], uy)
        ink = F.grid_sample(templates[index[sl]], grid, mode="bilinear", align_corners=False)
        ink = F.avg_pool2d(ink, _SUPERSAMPLE)
        out[sl] = ink.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)

    log.debug("generated %d digits in %.2f s", count, time.perf_counter() - start)
    info = DatasetInfo(
        name="builtin:digits",
        kind=IMAGES,
        count=count,
        sample_shape=(1, DIGIT_SIZE, DIGIT_SIZE),
        class_names=tuple(str(d) for d in range(10)),
    )
    return Dataset(out, info, labels)
