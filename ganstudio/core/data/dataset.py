"""The in-memory dataset the trainer samples from (a leaf: `core.data.load` builds one from a spec).

A dataset is either 2-D points (float32, shape (N, 2), raw coordinates) or images
(uint8, shape (N, C, H, W)). Images stay uint8 until a batch is drawn: that keeps a
60,000-image set at 47 MB and lets it live on the GPU. `sample` turns a batch into
float in [-1, 1], the range a tanh generator produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ganstudio.core.errors import UserError

POINTS = "points"
IMAGES = "images"


class DatasetError(UserError, ValueError):
    """A dataset could not be loaded; the message says why in words a user understands."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, without its data: enough to build a matching model."""

    name: str
    kind: str  # POINTS or IMAGES
    count: int
    sample_shape: tuple[int, ...]  # (2,) for points, (C, H, W) for images
    class_names: tuple[str, ...] = ()
    # Centres of the Gaussian modes and their standard deviation (2-D mixtures only),
    # used for mode coverage.
    modes: tuple[tuple[float, float], ...] = ()
    mode_sigma: float | None = None
    fingerprint: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_image(self) -> bool:
        return self.kind == IMAGES

    @property
    def channels(self) -> int:
        return self.sample_shape[0] if self.is_image else 0

    @property
    def image_size(self) -> int:
        return self.sample_shape[-1] if self.is_image else 0

    @property
    def data_dim(self) -> int:
        return int(np.prod(self.sample_shape))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "sample_shape": list(self.sample_shape),
            "class_names": list(self.class_names),
            "modes": [list(m) for m in self.modes],
            "mode_sigma": self.mode_sigma,
            "fingerprint": self.fingerprint,
        }


class Dataset:
    """Data held as one tensor (on the training device when it fits) plus optional labels."""

    def __init__(
        self, data: torch.Tensor, info: DatasetInfo, labels: torch.Tensor | None = None
    ) -> None:
        if info.kind == POINTS and (data.dtype != torch.float32 or data.ndim != 2):
            raise DatasetError(f"{info.name}: points must be float32 (N, 2), got {data.dtype}")
        if info.kind == IMAGES and (data.dtype != torch.uint8 or data.ndim != 4):
            raise DatasetError(f"{info.name}: images must be uint8 (N, C, H, W), got {data.dtype}")
        if len(data) == 0:
            raise DatasetError(f"{info.name}: the dataset is empty")
        if info.kind == POINTS:
            bad = int((~torch.isfinite(data).all(dim=1)).sum())
            if bad:
                raise DatasetError(
                    f"{info.name}: {bad:,} of {len(data):,} points are not finite numbers "
                    "(NaN or infinite): remove them, a GAN cannot learn from them"
                )
        if not info.fingerprint:
            info = replace(info, fingerprint=fingerprint_tensor(data))
        self.data = data
        self.labels = labels
        self.info = info

    def __len__(self) -> int:
        return len(self.data)

    @property
    def device(self) -> torch.device:
        return self.data.device

    def to(self, device: torch.device | str) -> Dataset:
        labels = None if self.labels is None else self.labels.to(device)
        return Dataset(self.data.to(device), self.info, labels)

    def shard(self, index: int, count: int) -> Dataset:
        """Every ``count``-th sample from ``index`` on: one process's share of a distributed
        run (the info, fingerprint included, still describes the whole dataset)."""
        if count <= 1:
            return self
        if len(self.data) < count:
            raise DatasetError(
                f"{self.info.name}: {len(self.data)} samples cannot be shared among "
                f"{count} processes"
            )
        labels = None if self.labels is None else self.labels[index::count]
        return Dataset(self.data[index::count].contiguous(), self.info, labels)

    @property
    def class_count(self) -> int:
        """How many classes the labels name (0 without labels): the class names', or the
        largest label + 1 when there are more labels than names."""
        if self.labels is None or not len(self.labels):
            return 0
        return max(len(self.info.class_names), int(self.labels.max()) + 1)

    def class_name_list(self) -> list[str]:
        """A name for every class: the dataset's names, else the class numbers as text."""
        names = list(self.info.class_names)
        return names + [str(i) for i in range(len(names), self.class_count)]

    def sample_labelled(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch and its labels (int64), drawn as ``sample`` draws: the same
        generator state gives the same pictures."""
        if self.labels is None:
            raise DatasetError(f"{self.info.name}: the dataset has no labels")
        idx = torch.randint(
            len(self.data), (batch_size,), device=self.data.device, generator=generator
        )
        return self.normalize(self.data[idx]), self.labels[idx.to(self.labels.device)].long()

    def normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float in [-1, 1]; points are returned as float32 unchanged."""
        if self.info.kind == IMAGES:
            return batch.float().div_(127.5).sub_(1.0)
        return batch

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A random batch (with replacement), normalised, on the dataset's device."""
        idx = torch.randint(
            len(self.data), (batch_size,), device=self.data.device, generator=generator
        )
        return self.normalize(self.data[idx])

    def head(self, n: int) -> torch.Tensor:
        """The first n samples, normalised (for previews)."""
        return self.normalize(self.data[:n])


def fingerprint_tensor(data: torch.Tensor) -> str:
    """A short content hash of a dataset tensor (its bytes, shape and dtype)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(str((tuple(data.shape), str(data.dtype))).encode())
    h.update(np.ascontiguousarray(data.detach().cpu().numpy()).tobytes())
    return h.hexdigest()
