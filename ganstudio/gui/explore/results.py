"""Putting rendered pictures on screen: the current sample, the browse grid, the keyframe
and path strips, and playback frames. Mixed into ExplorerPanel."""

from __future__ import annotations

import numpy as np

from ganstudio.gui.explore.render_thread import RenderResult
from ganstudio.gui.explore.widgets import single_picture


class ExplorerResults:
    """Expects ExplorerPanel's renderer, state, views and tabs."""

    def _on_rendered(self, result: RenderResult) -> None:
        if result.generator_version != self.renderer.version:
            return  # drawn by a generator that has been replaced since
        previous = self.shown.get(result.purpose)
        if previous is not None and previous.id > result.id:
            return  # stale
        self.shown[result.purpose] = result
        handler = {
            "current": self._show_current,
            "grid": self._show_grid,
            "keyframes": self._show_keys,
            "path": self._show_path,
        }[result.purpose]
        handler(result)

    def _show_current(self, r: RenderResult) -> None:
        if self.is_image and r.images is not None:
            self.view.set_picture(single_picture(r.images))
        elif r.points is not None:
            self.points.marker.setData(r.points[:, 0], r.points[:, 1])
        seed = self.state.seed if self.state is not None else None
        self.caption.setText(
            (f"seed {seed}" if seed is not None else "edited vector")
            + f", truncation {self.state.psi:.2f}"
            + (
                f", model {self.meta.get('content_hash', '')}"
                if self.meta.get("content_hash")
                else ""
            )
        )

    def _strip(self, images: np.ndarray, max_items: int = 12) -> np.ndarray:
        from ganstudio.core.render import make_grid

        idx = np.unique(
            np.linspace(0, len(images) - 1, min(max_items, len(images))).round().astype(int)
        )
        return make_grid(images[idx], 1, len(idx), padding=2)

    def _show_grid(self, r: RenderResult) -> None:
        from ganstudio.core.render import make_grid

        if r.images is None:  # a 2-D model: the grid's samples are points in the plane
            self.browse.view.set_picture(None)
            if r.points is not None:
                self.points.set_fake(r.points)
            return
        rows, cols = self.browse.rows.value(), self.browse.cols.value()
        if len(r.images) != rows * cols:
            return  # the grid's size changed since; a newer request is on its way
        self.browse.view.set_grid(
            make_grid(r.images, rows, cols, padding=2), rows, cols, r.images.shape[-1], 2
        )
        self.grid_images = r.images

    def _show_keys(self, r: RenderResult) -> None:
        if r.images is not None:
            self.interpolate.keys_view.set_picture(self._strip(r.images, 16))

    def _show_path(self, r: RenderResult) -> None:
        if r.images is None:
            return
        self.path_images = r.images
        self.interpolate.path_view.set_picture(self._strip(r.images))
        self.interpolate.set_path_frames(len(r.images))

    def _show_frame(self, index: int) -> None:
        images = getattr(self, "path_images", None)
        if images is not None and index < len(images):
            self.view.set_picture(single_picture(images, index))
