"""The names a user picks from (losses, architectures, built-in datasets ...), without torch.

The window lists these before the engine (and PyTorch) has finished loading. The modules
that implement them check against these tuples, so the two cannot drift apart (a test).
"""

from __future__ import annotations

DEFAULT_DATASET = "builtin:ring8"

# name -> what the set-up panel shows
BUILTIN_DATASETS: dict[str, str] = {
    "ring8": "Ring of 8 Gaussians (2-D)",
    "grid25": "Grid of 25 Gaussians (2-D)",
    "spiral": "Two-armed spiral (2-D)",
    "moons": "Two moons (2-D)",
    "digits": "Digits, 28 px (images)",
    "shapes": "Coloured shapes, 32 px (images)",
}

LOSS_NAMES: dict[str, str] = {
    "minimax": "Minimax (original)",
    "nonsaturating": "Non-saturating",
    "wgan": "WGAN (weight clipping)",
    "wgan-gp": "WGAN-GP",
    "hinge": "Hinge",
    "lsgan": "Least squares (LSGAN)",
    "rpgan": "Relativistic pairing + R1/R2 (R3GAN)",
}

ARCHITECTURES = ("mlp", "dcgan", "fastgan")
D_NORMS = ("batch", "layer", "spectral", "none")
LR_SCHEDULES = ("constant", "linear", "cosine", "late-cosine")
DCGAN_SIZES = (28, 32, 64)
FASTGAN_SIZES = (28, 32, 64, 128, 256, 512)
# The sizes pictures may be prepared at (core.data.prepare): every size a network takes.
PICTURE_SIZES = (28, 32, 64, 128, 256, 512)
# The automatic picture size stops at 64 px on the CPU (a 256 px picture has 16 times the
# pixels: days of training there), at 256 px on a GPU (FastGAN, the automatic model from
# 64 px, is made for few-shot training at 256 px on one GPU). Larger only when asked for.
AUTO_SIZE_CPU = 64
AUTO_SIZE_ACCELERATOR = 256


def largest_auto_size(accelerator: bool) -> int:
    """The largest automatic picture size for training on a GPU (``accelerator``) or the CPU."""
    return AUTO_SIZE_ACCELERATOR if accelerator else AUTO_SIZE_CPU


AUGMENT_OPS = ("color", "translation", "cutout")
# How often DiffAugment applies: never, to every sample, or adaptively (StyleGAN2-ADA).
AUGMENT_MODES = ("off", "always", "auto")
DEFAULT_AUGMENT_POLICY = "color,translation,cutout"  # what "always"/"auto" use with no ops

# The largest networks a setting may ask for (core.models checks every spec against them,
# core.config every setting; core.models also bounds the weights of one network).
MAX_LATENT_DIM = 4096  # size of the latent vector z
MAX_MLP_WIDTH = 8192  # hidden units of an MLP layer ("width" for the MLP)
MAX_MLP_DEPTH = 64  # hidden layers of an MLP ("depth")
MAX_DCGAN_WIDTH = 1024  # base channel count of DCGAN ("width" for DCGAN)
MAX_FASTGAN_WIDTH = 256  # base channel count of FastGAN (its ngf / ndf; 64 in the paper)
MAX_PACK = 64  # samples a PacGAN discriminator judges at once


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); raises ValueError on unknown names."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    for op in ops:
        if op not in AUGMENT_OPS:
            raise ValueError(
                f"unknown DiffAugment operation {op!r}; choose from {', '.join(AUGMENT_OPS)}"
            )
    return ops
