"""core.batching: generation batches sized by a generator's largest activation."""

import torch
from torch import nn

from ganstudio.core import batching
from ganstudio.core.batching import generation_batch, largest_activation
from ganstudio.core.config import TrainConfig
from ganstudio.core.models import build, model_specs
from ganstudio.core.training.trainer import Trainer

CPU = torch.device("cpu")


def test_the_largest_activation_is_the_widest_layer_s_output_per_sample():
    g = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
    assert largest_activation(g, 4, CPU) == 10 * 4  # 10 float32 numbers a sample


def test_a_small_network_gets_the_largest_batch_and_a_wide_one_a_memory_bound_one():
    small = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    assert generation_batch(small, 2, CPU) == batching.MOST
    # 64 channels of 64 x 64 floats a sample: 1 MiB, so 8 of them in the CPU's 8 MiB.
    wide = nn.Sequential(nn.Linear(8, 64 * 64 * 64), nn.Unflatten(1, (64, 64, 64)))
    per_sample = 64 * 64 * 64 * 4
    assert largest_activation(wide, 8, CPU) == per_sample
    assert generation_batch(wide, 8, CPU) == batching.ACTIVATION_BUDGET["cpu"] // per_sample
    huge = nn.Sequential(nn.Linear(8, 3 * 2048 * 2048), nn.Unflatten(1, (3, 2048, 2048)))
    assert generation_batch(huge, 8, CPU) == 1  # never 0


def test_measuring_changes_neither_the_mode_nor_the_batch_norm_statistics():
    g = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    g.train()
    before = [b.clone() for b in g.buffers()]
    largest_activation(g, 4, CPU)
    assert g.training
    assert all(torch.equal(a, b) for a, b in zip(before, g.buffers(), strict=True))
    assert not any(m._forward_hooks for m in g.modules())  # the hooks are removed


def test_the_default_digits_generator_is_batched_under_the_cpu_budget():
    g_spec, _ = model_specs("dcgan", (1, 28, 28), latent_dim=100, width=64, depth=0, d_norm="none")
    g = build(g_spec)
    batch = generation_batch(g, 100, CPU)
    assert 1 < batch < 1000
    assert batch * largest_activation(g, 100, CPU) <= batching.ACTIVATION_BUDGET["cpu"]


def test_trainer_samples_match_one_pass_and_carry_no_gradients(gaussian_points):
    trainer = Trainer(TrainConfig(steps=2, width=8, batch_size=16, ema=0.0), gaussian_points)
    trainer.train_step()
    z = torch.randn(50, trainer.resolved.latent_dim)
    out = trainer.sample(z)
    assert out.shape == (50, 2) and not out.requires_grad
    g = trainer.sampler()
    g.eval()
    with torch.no_grad():
        whole = g(z)
    g.train()
    assert torch.allclose(out, whole, atol=1e-6)
