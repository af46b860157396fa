"""GAN objectives, written on the discriminator's raw outputs (logits or critic scores).

Each loss is a pair of functions: the discriminator's loss from its outputs on a real and a
fake batch, and the generator's loss from its outputs on a fake batch (and, for a relativistic
loss such as R3GAN's, on a real batch too: ``g_needs_real``). Both are minimised.

With D(x) = sigmoid(l) the log terms become softplus, which is exact and never takes log(0):
    -log D(x)      = softplus(-l)
    -log(1 - D(x)) = softplus(l)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class GenLossFn(Protocol):
    """The generator's loss from D's outputs on a fake batch and, when the loss compares the
    two (``GANLoss.g_needs_real``), on a real batch of the same size."""

    def __call__(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor: ...


def _logit_margin(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # D's decision boundary is the output 0 (a probability of 1/2, or the hinge's middle).
    return real


@dataclass(frozen=True)
class GANLoss:
    name: str
    title: str
    d_loss: LossFn  # (real_out, fake_out) -> scalar
    g_loss: GenLossFn  # (fake_out, real_out or None) -> scalar
    probabilistic: bool  # outputs are logits of a probability (D(x) reported as sigmoid)
    description: str
    # g_loss compares D's outputs on real and fake samples: the caller passes real_out.
    g_needs_real: bool = False
    # (real_out, fake_out) -> how far each real output lies on the real side of D's decision
    # boundary: positive where D calls the real sample real. Adaptive augmentation averages
    # its sign (core.training.augment.AdaptiveAugment).
    real_margin: LossFn = _logit_margin


def _d_logistic(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # -log D(x) - log(1 - D(G(z)))
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _g_minimax(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    # Goodfellow et al.'s original objective: G minimises log(1 - D(G(z))) = -softplus(l).
    # When D confidently rejects fakes (l << 0) its gradient sigmoid(l) vanishes: it saturates.
    return -F.softplus(fake).mean()


def _g_nonsaturating(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    # -log D(G(z)): same fixed point, strong gradients exactly when G is losing.
    return F.softplus(-fake).mean()


def _d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # The critic maximises E[D(x)] - E[D(G(z))]; we minimise its negative.
    return fake.mean() - real.mean()


def _g_wasserstein(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    return -fake.mean()


def _d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _d_least_squares(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # Mao et al.: a = 0 (fake), b = 1 (real), c = 1 (what G wants).
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()


def _g_least_squares(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def _least_squares_margin(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # The targets are 1 (real) and 0 (fake): the boundary lies halfway.
    return real - 0.5


def _paired_margin(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # A critic's or a relativistic D's scores mean something only relative to each other
    # (adding a constant changes neither loss): real_i is on the real side when it scores
    # above its partner fake_i.
    return real - fake


def _pairs(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(
            "the relativistic loss pairs real and fake samples one to one: D's outputs have "
            f"shapes {tuple(real.shape)} and {tuple(fake.shape)}"
        )


def _d_relativistic(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # Huang et al. 2024 (R3GAN), after Jolicoeur-Martineau 2018's relativistic pairing:
    # D wants each real sample to score above its partner fake: softplus(D(G(z)) - D(x)).
    _pairs(real, fake)
    return F.softplus(fake - real).mean()


def _g_relativistic(fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    # G wants the reverse: each fake above its partner real, softplus(D(x) - D(G(z))).
    if real is None:
        raise ValueError("the relativistic generator loss needs D's outputs on a real batch")
    _pairs(real, fake)
    return F.softplus(real - fake).mean()


LOSSES: dict[str, GANLoss] = {
    l.name: l
    for l in (
        GANLoss(
            "minimax",
            "Minimax (original)",
            _d_logistic,
            _g_minimax,
            True,
            "Goodfellow 2014: G minimises log(1 - D(G(z))); saturates when D wins.",
        ),
        GANLoss(
            "nonsaturating",
            "Non-saturating",
            _d_logistic,
            _g_nonsaturating,
            True,
            "G maximises log D(G(z)) instead; the usual practical choice.",
        ),
        GANLoss(
            "wgan",
            "WGAN (weight clipping)",
            _d_wasserstein,
            _g_wasserstein,
            False,
            "Arjovsky 2017: critic loss E[D(x)] - E[D(G(z))], weights clipped.",
            real_margin=_paired_margin,
        ),
        GANLoss(
            "wgan-gp",
            "WGAN-GP",
            _d_wasserstein,
            _g_wasserstein,
            False,
            "Gulrajani 2017: Wasserstein loss with a gradient penalty instead of clipping.",
            real_margin=_paired_margin,
        ),
        GANLoss(
            "hinge",
            "Hinge",
            _d_hinge,
            _g_wasserstein,
            False,
            "Hinge loss for D (as in SAGAN/BigGAN), -E[D(G(z))] for G.",
        ),
        GANLoss(
            "lsgan",
            "Least squares",
            _d_least_squares,
            _g_least_squares,
            False,
            "Mao 2017: squared error to the targets 1 (real) and 0 (fake).",
            real_margin=_least_squares_margin,
        ),
        GANLoss(
            "rpgan",
            "Relativistic pairing + R1/R2 (R3GAN)",
            _d_relativistic,
            _g_relativistic,
            False,
            "Huang 2024 (R3GAN): D and G compare each real sample with a generated one, "
            "softplus(D(fake) - D(real)) and its reverse; R1 and R2 penalties keep it stable.",
            g_needs_real=True,
            real_margin=_paired_margin,
        ),
    )
}


def get_loss(name: str) -> GANLoss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[name]


def _input_gradients(
    d: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return out, grad.reshape(grad.shape[0], -1)


def gradient_penalty(
    d: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP: E[(||grad D(x_hat)|| - 1)^2] on random interpolates between real and fake."""
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    alpha = torch.rand(shape, device=real.device, generator=generator)
    x_hat = torch.lerp(fake.detach().float(), real.detach().float(), alpha)
    _, grad = _input_gradients(d, x_hat)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def _zero_centred(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(out.float().sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1).float().pow(2).sum(dim=1).mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mescheder 2018's R1: E[||grad D(x)||^2] on real data (scale it by gamma / 2).

    ``real`` must have been made to require grad before the forward that gave ``real_out``,
    so the penalty reuses that forward pass.
    """
    return _zero_centred(real_out, real)


def r2_penalty(fake_out: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """R2: E[||grad D(G(z))||^2] on generated data (scale it by gamma / 2). R3GAN uses it with
    R1 and the same gamma: penalising D's slope on both sides is what makes the relativistic
    loss converge locally.

    ``fake`` must be a detached copy of the generated batch made to require grad before
    the forward that gave ``fake_out``.
    """
    return _zero_centred(fake_out, fake)
