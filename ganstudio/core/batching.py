"""How many latents to put through a generator at once when generating many samples.

A fixed count is wrong at both ends. Generating 1,000 digits of the default DCGAN in one
batch of 1,000 on 2 CPU cores took 0.27-0.31 s against 0.09-0.10 s in batches of 64-256: its
largest activation (64 x 14 x 14 floats a sample, 50 MB for the batch) is above the C
allocator's mmap threshold (core.allocator, 32 MiB), so every call had it mapped afresh and
page-faulted in as zeroed pages (60,000 faults a call). And the quality monitor, which
times its generating on an eighth of a measurement's latents, read a first run's final
measurement 0.4 s short (the batch it timed fitted, the real one did not). On the other
hand a 2-D MLP's activations are a few hundred floats a sample: there a large batch is
the fast one.

So the batch is sized by memory: ``generation_batch`` runs the generator once on two latents
with forward hooks, finds its largest output per sample, and takes as many samples as keep
that under ``ACTIVATION_BUDGET`` (on the CPU well under the mmap threshold; on an
accelerator larger), between 1 and ``MOST``. The count depends only on the architecture, so
a model's samples repeat exactly from run to run.
"""

from __future__ import annotations

import torch
from torch import nn

from ganstudio.core.allocator import MIB, MMAP
from ganstudio.core.conditioning import classes_of, run_generator

# Bytes of the largest single activation of a batch, by device type (others: "default"):
# on the CPU a quarter of the C allocator's mmap threshold (a batch's other buffers, such
# as a transposed convolution's columns, are larger than its activations).
ACTIVATION_BUDGET = {"cpu": MMAP // 4, "default": 256 * MIB}
MOST = 1024  # samples per batch at most


def largest_activation(module: nn.Module, latent_dim: int, device: torch.device) -> int:
    """Bytes per sample of the largest tensor any of ``module``'s layers outputs (at least
    the output's), measured on two latents in eval mode without gradients; the module's
    mode is restored afterwards and nothing it holds changes (eval mode updates no
    batch-norm statistics, spectral norm no vectors)."""
    largest = [0]

    def hook(_module: nn.Module, _inputs: object, output: object) -> None:
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        for t in outputs:
            if isinstance(t, torch.Tensor) and t.dim() > 0 and len(t) == 2:
                largest[0] = max(largest[0], t[0].numel() * t.element_size())

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    was_training = module.training
    module.eval()
    try:
        z = torch.zeros(2, latent_dim, device=device)
        y = torch.zeros(2, dtype=torch.long, device=device) if classes_of(module) else None
        with torch.no_grad():
            run_generator(module, z, y)
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return max(1, largest[0])


def generation_batch(module: nn.Module, latent_dim: int, device: torch.device) -> int:
    """Latents per forward pass for generating many samples (see the module docstring)."""
    budget = ACTIVATION_BUDGET.get(device.type, ACTIVATION_BUDGET["default"])
    per_sample = largest_activation(module, latent_dim, device)
    return max(1, min(MOST, budget // per_sample))
