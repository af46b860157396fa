"""Each loss: the known value on a hand-computed input and finite gradients."""

import math

import pytest
import torch
from torch import nn

from ganstudio.core.training.losses import LOSSES, get_loss, gradient_penalty, r1_penalty

LOG2 = math.log(2.0)


@pytest.mark.parametrize(
    "name, real, fake, d_expected, g_expected",
    [
        # D(x) = sigmoid(0) = 0.5 everywhere: -log .5 - log .5; G minimax: log(1 - .5)
        ("minimax", [0.0, 0.0], [0.0, 0.0], 2 * LOG2, -LOG2),
        ("nonsaturating", [0.0, 0.0], [0.0, 0.0], 2 * LOG2, LOG2),
        # logits 2 (real) and -1 (fake): softplus(-2) + softplus(-1); G_ns: softplus(1)
        (
            "nonsaturating",
            [2.0],
            [-1.0],
            math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)),
            math.log1p(math.exp(1)),
        ),
        (
            "minimax",
            [2.0],
            [-1.0],
            math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)),
            -math.log1p(math.exp(-1)),
        ),
        # critic loss is the negative of E[D(x)] - E[D(G(z))]
        ("wgan", [3.0, 1.0], [0.5, -0.5], 0.0 - 2.0, -0.0),
        ("wgan-gp", [1.0], [4.0], 4.0 - 1.0, -4.0),
        # hinge: relu(1 - 0.5) + relu(1 + (-2)) = 0.5 + 0; relu(1-2)=0 + relu(1+0.5)=1.5
        ("hinge", [0.5, 2.0], [-2.0, 0.5], (0.5 + 0.0) / 2 + (0.0 + 1.5) / 2, -(-2.0 + 0.5) / 2),
        # least squares: 0.5 (D(x)-1)^2 + 0.5 D(G(z))^2; G: 0.5 (D(G(z)) - 1)^2
        ("lsgan", [1.0, 0.0], [0.0, 2.0], 0.5 * 0.5 + 0.5 * 2.0, 0.5 * (1.0 + 1.0) / 2),
    ],
)
def test_known_values(name, real, fake, d_expected, g_expected):
    loss = get_loss(name)
    r, f = torch.tensor(real), torch.tensor(fake)
    assert loss.d_loss(r, f).item() == pytest.approx(d_expected, abs=1e-6)
    assert loss.g_loss(f).item() == pytest.approx(g_expected, abs=1e-6)


def test_minimax_saturates_where_nonsaturating_does_not():
    """When D confidently rejects fakes, the original G loss has almost no gradient."""
    fake = torch.tensor([-8.0], requires_grad=True)
    get_loss("minimax").g_loss(fake).backward()
    g_minimax = fake.grad.abs().item()
    fake.grad = None
    get_loss("nonsaturating").g_loss(fake).backward()
    assert g_minimax < 1e-3 < fake.grad.abs().item()


@pytest.mark.parametrize("name", list(LOSSES))
def test_finite_gradients_through_networks(name):
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    real, fake = torch.randn(32, 2), G(torch.randn(32, 4))
    loss = get_loss(name)
    d = loss.d_loss(D(real).view(-1), D(fake.detach()).view(-1))
    d.backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters())
    g = loss.g_loss(D(fake).view(-1))
    g.backward()
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in G.parameters())


def test_gradient_penalty_zero_for_unit_slope_critic():
    """D(x) = w.x with |w| = 1 has gradient norm exactly 1 everywhere: penalty 0."""
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[0.6, 0.8]]))
    gp = gradient_penalty(lambda x: D(x).view(-1), torch.randn(8, 2), torch.randn(8, 2))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        D.weight.mul_(3.0)  # gradient norm 3 -> (3 - 1)^2 = 4
    gp = gradient_penalty(lambda x: D(x).view(-1), torch.randn(8, 2), torch.randn(8, 2))
    assert gp.item() == pytest.approx(4.0, rel=1e-5)


def test_r1_penalty_value_and_gradient():
    D = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # |grad|^2 = 9
    real = torch.randn(5, 3).requires_grad_(True)
    penalty = r1_penalty(D(real).view(-1), real)
    assert penalty.item() == pytest.approx(9.0)
    penalty.backward()
    assert torch.allclose(D.weight.grad, 2 * D.weight.detach())  # d|w|^2/dw = 2w


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        get_loss("bogus")
