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
}

ARCHITECTURES = ("mlp", "dcgan")
D_NORMS = ("batch", "layer", "spectral", "none")
LR_SCHEDULES = ("constant", "linear", "cosine", "late-cosine")
DCGAN_SIZES = (28, 32, 64)
AUGMENT_OPS = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); raises ValueError on unknown names."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    for op in ops:
        if op not in AUGMENT_OPS:
            raise ValueError(
                f"unknown DiffAugment operation {op!r}; choose from {', '.join(AUGMENT_OPS)}"
            )
    return ops
