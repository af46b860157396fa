"""The explorer's files: latent vectors, grid and animation exports with their provenance,
and reopening an export to restore the exact view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QFileDialog, QSlider, QTabWidget, QWidget

from ganstudio.core.errors import UserError, error_message
from ganstudio.gui.explore.results import ExplorerResults
from ganstudio.gui.explore.source import ExploredSource
from ganstudio.gui.explore.tabs import POINTS_ONLY_IMAGES, BrowseTab, InterpolateTab

VECTOR_FILTER = "Latent vectors (*.npy *.json)"
EXPORT_FILTER = "GAN Studio exports (*.png *.gif *.webp *.mp4 *.json);;All files (*)"
ANIMATION_FILTER = "Animated GIF (*.gif);;Animated WebP (*.webp);;MP4 video (*.mp4)"

# set_vector(z, seed, psi): make z (before truncation) the current sample
SetVector = Callable[[np.ndarray, int | None, float | None], None]
# report(text, kind): a banner for the user, kind "info" | "warning" | "error"
Report = Callable[[str, str], None]


class ExplorerFiles:
    """Saves and loads what the explorer shows. It reads the explored source, the pictures on
    screen (results) and the two tabs; it restores a view through the tabs, the truncation
    slider and the panel's ``set_vector`` and ``render_all``; file dialogs open over
    ``dialog_parent`` and every outcome is told through ``report``."""

    def __init__(
        self,
        *,
        dialog_parent: QWidget,
        source: ExploredSource,
        results: ExplorerResults,
        browse: BrowseTab,
        interpolate: InterpolateTab,
        tabs: QTabWidget,
        psi: QSlider,
        set_vector: SetVector,
        render_all: Callable[[], None],
        report: Report,
    ) -> None:
        self.dialog_parent = dialog_parent
        self.source = source
        self.results = results
        self.browse = browse
        self.interpolate = interpolate
        self.tabs = tabs
        self.psi = psi
        self.set_vector = set_vector
        self.render_all = render_all
        self.report = report

    def _ask(self, save: bool, title: str, name: str, filters: str) -> str:
        if save:
            path, _ = QFileDialog.getSaveFileName(self.dialog_parent, title, name, filters)
        else:
            path, _ = QFileDialog.getOpenFileName(self.dialog_parent, title, "", filters)
        return path

    def _provenance(self, kind: str) -> dict[str, Any]:
        state = self.source.require_state()
        return {
            "app": "ganstudio",
            "provenance_version": 1,
            "kind": kind,
            "model_hash": str(self.source.meta.get("content_hash", "")),
            "latent_dim": state.dim,
            "truncation": float(state.psi),
        }

    def _classes(self, purpose: str, one: bool = False) -> dict[str, Any]:
        """The "classes" (and their names) a class-conditional model drew for ``purpose``
        (one for all when ``one``); {} for an unconditional model."""
        classes = self.source.drawn_classes.get(purpose)
        if not classes:
            return {}
        classes = classes[:1] if one else classes
        names = self.source.meta.get("class_names") or []
        out: dict[str, Any] = {"classes": [int(c) for c in classes]}
        if len(names) > max(classes):
            out["class_names"] = [str(names[c]) for c in classes]
        return out

    def _fail(self, what: str, path: str, exc: Exception) -> None:
        """Tell the user that ``what`` failed and why, naming the file once (core's messages
        start with it)."""
        reason = error_message(exc)
        prefix = f"{Path(path)}: "
        if reason.startswith(prefix):
            reason = reason[len(prefix) :]
        self.report(f"Could not {what} {path}: {reason}", "error")

    # ---------------------------------------------------------------------------------
    # Latent vectors

    def save_vector(self, path: str | None = None) -> None:
        state = self.source.state
        if state is None:
            return
        path = path or self._ask(True, "Save latent vector", "latent.npy", VECTOR_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import save_vectors

        meta: dict[str, Any] = {"truncation": float(state.psi), "seed": state.seed}
        meta["model_hash"] = str(self.source.meta.get("content_hash", ""))
        try:
            save_vectors(path, state.edited()[None], meta)
        except (OSError, ValueError) as exc:  # ExportError is a ValueError
            self._fail("save the vector to", path, exc)

    def load_vector(self, path: str | None = None) -> None:
        state = self.source.state
        if state is None:
            return
        path = path or self._ask(False, "Load latent vector", "", VECTOR_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import load_vectors

        try:  # load_vectors checks what is used below: the numbers, truncation and seed
            z, meta = load_vectors(path)
            if z.shape[-1] != state.dim:
                raise ValueError(
                    f"it holds vectors of size {z.shape[-1]}, this model's latent size is "
                    f"{state.dim}"
                )
        except (OSError, ValueError, UserError) as exc:
            self._fail("load a vector from", path, exc)
            return
        psi = meta.get("truncation")
        self.set_vector(z[0], meta.get("seed"), float(psi) if psi else None)

    # ---------------------------------------------------------------------------------
    # Exports

    def export_grid(self, path: str | None = None) -> None:
        images, vectors = self.results.grid_images, self.browse.vectors
        if self.source.state is not None and not self.source.is_image:
            self.report(POINTS_ONLY_IMAGES, "warning")
            return
        if self.source.state is None:
            self.report("Open a model or start training first: there is no grid yet.", "warning")
            return
        if images is None or vectors is None:
            self.report("The grid is still being drawn: export it once it shows.", "warning")
            return
        try:
            background = self.browse.background_rgb()
        except ValueError as exc:
            self.report(str(exc), "error")
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
            prov["vectors"] = vectors.tolist()
        prov |= self._classes("grid")
        picture = make_grid(images, rows, cols, padding, background, upscale)
        try:
            save_grid(path, picture, prov)
        except (OSError, ValueError) as exc:
            self._fail("export the grid to", path, exc)
            return
        self.report(f"Exported {path}", "info")

    def export_animation(self, path: str | None = None) -> None:
        frames = self.results.path_images
        keys = self.interpolate.keys
        state = self.source.state
        if state is not None and not self.source.is_image:
            self.report(POINTS_ONLY_IMAGES, "warning")
            return
        if state is None or frames is None or len(keys) < 2:
            self.report("Add two or more keyframes to make an animation.", "warning")
            return
        path = path or self._ask(True, "Export animation", "walk.gif", ANIMATION_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import save_animation

        s = self.interpolate.settings()
        prov = self._provenance("interpolation") | s | {"upscale": 1}
        seeds = self.interpolate.key_seeds
        known = [seed for seed in seeds if seed is not None]
        if len(known) == len(seeds) and np.array_equal(keys, _seed_keys(known, state.dim)):
            prov["keyframes"] = {"seeds": [int(s) for s in known]}
        else:
            prov["keyframes"] = {"vectors": keys.tolist()}
        prov |= self._classes("path", one=True)
        pictures = np.stack([frames[i].transpose(1, 2, 0) for i in range(len(frames))])
        if pictures.shape[-1] == 1:
            pictures = np.repeat(pictures, 3, axis=-1)
        try:
            save_animation(path, pictures, s["fps"], s["loop"], prov)
        except (OSError, ValueError) as exc:
            self._fail("export the animation to", path, exc)
            return
        self.report(f"Exported {path} ({len(frames)} frames)", "info")

    def open_export(self, path: str | None = None) -> None:
        """Restore the view an export was made from (vectors, truncation, settings)."""
        state = self.source.state
        if state is None:
            self.report("Open the model first, then the export made with it.", "warning")
            return
        path = path or self._ask(False, "Open an export", "", EXPORT_FILTER)
        if not path:
            return
        from ganstudio.core.explore.exports import (
            keyframes_from_provenance,
            read_provenance,
            vectors_from_provenance,
        )

        try:  # read_provenance checks every field used below (core.explore.provenance)
            prov = read_provenance(path)
            if int(prov.get("latent_dim", state.dim)) != state.dim:
                raise ValueError("it was made with a model of another latent size")
            if prov["kind"] == "interpolation":
                vectors = keyframes_from_provenance(prov)
            else:
                vectors = vectors_from_provenance(prov)
        except (OSError, ValueError, UserError) as exc:
            self._fail("restore the view of", path, exc)
            return
        name = Path(path).name
        notes: list[str] = []  # what differs from the export, said with the outcome
        if prov.get("model_hash") and prov["model_hash"] != self.source.meta.get("content_hash"):
            notes.append(
                f"it was made with another model (hash {prov['model_hash']}), so the pictures "
                "will differ"
            )
        psi = float(prov.get("truncation", 1.0))
        self.psi.setValue(int(round(psi * 100)))
        kind = prov.get("kind")
        seeds = prov.get("keyframes", {}).get("seeds") if kind == "interpolation" else None
        seeds = seeds or prov.get("seeds")
        if kind == "interpolation":
            self.interpolate.apply_settings(prov)
            self.interpolate.set_keys(vectors, seeds or [None] * len(vectors))
            self.tabs.setCurrentWidget(self.interpolate)
        elif kind == "grid":
            notes += self._restore_grid(prov, vectors)
        else:
            self.set_vector(vectors[0], (seeds or [None])[0], psi)
        self.render_all()
        if notes:
            self.report(f"Restored the view of {name}, but " + "; ".join(notes) + ".", "warning")
        else:
            self.report(f"Restored the view of {name}", "info")

    def _restore_grid(self, prov: dict[str, Any], vectors: np.ndarray) -> list[str]:
        """The Browse tab set as a grid export's provenance says: its seeds (when they run
        on from one the seed box can hold) or else its vectors, shown as they are. Returns
        what could not be restored as it was."""
        b = self.browse
        rows, cols = int(prov["rows"]), int(prov["cols"])
        b.rows.setValue(rows)
        b.cols.setValue(cols)
        b.padding.setValue(int(prov.get("padding", 2)))
        b.upscale.setValue(int(prov.get("upscale", 1)))
        b.background.setText(str(prov.get("background", "#202020")).lstrip("#"))
        seeds: list[int] = prov.get("seeds") or []
        consecutive = bool(seeds) and seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        if consecutive and seeds[0] + rows * cols - 1 <= b.start_seed.maximum():
            b.source.setCurrentIndex(b.source.findData("seeds"))
            b.start_seed.setValue(int(seeds[0]))
        else:
            b.set_fixed(vectors)
        self.tabs.setCurrentWidget(b)
        if rows <= b.rows.maximum() and cols <= b.cols.maximum():
            return []
        return [
            f"its {rows}x{cols} grid is larger than the {b.rows.maximum()}x{b.cols.maximum()} "
            "the explorer lays out (`ganstudio export reproduce` renders all of it)"
        ]


def _seed_keys(seeds: list[int], dim: int) -> np.ndarray:
    from ganstudio.core.explore.latent import seed_vector

    return np.stack([seed_vector(s, dim) for s in seeds])
