"""Putting rendered pictures on screen: the current sample, the browse grid, the keyframe
and path strips, and playback frames."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel

from ganstudio.gui.explore.render_thread import Renderer, RenderResult
from ganstudio.gui.explore.source import ExploredSource
from ganstudio.gui.explore.tabs import BrowseTab, InterpolateTab
from ganstudio.gui.explore.widgets import single_picture
from ganstudio.gui.widgets.samples_view import ImageView, PointsView


class ExplorerResults:
    """Draws the renderer's results into the views it is given, newest result first.

    ``shown`` holds the newest result drawn per purpose; ``grid_images`` and ``path_images``
    the pictures of the browse grid and the interpolation path now on screen.
    """

    def __init__(
        self,
        source: ExploredSource,
        renderer: Renderer,
        view: ImageView,
        points: PointsView,
        caption: QLabel,
        browse: BrowseTab,
        interpolate: InterpolateTab,
    ) -> None:
        self.source = source
        self.renderer = renderer
        self.view = view
        self.points = points
        self.caption = caption
        self.browse = browse
        self.interpolate = interpolate
        self.shown: dict[str, RenderResult] = {}
        self.grid_images: np.ndarray | None = None
        self.path_images: np.ndarray | None = None

    def show(self, result: RenderResult) -> bool:
        """Draw a result unless it is outdated; True when it was drawn."""
        if result.generator_version != self.renderer.version:
            return False  # drawn by a generator that has been replaced since
        previous = self.shown.get(result.purpose)
        if previous is not None and previous.id > result.id:
            return False  # stale
        self.shown[result.purpose] = result
        handler = {
            "current": self._show_current,
            "grid": self._show_grid,
            "keyframes": self._show_keys,
            "path": self._show_path,
        }[result.purpose]
        return handler(result)

    def show_frame(self, index: int) -> None:
        """Frame ``index`` of the interpolation path in the big view (while playing)."""
        images = self.path_images
        if images is not None and index < len(images):
            self.view.set_picture(single_picture(images, index))

    def _show_current(self, r: RenderResult) -> bool:
        if self.source.is_image and r.images is not None:
            self.view.set_picture(single_picture(r.images))
        elif r.points is not None:
            self.points.marker.setData(r.points[:, 0], r.points[:, 1])
        state, meta = self.source.require_state(), self.source.meta
        seed = state.seed
        self.caption.setText(
            (f"seed {seed}" if seed is not None else "edited vector")
            + f", truncation {state.psi:.2f}"
            + (f", model {meta.get('content_hash', '')}" if meta.get("content_hash") else "")
        )
        return True

    def _strip(self, images: np.ndarray, max_items: int = 12) -> np.ndarray:
        from ganstudio.core.render import make_grid

        idx = np.unique(
            np.linspace(0, len(images) - 1, min(max_items, len(images))).round().astype(int)
        )
        return make_grid(images[idx], 1, len(idx), padding=2)

    def _show_grid(self, r: RenderResult) -> bool:
        from ganstudio.core.render import make_grid

        if r.images is None:  # a 2-D model: the grid's samples are points in the plane
            self.browse.view.set_picture(None)
            if r.points is not None:
                self.points.set_fake(r.points)
            return True
        rows, cols = self.browse.rows.value(), self.browse.cols.value()
        if len(r.images) != rows * cols:
            return False  # the grid's size changed since; a newer request is on its way
        self.browse.view.set_grid(
            make_grid(r.images, rows, cols, padding=2), rows, cols, r.images.shape[-1], 2
        )
        self.grid_images = r.images
        return True

    def _show_keys(self, r: RenderResult) -> bool:
        if r.images is None:
            return False
        self.interpolate.keys_view.set_picture(self._strip(r.images, 16))
        return True

    def _show_path(self, r: RenderResult) -> bool:
        if r.images is None:
            return False
        self.path_images = r.images
        self.interpolate.path_view.set_picture(self._strip(r.images))
        self.interpolate.set_path_frames(len(r.images))
        return True
