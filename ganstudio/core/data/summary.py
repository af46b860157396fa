"""What a loaded dataset holds, in words and in a picture (for ``ganstudio data inspect``)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ganstudio.core.data.dataset import Dataset
from ganstudio.core.render import make_grid, scatter_image


def _histogram(rows: list) -> str:
    return ", ".join(f"{key} x{count:,}" for key, count in rows)


def describe(dataset: Dataset) -> list[str]:
    """Lines describing a dataset: source, count, shape, sizes, modes, classes, skips."""
    info, extra = dataset.info, dataset.info.extra
    lines = [f"source:   {info.name}" + (f" ({extra['source']})" if "source" in extra else "")]
    if info.is_image:
        shape = "x".join(str(v) for v in info.sample_shape)
        settings = f" ({extra['settings']})" if "settings" in extra else ""
        lines.append(f"images:   {info.count:,} prepared, each {shape} (C x H x W){settings}")
    else:
        lines.append(f"points:   {info.count:,}, each {info.data_dim}-D")
    if info.modes:
        sigma = f", sigma {info.mode_sigma:g}" if info.mode_sigma is not None else ""
        lines.append(f"mixture:  {len(info.modes)} Gaussian modes{sigma}")
    if extra.get("source_sizes"):
        lines.append(f"sizes:    {_histogram(extra['source_sizes'])}")
    if extra.get("source_modes"):
        lines.append(f"modes:    {_histogram(extra['source_modes'])}")
    if extra.get("detected_range"):
        lines.append(f"range:    {extra['detected_range']} (detected)")
    if dataset.labels is not None and info.class_names:
        counts = Counter(dataset.labels.cpu().numpy().tolist())
        shown = [f"{name} {counts.get(k, 0):,}" for k, name in enumerate(info.class_names)]
        more = f", ... ({len(shown) - 20} more)" if len(shown) > 20 else ""
        where = f" from {extra['labels_from']}" if extra.get("labels_from") else ""
        lines.append(f"classes:  {len(shown)}{where}: {', '.join(shown[:20])}{more}")
    else:
        lines.append("classes:  none (unlabelled)")
    skipped = extra.get("skipped", 0)
    if skipped:
        lines.append(f"skipped:  {skipped:,} unreadable file{'s' if skipped != 1 else ''}")
        for path, reason in extra.get("skipped_examples", []):
            lines.append(f"  {path}: {reason}")
        if skipped > len(extra.get("skipped_examples", [])):
            lines.append("  ...")
    elif "skipped" in extra:
        lines.append("skipped:  none")
    if extra.get("ignored_files"):
        n = extra["ignored_files"]
        lines.append(f"ignored:  {n:,} file{'s' if n != 1 else ''} without a picture extension")
    for note in extra.get("notes", []):
        lines.append(f"note:     {note}")
    if "cache" in extra:
        lines.append(f"cache:    {extra['cache']}")
    return lines


PREVIEW_POINTS = 5_000  # points of a 2-D dataset drawn in its preview


def _spread(count: int, n: int) -> np.ndarray:
    """Up to n indices spread evenly over 0..count-1."""
    return np.unique(np.linspace(0, count - 1, min(n, count)).round().astype(np.int64))


def preview(dataset: Dataset, n: int = 64) -> np.ndarray:
    """A uint8 (H, W, 3) picture: a grid of up to n images spread evenly over the dataset,
    or for 2-D points a scatter plot of up to PREVIEW_POINTS of them (with the mode centres
    of a mixture), as ``ganstudio sample`` draws them."""
    info = dataset.info
    if not info.is_image:
        points = dataset.data[_spread(len(dataset), PREVIEW_POINTS)].cpu().numpy()
        modes = np.asarray(info.modes, dtype=np.float64) if info.modes else None
        return scatter_image(points, size=512, modes=modes)
    images = dataset.data[_spread(len(dataset), n)].cpu().numpy()
    size = info.image_size
    return make_grid(images, upscale=max(1, 64 // size) if size < 64 else 1)
