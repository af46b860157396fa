"""NumPy uint8 pictures to Qt images (in the GUI thread only)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(picture: np.ndarray) -> QImage:
    """uint8 (H, W, 3) or (H, W) -> a QImage that owns a copy of the pixels."""
    a = np.ascontiguousarray(picture)
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected (H, W, 3) pixels, got shape {a.shape}")
    h, w, c = a.shape
    fmt = QImage.Format.Format_RGB888 if c == 3 else QImage.Format.Format_RGBA8888
    return QImage(a.data, w, h, w * c, fmt).copy()


def to_pixmap(picture: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(picture))
