"""Flips and DiffAugment: what they do to pixels, and that gradients flow through them."""

import pytest
import torch

from ganstudio.core.choices import parse_policy
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.training.augment import AdaptiveAugment, diff_augment, random_hflip
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


def test_probability_applies_each_operation_to_a_random_share_of_the_samples():
    x = torch.ones(2000, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(diff_augment(x, ("cutout",), g, p=0.0), x)
    assert (diff_augment(x, ("cutout",), g, p=1.0) == 0).flatten(1).any(1).all()
    # p as a 0-dim tensor (how the trainer keeps it, on the device): a quarter of the images
    cut = (diff_augment(x, ("cutout",), g, p=torch.tensor(0.25)) == 0).flatten(1).any(1)
    assert 400 < cut.sum().item() < 600
    # each operation draws its own samples: both ops at 1/2 leave about a quarter untouched
    y = diff_augment(torch.rand(2000, 3, 8, 8), ("color", "cutout"), g, p=0.5)
    assert y.shape == (2000, 3, 8, 8)
    # the same seed, the same draws (what makes a resumed run exact)
    a = diff_augment(x, ("translation", "cutout"), torch.Generator().manual_seed(5), p=0.3)
    b = diff_augment(x, ("translation", "cutout"), torch.Generator().manual_seed(5), p=0.3)
    assert torch.equal(a, b)
    x = torch.rand(16, 3, 8, 8, requires_grad=True)
    diff_augment(x, ("color", "translation"), g, p=torch.tensor(0.5)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_adaptive_probability_rises_while_d_is_sure_of_the_reals_and_falls_when_not():
    ada = AdaptiveAugment(torch.device("cpu"), batch_size=50, kimg=1.0, interval=4)
    assert ada.adjustment == pytest.approx(50 * 4 / 1000) and ada.p.item() == 0.0
    positive = torch.full((50,), 2.0)
    for step in range(1, 13):
        ada.observe(positive)  # E[sign] = 1 > 0.6: D overfits, augment more
        ada.step()
        moves = step // 4  # only every 4 steps
        assert ada.p.item() == pytest.approx(0.2 * moves)
    for _ in range(40):
        ada.observe(positive)
        ada.step()
    assert ada.p.item() == 1.0  # clamped
    for _ in range(8):
        ada.observe(-positive)  # E[sign] = -1 < 0.6: augment less
        ada.step()
    assert ada.p.item() == pytest.approx(0.6)
    for _ in range(40):
        ada.observe(-positive)
        ada.step()
    assert ada.p.item() == 0.0  # clamped at 0
    # Just above / below the target: the sign of r_t - target decides, not its size.
    mixed = torch.tensor([1.0] * 9 + [-1.0])  # E[sign] = 0.8
    for _ in range(4):
        ada.observe(mixed)
        ada.step()
    assert ada.p.item() == pytest.approx(0.2)
    ada.step()  # with nothing observed nothing moves (and nothing divides by 0)
    assert torch.isfinite(ada.p)


def test_adaptive_augment_sums_signs_across_processes():
    """Under torchrun the signs are added up over the processes: every one moves p alike."""
    seen = []

    def all_reduce(t):
        seen.append(t.item())
        t.add_(-3 * t)  # as if the other process saw the opposite, twice as strongly

    ada = AdaptiveAugment(
        torch.device("cpu"),
        batch_size=8,
        kimg=0.032,
        interval=1,
        world_size=2,
        all_reduce=all_reduce,
    )
    ada.observe(torch.ones(8))
    ada.step()
    assert seen == [8.0] and ada.p.item() == 0.0  # total -16 over 16: falls (already at 0)


def test_adaptive_augment_state_round_trips_and_rejects_damage():
    ada = AdaptiveAugment(torch.device("cpu"), batch_size=10, kimg=0.1, interval=4)
    for _ in range(6):
        ada.observe(torch.tensor([1.0] * 9 + [-1.0]))
        ada.step()
    state = ada.state_dict()
    assert set(state) == {"p", "signs", "counts"}
    other = AdaptiveAugment(torch.device("cpu"), batch_size=10, kimg=0.1, interval=4)
    other.load_state_dict(state)
    for a in (ada, other):  # both continue alike: the partial interval was kept
        for _ in range(2):
            a.observe(torch.tensor([1.0] * 9 + [-1.0]))
            a.step()
    assert ada.p.item() == other.p.item() == pytest.approx(0.8)
    bad = [
        {"p": torch.tensor(1.5), "signs": torch.tensor(0.0), "counts": torch.tensor([0, 0])},
        {
            "p": torch.tensor(float("nan")),
            "signs": torch.tensor(0.0),
            "counts": torch.tensor([0, 0]),
        },
        {"p": torch.tensor(0.5), "signs": torch.tensor(9.0), "counts": torch.tensor([3, 1])},
        {"p": torch.tensor(0.5), "signs": torch.tensor(0.0), "counts": torch.tensor([0, 4])},
        {"p": torch.tensor(0.5), "signs": torch.tensor(0.0)},
    ]
    for state in bad:
        with pytest.raises(ValueError, match="augmentation"):
            other.load_state_dict(state)


def test_training_with_adaptive_augmentation_reports_p(tiny_images):
    cfg = TrainConfig(
        steps=12,
        batch_size=8,
        width=8,
        latent_dim=8,
        device="cpu",
        augment="auto",
        augment_kimg=0.128,  # p moves by 1/4 every 4 steps
        report_interval=0.0,
        preview_interval=1e9,
    )
    t = Trainer(cfg, tiny_images)
    assert t.config.diffaugment == "color,translation,cutout"  # the default operations
    assert t.ada is not None and t.ada.adjustment == pytest.approx(0.25)
    reports = []
    assert run_training(t, on_report=reports.append).status == "completed"
    ps = [r.augment_p for r in reports]
    assert all(p is not None and 0.0 <= p <= 1.0 for p in ps)
    assert ps[-1] == pytest.approx(t.ada.p.item())
    assert all(p * 4 == pytest.approx(round(p * 4)) for p in ps)  # moved in steps of 1/4
    always = Trainer(cfg.with_updates(augment="always"), tiny_images)
    assert always.ada is None
