"""Probes: D's view of the game, the 2-D field from a real discriminator, slow motion, and
that watching never changes the run."""

import threading

import numpy as np
import pytest
import torch

from ganstudio.core.config import TrainConfig
from ganstudio.core.quality.coverage import mode_coverage
from ganstudio.core.training.events import STAT_NAMES
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.probes import take_probe
from ganstudio.core.training.trainer import Trainer


def weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def ring8():
    """A ring8 GAN trained long enough for its discriminator to know where the modes are."""
    torch.set_num_threads(1)
    cfg = TrainConfig(dataset="builtin:ring8?n=4000", steps=1500, width=64, seed=0)
    trainer = Trainer(cfg)
    assert run_training(trainer).status == "completed"
    return trainer


def heat_at(field, x, y):
    x0, x1, y0, y1 = field.extent
    n = field.heat.shape[0]
    j = round((x - x0) / (x1 - x0) * (n - 1))
    i = round((y - y0) / (y1 - y0) * (n - 1))
    return float(field.heat[i, j])


def test_heat_map_comes_from_the_discriminator_and_is_high_on_the_modes(ring8):
    field = take_probe(ring8).field
    assert field.heat.shape == (64, 64) and np.isfinite(field.heat).all()
    assert ((field.heat >= 0) & (field.heat <= 1)).all()  # a probability (non-saturating)
    modes = np.asarray(ring8.info.modes)
    on_modes = np.mean([heat_at(field, *m) for m in modes])
    assert on_modes > heat_at(field, 0.0, 0.0) + 0.2  # the empty centre of the ring
    # The heat map is D itself on the grid's points (with PacGAN: a pack of copies of one).
    x0, x1, y0, y1 = field.extent
    pack = ring8.D.pack
    corners = torch.tensor([[x0, y0], [x1, y1]]).repeat_interleave(pack, dim=0)
    with torch.no_grad():
        d = torch.sigmoid(ring8.D(corners)).numpy()
    assert d[0] == pytest.approx(field.heat[0, 0], abs=1e-5)
    assert d[1] == pytest.approx(field.heat[-1, -1], abs=1e-5)


def test_arrows_push_generated_points_towards_the_real_modes(ring8):
    field = take_probe(ring8).field
    modes = np.asarray(ring8.info.modes)
    assert field.push.shape == field.fake.shape and np.isfinite(field.push).all()
    nearest = modes[np.argmin(((field.fake[:, None] - modes[None]) ** 2).sum(-1), axis=1)]
    towards = nearest - field.fake
    far = np.linalg.norm(towards, axis=1) > 3 * ring8.info.mode_sigma
    assert far.sum() >= 20
    cos = (towards * field.push).sum(1) / (
        np.linalg.norm(towards, axis=1) * np.linalg.norm(field.push, axis=1) + 1e-12
    )
    assert cos[far].mean() > 0.3
    # The arrow is minus the gradient of the generator's loss at each point (of its pack).
    pack = ring8.D.pack
    x = torch.tensor(field.fake[:pack], requires_grad=True)
    ring8.loss.g_loss(ring8.D(x)).backward()
    np.testing.assert_allclose(-x.grad.numpy(), field.push[:pack], rtol=1e-3, atol=1e-6)


def test_push_of_a_relativistic_loss_pairs_each_point_with_a_real_one():
    """rpgan's generator loss needs D's scores on real points: the probe pairs the shown
    points with as many real ones, and watching still changes nothing."""
    cfg = TrainConfig(dataset="builtin:ring8?n=2000", steps=20, width=16, loss="rpgan", seed=0)
    trainer = Trainer(cfg)
    run_training(trainer)
    before = weights(trainer.D)
    field = take_probe(trainer).field
    assert field.push.shape == field.fake.shape and np.isfinite(field.push).all()
    assert np.abs(field.push).sum() > 0
    assert same(before, weights(trainer.D))


def test_manifold_and_mode_histogram(ring8):
    field = take_probe(ring8).field
    assert field.manifold.shape == (21, 21, 2) and np.isfinite(field.manifold).all()
    assert len(field.mode_counts) == 9 and field.mode_counts.sum() == len(ring8.fixed_z)
    # The histogram counts the current generator's points as mode coverage does.
    with torch.no_grad():
        points = ring8.G(ring8.fixed_z).numpy()
    cov = mode_coverage(points, ring8.info.modes, ring8.info.mode_sigma)
    assert tuple(field.mode_counts[:8]) == cov.per_mode_hq
    assert field.mode_counts[8] == round(len(points) * (1 - cov.hq_fraction))
    assert field.mode_radius == pytest.approx(3 * ring8.info.mode_sigma)


def test_probe_images_extremes_are_sorted(tiny_images):
    trainer = Trainer(TrainConfig(steps=3, width=8, batch_size=16), tiny_images)
    run_training(trainer)
    p = take_probe(trainer)
    assert p.field is None and p.d_real.shape == (16,) and p.d_fake.shape == (16,)
    assert p.least_real.dtype == np.uint8 and p.least_real.shape[1:] == trainer.info.sample_shape
    assert len(p.least_real) == len(p.most_real) == 8
    assert (np.diff(p.least_real_scores) >= 0).all() and p.least_real_scores[0] == p.d_real.min()
    assert (np.diff(p.most_real_scores) <= 0).all() and p.most_real_scores[0] == p.d_fake.max()


@pytest.mark.parametrize("dataset", ["points", "images"])
def test_probing_every_step_changes_nothing(dataset, gaussian_points, tiny_images):
    # DCGAN has batch norm in G and D (buffers a training-mode forward pass would move).
    data = gaussian_points if dataset == "points" else tiny_images
    cfg = TrainConfig(steps=6, width=8, batch_size=16, ema=0.9, seed=3)
    plain, probed = Trainer(cfg, data), Trainer(cfg, data)
    for _ in range(6):
        plain.train_step()
        take_probe(probed)
        probed.train_step()
        take_probe(probed)
    plain.flush_report()
    probed.flush_report()
    for name in ("G", "D", "G_ema"):
        assert same(weights(getattr(plain, name)), weights(getattr(probed, name)))
    np.testing.assert_array_equal(plain.history()[1], probed.history()[1])


def test_gradient_norms_are_reported(gaussian_points):
    reports = []
    cfg = TrainConfig(steps=20, width=8, batch_size=16, report_interval=0.0)
    run_training(Trainer(cfg, gaussian_points), on_report=reports.append)
    g = np.concatenate([r.g_grad for r in reports])
    d = np.concatenate([r.d_grad for r in reports])
    assert len(g) == 20 and np.isfinite(g).all() and (g > 0).all() and (d > 0).all()
    assert len(STAT_NAMES) == 6


def test_slow_motion_shows_each_half_of_a_step(gaussian_points):
    cfg = TrainConfig(steps=50, width=8, batch_size=16)
    trainer = Trainer(cfg, gaussian_points)
    control = trainer.control
    control.pause()
    control.slow_motion = True
    probes: list = []
    arrived = threading.Event()

    def on_probe(p):
        probes.append((p, weights(trainer.G), weights(trainer.D)))
        arrived.set()

    thread = threading.Thread(target=lambda: run_training(trainer, on_probe=on_probe))
    thread.start()
    try:

        def next_probe():
            assert arrived.wait(10)
            arrived.clear()
            return probes[-1]

        start, g0, d0 = next_probe()
        assert start.step == 0
        control.step()  # the discriminator's half
        after_d, g1, d1 = next_probe()
        assert after_d.phase == "d" and after_d.step == 0
        assert same(g0, g1) and not same(d0, d1)
        control.step()  # the generator's half
        after_g, g2, d2 = next_probe()
        assert after_g.phase == "g" and after_g.step == 1
        assert not same(g1, g2) and same(d1, d2)
        control.slow_motion = False
        control.step()  # a whole step again
        whole, g3, d3 = next_probe()
        assert whole.phase == "" and whole.step == 2
        assert not same(g2, g3) and not same(d2, d3)
    finally:
        control.stop()
        thread.join(10)
    assert not thread.is_alive()
