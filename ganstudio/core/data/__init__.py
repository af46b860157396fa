"""Datasets: the in-memory container (``dataset``), loading a spec (``load``), the built-in
generated datasets (``builtin``) and the user's pictures (``files``, ``prepare``, ``cache``)."""

from ganstudio.core.data.dataset import IMAGES, POINTS, Dataset, DatasetError, DatasetInfo
from ganstudio.core.data.load import builtin_names, load_dataset

__all__ = [
    "IMAGES",
    "POINTS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "builtin_names",
    "load_dataset",
]
