import pytest
import torch

from ganstudio.core.data.dataset import Dataset, DatasetInfo


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tiny models: threads cost more than they save


@pytest.fixture
def gaussian_points():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 2, generator=g) * 0.5 + 1.0
    return Dataset(x, DatasetInfo("test:gaussian", "points", len(x), (2,)))


@pytest.fixture
def tiny_images():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=g)
    return Dataset(x, DatasetInfo("test:noise", "images", len(x), (1, 28, 28)))
