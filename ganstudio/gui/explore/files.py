"""The explorer's files: latent vectors, grid and animation exports with their provenance,
and reopening an export to restore the exact view. Mixed into ExplorerPanel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

VECTOR_FILTER = "Latent vectors (*.npy *.json)"
EXPORT_FILTER = "GAN Studio exports (*.png *.gif *.webp *.mp4 *.json);;All files (*)"
ANIMATION_FILTER = "Animated GIF (*.gif);;Animated WebP (*.webp);;MP4 video (*.mp4)"


class ExplorerFiles:
    """Expects ExplorerPanel's state, meta, browse, interpolate and message signal."""

    def _ask(self, save: bool, title: str, name: str, filters: str) -> str:
        if save:
            path, _ = QFileDialog.getSaveFileName(self, title, name, filters)
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path

    def _provenance(self, kind: str) -> dict:
        return {
            "app": "ganstudio",
            "provenance_version": 1,
            "kind": kind,
            "model_hash": str(self.meta.get("content_hash", "")),
            "latent_dim": self.state.dim,
            "truncation": float(self.state.psi),
        }

    def _fail(self, what: str, path: str, exc: Exception) -> None:
        self.message.emit(f"Could not {what} {path}: {exc}", "error")

    # ---------------------------------------------------------------------------------
    # Latent vectors

    def save_vector(self, path: str | None = None) -> None:
        if self.state is None:
            return
        path = path or self._ask(True, "Save latent vector", "latent.npy", VECTOR_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import save_vectors

        meta = {"truncation": float(self.state.psi), "seed": self.state.seed}
        meta["model_hash"] = str(self.meta.get("content_hash", ""))
        try:
            save_vectors(path, self.state.edited()[None], meta)
        except (OSError, ValueError) as exc:
            self._fail("save the vector to", path, exc)

    def load_vector(self, path: str | None = None) -> None:
        if self.state is None:
            return
        path = path or self._ask(False, "Load latent vector", "", VECTOR_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import load_vectors

        try:
            z, meta = load_vectors(path)
            if z.shape[-1] != self.state.dim:
                raise ValueError(
                    f"it holds vectors of size {z.shape[-1]}, this model's latent size is "
                    f"{self.state.dim}"
                )
        except (OSError, ValueError) as exc:
            self._fail("load a vector from", path, exc)
            return
        psi = meta.get("truncation")
        self.set_vector(z[0], meta.get("seed"), float(psi) if psi else None)

    # ---------------------------------------------------------------------------------
    # Exports

    def export_grid(self, path: str | None = None) -> None:
        images = self.grid_images
        if self.state is None or images is None or self.browse.vectors is None:
            return
        try:
            background = self.browse.background_rgb()
        except ValueError as exc:
            self.message.emit(str(exc), "error")
            return
        path = path or self._ask(True, "Export grid", "grid.png", "PNG pictures (*.png)")
        if not path:
            return
        from ganstudio.core.explore.exports import save_grid
        from ganstudio.core.render import make_grid

        rows, cols = self.browse.rows.value(), self.browse.cols.value()
        padding, upscale = self.browse.padding.value(), self.browse.upscale.value()
        prov = self._provenance("grid") | {
            "rows": rows,
            "cols": cols,
            "padding": padding,
            "background": "#{:02x}{:02x}{:02x}".format(*background),
            "upscale": upscale,
        }
        if self.browse.seeds is not None:
            prov["seeds"] = [int(s) for s in self.browse.seeds]
        else:
            prov["vectors"] = self.browse.vectors.tolist()
        picture = make_grid(images, rows, cols, padding, background, upscale)
        try:
            save_grid(path, picture, prov)
        except (OSError, ValueError) as exc:
            self._fail("export the grid to", path, exc)
            return
        self.message.emit(f"Exported {path}", "info")

    def export_animation(self, path: str | None = None) -> None:
        frames = self.path_images
        keys = self.interpolate.keys
        if self.state is None or frames is None or len(keys) < 2:
            self.message.emit("Add two or more keyframes to make an animation.", "warning")
            return
        path = path or self._ask(True, "Export animation", "walk.gif", ANIMATION_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import save_animation

        s = self.interpolate.settings()
        prov = self._provenance("interpolation") | s | {"upscale": 1}
        seeds = self.interpolate.key_seeds
        if all(seed is not None for seed in seeds) and np.array_equal(keys, self._seed_keys(seeds)):
            prov["keyframes"] = {"seeds": [int(s) for s in seeds]}
        else:
            prov["keyframes"] = {"vectors": keys.tolist()}
        pictures = np.stack([frames[i].transpose(1, 2, 0) for i in range(len(frames))])
        if pictures.shape[-1] == 1:
            pictures = np.repeat(pictures, 3, axis=-1)
        try:
            save_animation(path, pictures, s["fps"], s["loop"], prov)
        except (OSError, ValueError) as exc:
            self._fail("export the animation to", path, exc)
            return
        self.message.emit(f"Exported {path} ({len(frames)} frames)", "info")

    def _seed_keys(self, seeds: list[int]) -> np.ndarray:
        from ganstudio.core.explore.latent import seed_vector

        return np.stack([seed_vector(s, self.state.dim) for s in seeds])

    def open_export(self, path: str | None = None) -> None:
        """Restore the view an export was made from (vectors, truncation, settings)."""
        if self.state is None:
            self.message.emit("Open the model first, then the export made with it.", "warning")
            return
        path = path or self._ask(False, "Open an export", "", EXPORT_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import (
            keyframes_from_provenance,
            read_provenance,
            vectors_from_provenance,
        )

        try:
            prov = read_provenance(path)
            if int(prov.get("latent_dim", self.state.dim)) != self.state.dim:
                raise ValueError("it was made with a model of another latent size")
        except (OSError, ValueError) as exc:
            self._fail("restore the view of", path, exc)
            return
        if prov.get("model_hash") and prov["model_hash"] != self.meta.get("content_hash"):
            self.message.emit(
                f"{Path(path).name} was made with another model (hash {prov['model_hash']}); "
                "the vectors are restored, the pictures will differ.",
                "warning",
            )
        psi = float(prov.get("truncation", 1.0))
        self.psi.setValue(int(round(psi * 100)))
        kind = prov.get("kind")
        if kind == "interpolation":
            self.interpolate.apply_settings(prov)
            keys = keyframes_from_provenance(prov)
            seeds = prov.get("keyframes", {}).get("seeds") or [None] * len(keys)
            self.interpolate.set_keys(keys, seeds)
            self.tabs.setCurrentWidget(self.interpolate)
        elif kind == "grid":
            self.browse.rows.setValue(int(prov["rows"]))
            self.browse.cols.setValue(int(prov["cols"]))
            self.browse.padding.setValue(int(prov.get("padding", 2)))
            self.browse.upscale.setValue(int(prov.get("upscale", 1)))
            self.browse.background.setText(str(prov.get("background", "#202020")).lstrip("#"))
            if prov.get("seeds"):
                self.browse.source.setCurrentIndex(self.browse.source.findData("seeds"))
                self.browse.start_seed.setValue(int(prov["seeds"][0]))
            else:
                self.browse.set_fixed(vectors_from_provenance(prov))
            self.tabs.setCurrentWidget(self.browse)
        else:
            vectors = vectors_from_provenance(prov)
            seeds = prov.get("seeds") or [None]
            self.set_vector(vectors[0], seeds[0], psi)
        self.render_all()
        self.message.emit(f"Restored the view of {Path(path).name}", "info")
