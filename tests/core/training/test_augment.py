"""Flips and DiffAugment: what they do to pixels, and that gradients flow through them."""

import pytest
import torch

from ganstudio.core.choices import parse_policy
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.training.augment import diff_augment, random_hflip
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer


def test_hflip_mirrors_about_half():
    x = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).view(2, 1, 2, 3).repeat(500, 1, 1, 1)
    y = random_hflip(x, torch.Generator().manual_seed(0))
    flipped = (y == x.flip(3)).flatten(1).all(1)
    kept = (y == x).flatten(1).all(1)
    assert torch.all(flipped ^ kept)  # each image is either mirrored or untouched
    assert 400 < flipped.sum().item() < 600


def test_translation_shifts_and_fills_with_zero():
    x = torch.ones(64, 3, 16, 16)
    y = diff_augment(x, ("translation",), torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    # shifted-in rows/columns are 0, the rest keeps its value; at most 2 of 16 px shift
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    zero_frac = (y == 0).float().flatten(1).mean(1)
    assert zero_frac.max() <= 1 - (14 / 16) ** 2 + 1e-6
    assert zero_frac.max() > 0


def test_cutout_removes_at_most_a_quarter():
    x = torch.ones(64, 1, 16, 16)
    y = diff_augment(x, ("cutout",), torch.Generator().manual_seed(0))
    zero_frac = (y == 0).float().flatten(1).mean(1)
    assert zero_frac.max() == pytest.approx(0.25)  # an 8x8 square fully inside
    assert zero_frac.min() > 0  # always some of the square is inside the image


def test_colour_changes_and_gradients_flow():
    x = torch.rand(8, 3, 8, 8, requires_grad=True)
    y = diff_augment(x, parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))
    assert not torch.allclose(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_bad_policies_are_clear_errors():
    with pytest.raises(ValueError, match="unknown DiffAugment operation 'blur'"):
        parse_policy("color,blur")
    with pytest.raises(ConfigError, match="DiffAugment"):
        Trainer(TrainConfig(diffaugment="zoom", device="cpu"))


def test_training_with_augmentation(tiny_images):
    cfg = TrainConfig(
        steps=3,
        batch_size=8,
        width=8,
        latent_dim=8,
        device="cpu",
        hflip=True,
        diffaugment="color,translation,cutout",
        r1_gamma=1.0,
        preview_interval=1e9,
    )
    assert run_training(Trainer(cfg, tiny_images)).status == "completed"
    with pytest.raises(ConfigError, match="images"):
        Trainer(TrainConfig(hflip=True, device="cpu", steps=1))  # ring8: 2-D points
