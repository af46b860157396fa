"""Augmentations for small datasets.

Horizontal flips enlarge the real data (flip only what may be mirrored). DiffAugment (Zhao
et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training") transforms real
AND generated images the same random way before the discriminator sees them, with
operations the generator's gradient flows through, so D cannot simply memorise a small
dataset and G is not taught to produce augmented-looking images. This follows the paper's
reference implementation (colour, translation 1/8, cutout 1/2).

Adaptive augmentation (StyleGAN2-ADA, Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data") applies each operation to each sample with a probability p,
raised while the discriminator overfits the real data and lowered when it does not. Its
overfitting heuristic is r_t = E[sign(D(x))] over real samples: near 0 when D cannot tell
real from generated, near 1 when it is sure of every real sample. Every few steps p moves
by a fixed amount towards keeping r_t at a target (0.6).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

ADA_TARGET = 0.6  # the wanted E[sign(D(x))] (StyleGAN2-ADA)
ADA_INTERVAL = 4  # generator steps between two adjustments of p (StyleGAN2-ADA)
# Thousands of real images over which p can rise from 0 to 1. StyleGAN2-ADA takes 500 for
# runs of tens of millions of images; our runs see a few hundred thousand (5,000 steps of 64),
# so p may cross its whole range in about a third of a default run.
ADA_KIMG = 100.0


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _rand(x: torch.Tensor, g: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, dtype=x.dtype, device=x.device, generator=g)


def _color(x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    x = x + (_rand(x, g, 1, 1, 1) - 0.5)  # brightness
    if x.shape[1] > 1:  # saturation
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(x, g, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)  # contrast
    return (x - mean) * (_rand(x, g, 1, 1, 1) + 0.5) + mean


def _translation(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=g)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=g)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    gy = torch.clamp(gy.unsqueeze(0) + tx + 1, 0, h + 1)
    gx = torch.clamp(gx.unsqueeze(0) + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # shifted-in pixels are zeros (mid-grey in [-1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=g)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=g)
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    # position inside the cut-out square (centred on the offset, cut off at the borders)
    in_y = gy.unsqueeze(0) - oy + ch // 2
    in_x = gx.unsqueeze(0) - ox + cw // 2
    keep = ~((in_y >= 0) & (in_y < ch) & (in_x >= 0) & (in_x < cw))
    return x * keep.unsqueeze(1).to(x.dtype)


_OPS: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def diff_augment(
    x: torch.Tensor,
    ops: tuple[str, ...],
    generator: torch.Generator | None = None,
    p: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Apply the DiffAugment operations in order; differentiable with respect to x.

    ``p`` (a number, or a 0-dim tensor on x's device: no host sync): each operation
    transforms each sample with this probability, drawn independently per operation and
    sample from ``generator``. None transforms every sample (and draws nothing more).
    """
    for op in ops:
        y = _OPS[op](x, generator)
        if p is not None:
            chosen = torch.rand(x.shape[0], device=x.device, generator=generator) < p
            y = torch.where(chosen.view(-1, *(1,) * (x.ndim - 1)), y, x)
        x = y
    return x.contiguous()


class AdaptiveAugment:
    """StyleGAN2-ADA's controller of the augmentation probability ``p`` (see the module
    docstring), kept on the training device: nothing here waits for the device.

    Call ``observe`` with the discriminator's margins on real samples (positive where D calls
    a real sample real: core.training.losses.GANLoss.real_margin) after each D update, and
    ``step`` once per generator step; every ``interval`` steps p moves by
    ``batch_size * interval / (kimg * 1000)`` up when the mean sign exceeds ``target``, down
    otherwise, within [0, 1]. ``all_reduce`` (under torchrun) adds a tensor up across the
    processes in place, so that every process keeps the same p.
    """

    def __init__(
        self,
        device: torch.device,
        batch_size: int,
        target: float = ADA_TARGET,
        kimg: float = ADA_KIMG,
        interval: int = ADA_INTERVAL,
        world_size: int = 1,
        all_reduce: Callable[[torch.Tensor], None] | None = None,
    ) -> None:
        self.target = target
        self.interval = interval
        self.world_size = world_size
        self.all_reduce = all_reduce
        self.adjustment = batch_size * interval / (kimg * 1000.0)
        self.p = torch.zeros((), device=device)  # 0-dim: compared on the device
        self._signs = torch.zeros((), device=device)  # sum of sign(margin) since the last move
        self._count = 0  # margins summed there (known on the host: no sync)
        self._steps = 0  # generator steps since the last move

    def observe(self, margin: torch.Tensor) -> None:
        m = margin.detach().float()
        self._signs += torch.sign(m).sum()
        self._count += m.numel()

    def step(self) -> None:
        self._steps += 1
        if self._steps < self.interval or self._count == 0:
            return
        signs = self._signs
        if self.all_reduce is not None:
            self.all_reduce(signs)  # every process holds as many margins: count * world
        r_t = signs / (self._count * self.world_size)
        self.p.add_(torch.sign(r_t - self.target) * self.adjustment).clamp_(0.0, 1.0)
        self._signs.zero_()
        self._count = 0
        self._steps = 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The state a checkpoint keeps (on the device; float32 and int64)."""
        return {
            "p": self.p.detach().clone(),
            "signs": self._signs.detach().clone(),
            "counts": torch.tensor([self._count, self._steps], dtype=torch.int64),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore ``state_dict()``; ValueError naming what is missing or impossible."""
        try:
            p, signs, counts = state["p"], state["signs"], state["counts"]
        except KeyError as exc:
            raise ValueError(f"the augmentation state lacks {exc}") from None
        if (
            p.numel() != 1
            or signs.numel() != 1
            or not (p.is_floating_point() and signs.is_floating_point())
        ):
            raise ValueError("the augmentation probability and sign sum must be single numbers")
        if counts.dtype != torch.int64 or tuple(counts.shape) != (2,):
            raise ValueError("the augmentation counts must be two whole numbers")
        p_value, sign_sum = float(p), float(signs)
        count, steps = (int(v) for v in counts.tolist())
        if not 0.0 <= p_value <= 1.0:  # NaN fails too
            raise ValueError(f"the augmentation probability must be from 0 to 1, not {p_value}")
        if count < 0 or not 0 <= steps < self.interval or not abs(sign_sum) <= count:
            raise ValueError(
                f"the augmentation counts are impossible (signs {sign_sum}, count {count}, "
                f"steps {steps})"
            )
        self.p.fill_(p_value)
        self._signs.fill_(sign_sum)
        self._count, self._steps = count, steps
