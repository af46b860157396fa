"""Datasets: the in-memory container and the built-in generated datasets."""

from ganstudio.core.data.dataset import (
    IMAGES,
    POINTS,
    Dataset,
    DatasetError,
    DatasetInfo,
    builtin_names,
    load_dataset,
)

__all__ = [
    "IMAGES",
    "POINTS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "builtin_names",
    "load_dataset",
]
