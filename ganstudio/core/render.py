"""Turning samples into pictures: uint8 image grids, 2-D scatter plots, PNG files.

Everything returns NumPy uint8 arrays of shape (H, W, 3): the one payload type the window,
the command line and the exporters all accept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, PngImagePlugin

from ganstudio.core.fileio import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images in [-1, 1], (N, C, H, W) -> uint8 (N, C, H, W) on the CPU."""
    x = images.detach().float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round_()
    return x.to(torch.uint8).cpu().numpy()


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of the most square grid holding n images."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def make_grid(
    images: np.ndarray,
    rows: int | None = None,
    cols: int | None = None,
    padding: int = 2,
    background: Sequence[int] = (32, 32, 32),
    upscale: int = 1,
) -> np.ndarray:
    """uint8 images (N, C, H, W) with C in {1, 3} -> one uint8 (H', W', 3) grid picture."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, 1|3, H, W), got shape {images.shape}")
    n, c, h, w = images.shape
    if rows is None or cols is None:
        rows, cols = (
            grid_shape(n)
            if rows is None and cols is None
            else (rows or math.ceil(n / cols), cols or math.ceil(n / rows))
        )
    if upscale > 1:
        images = images.repeat(upscale, axis=2).repeat(upscale, axis=3)
        h, w = h * upscale, w * upscale
    if c == 1:
        images = np.repeat(images, 3, axis=1)
    out = np.empty(
        (rows * h + (rows + 1) * padding, cols * w + (cols + 1) * padding, 3), dtype=np.uint8
    )
    out[:] = np.asarray(background, dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, k = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        out[y : y + h, x : x + w] = images[i].transpose(1, 2, 0)
    return out


def plot_extent(*point_sets: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """A square (xmin, xmax, ymin, ymax) that holds the finite points of every set."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in point_sets])
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = np.percentile(pts, 0.5, axis=0), np.percentile(pts, 99.5, axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * (1 + margin)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


REAL_COLOUR = (40, 90, 200)
FAKE_COLOUR = (245, 130, 30)


def scatter_image(
    fake: np.ndarray,
    real: np.ndarray | None = None,
    size: int = 512,
    extent: tuple[float, float, float, float] | None = None,
    modes: np.ndarray | None = None,
) -> np.ndarray:
    """A scatter plot of generated points (orange) and real points (blue) as uint8 (H, W, 3).

    Mode centres, when given, are drawn as small grey crosses.
    """
    fake = np.asarray(fake, dtype=np.float64).reshape(-1, 2)
    sets = [fake] if real is None else [fake, np.asarray(real).reshape(-1, 2)]
    x0, x1, y0, y1 = extent or plot_extent(*sets)
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)

    def to_px(p: np.ndarray) -> np.ndarray:
        px = (p[:, 0] - x0) / (x1 - x0) * (size - 1)
        py = (1 - (p[:, 1] - y0) / (y1 - y0)) * (size - 1)
        keep = np.isfinite(px) & np.isfinite(py)
        return np.stack([px[keep], py[keep]], axis=1)

    # light axes through the origin when it is in view
    if x0 < 0 < x1:
        ox = to_px(np.array([[0.0, y0]]))[0, 0]
        draw.line([(ox, 0), (ox, size)], fill=(225, 225, 225))
    if y0 < 0 < y1:
        oy = to_px(np.array([[x0, 0.0]]))[0, 1]
        draw.line([(0, oy), (size, oy)], fill=(225, 225, 225))
    r = max(1.0, size / 300)
    for x, y in to_px(fake):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=FAKE_COLOUR)
    if real is not None:  # on top: real data is often far more concentrated than the fakes
        for x, y in to_px(np.asarray(real, dtype=np.float64).reshape(-1, 2)):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=REAL_COLOUR)
        draw.rectangle([4, 4, 76, 34], fill=(255, 255, 255), outline=(210, 210, 210))
        draw.text((8, 6), "real", fill=REAL_COLOUR)
        draw.text((8, 20), "generated", fill=FAKE_COLOUR)
    if modes is not None and len(modes):
        c = max(3.0, size / 100)
        for x, y in to_px(np.asarray(modes, dtype=np.float64).reshape(-1, 2)):
            draw.line([(x - c, y), (x + c, y)], fill=(90, 90, 90))
            draw.line([(x, y - c), (x, y + c)], fill=(90, 90, 90))
    return np.asarray(img)


def png_bytes(image: np.ndarray, text: Mapping[str, str] | None = None) -> bytes:
    """Encode a uint8 (H, W, 3) or (H, W) array as PNG, with optional text chunks."""
    import io

    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, str(value))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def save_png(path: str | Path, image: np.ndarray, text: Mapping[str, str] | None = None) -> None:
    """Save a picture atomically as PNG, with provenance in text chunks."""
    atomic_write_bytes(path, png_bytes(image, text))
