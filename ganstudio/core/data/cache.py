"""The prepared-dataset cache: uint8 arrays in the user's cache folder, keyed by source.

An entry is three files in ``<cache>/datasets``: ``ID-KEY.npy`` (images, N C H W),
``ID-KEY.labels.npy`` (when labelled) and ``ID-KEY.json`` (what the dataset is; written
last, so an entry without it is incomplete and ignored). ``ID`` names the source and the
preparation settings, ``KEY`` its content (paths, sizes and modification times); when a
source changes, its new entry replaces the old one. A damaged entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganstudio.core.fileio import atomic_write, atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: duplicate archive members and linked folders read correctly


def cache_root() -> Path:
    """GANSTUDIO_CACHE_DIR, else the platform's user cache folder for ganstudio."""
    env = os.environ.get("GANSTUDIO_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "ganstudio" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ganstudio"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ganstudio"


def digest(value: object, size: int = 10) -> str:
    """A short hex hash of a JSON-serialisable value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


@dataclass
class CacheEntry:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray | None
    meta: dict


class DatasetCache:
    """Entries for one source and settings (``source_id``), at content ``key``."""

    def __init__(self, source_id: str, key: str, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / "datasets"
        self.source_id, self.key = source_id, key
        stem = f"{source_id}-{key}"
        self.images_path = self.folder / f"{stem}.npy"
        self.labels_path = self.folder / f"{stem}.labels.npy"
        self.meta_path = self.folder / f"{stem}.json"

    def load(self) -> CacheEntry | None:
        """The cached entry, or None when there is none or it is damaged."""
        if not self.meta_path.is_file():
            return None
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta.get("version") != CACHE_VERSION or meta.get("key") != self.key:
                return None
            images = np.load(self.images_path, mmap_mode=None, allow_pickle=False)
            if images.dtype != np.uint8 or list(images.shape) != meta["shape"]:
                raise ValueError(f"images {images.dtype} {images.shape} != {meta['shape']}")
            labels = None
            if meta.get("has_labels"):
                labels = np.load(self.labels_path, mmap_mode=None, allow_pickle=False)
                if labels.shape != (len(images),):
                    raise ValueError(f"labels of shape {labels.shape}")
            return CacheEntry(images, labels, meta)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            log.warning("ignoring a damaged dataset cache entry %s (%s)", self.meta_path, exc)
            return None

    def save(self, images: np.ndarray, labels: np.ndarray | None, meta: dict) -> None:
        """Store an entry (replacing older ones of the same source); failures only log."""
        meta = {
            **meta,
            "version": CACHE_VERSION,
            "key": self.key,
            "shape": list(images.shape),
            "has_labels": labels is not None,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob(f"{self.source_id}-*"):
                if not old.name.startswith(f"{self.source_id}-{self.key}."):
                    old.unlink(missing_ok=True)
            _atomic_save_npy(self.images_path, images)
            if labels is not None:
                _atomic_save_npy(self.labels_path, labels)
            atomic_write_bytes(self.meta_path, json.dumps(meta, indent=1).encode())
        except OSError as exc:
            log.warning("could not write the dataset cache in %s (%s)", self.folder, exc)


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """np.save streamed to a temporary file, then renamed (no in-memory copy of the data)."""
    atomic_write(path, lambda fh: np.save(fh, np.ascontiguousarray(array), allow_pickle=False))
