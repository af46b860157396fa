"""Each loss: the known value on a hand-computed input and finite gradients."""

import math

import pytest
import torch
from torch import nn

from ganstudio.core.training.losses import (
    LOSSES,
    get_loss,
    gradient_penalty,
    r1_penalty,
    r2_penalty,
)

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
        # relativistic pairing: equal scores leave D and G at log 2 (a coin toss) ...
        ("rpgan", [0.3, -1.0], [0.3, -1.0], LOG2, LOG2),
        # ... a pair D ranks right by a wide margin costs D nothing and G the margin
        ("rpgan", [20.0], [-20.0], 0.0, 40.0),
        # pairs, not means: softplus(f_i - r_i) for (r, f) = (1, 0), (0, 1)
        (
            "rpgan",
            [1.0, 0.0],
            [0.0, 1.0],
            (math.log1p(math.exp(-1)) + math.log1p(math.exp(1))) / 2,
            (math.log1p(math.exp(1)) + math.log1p(math.exp(-1))) / 2,
        ),
    ],
)
def test_known_values(name, real, fake, d_expected, g_expected):
    loss = get_loss(name)
    r, f = torch.tensor(real), torch.tensor(fake)
    assert loss.d_loss(r, f).item() == pytest.approx(d_expected, abs=1e-6)
    # Every G loss takes D's outputs on a real batch; only a relativistic one reads them.
    assert loss.g_loss(f, r).item() == pytest.approx(g_expected, abs=1e-6)
    if not loss.g_needs_real:
        assert loss.g_loss(f).item() == pytest.approx(g_expected, abs=1e-6)


def test_relativistic_generator_loss_needs_paired_real_outputs():
    loss = get_loss("rpgan")
    assert loss.g_needs_real and not loss.probabilistic
    assert [n for n, l in LOSSES.items() if l.g_needs_real] == ["rpgan"]
    fake = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match="real batch"):
        loss.g_loss(fake)
    with pytest.raises(ValueError, match="one to one"):
        loss.g_loss(fake, torch.zeros(3))
    with pytest.raises(ValueError, match="one to one"):
        loss.d_loss(torch.zeros(3), fake)
    # Shifting every score by a constant changes nothing: only differences count.
    real = torch.tensor([0.5, -2.0])
    assert loss.d_loss(real + 7, fake + 7).item() == pytest.approx(loss.d_loss(real, fake).item())
    # G's gradient on fake_i: -sigmoid(D(x_i) - D(G(z_i))) / n, from its own pair only.
    fake = fake.clone().requires_grad_(True)
    loss.g_loss(fake, real).backward()
    assert torch.allclose(fake.grad, -torch.sigmoid(real - fake.detach()) / 2)


def test_real_margins_measure_from_each_losss_decision_boundary():
    """What adaptive augmentation averages the sign of: positive where D calls x real."""
    real, fake = torch.tensor([0.7, -0.2]), torch.tensor([1.0, -1.0])
    for name in ("minimax", "nonsaturating", "hinge"):
        assert torch.equal(get_loss(name).real_margin(real, fake), real)
    assert torch.allclose(get_loss("lsgan").real_margin(real, fake), real - 0.5)
    for name in ("wgan", "wgan-gp", "rpgan"):  # scores meaningful only against each other
        assert torch.allclose(get_loss(name).real_margin(real, fake), real - fake)


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
    real_out = D(real).detach().view(-1) if loss.g_needs_real else None
    g = loss.g_loss(D(fake).view(-1), real_out)
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


def test_r2_penalty_on_generated_data_value_and_gradient():
    """R2 is R1's zero-centred penalty on the generated batch: a linear D(x) = w.x has
    ||grad D||^2 = ||w||^2 at every point; the gradient reaches D, not the generator."""
    torch.manual_seed(0)
    D = nn.Linear(3, 1, bias=True)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[2.0, -1.0, 0.5]]))  # |w|^2 = 5.25
    G = nn.Linear(4, 3)
    fake = G(torch.randn(6, 4))
    fake_d = fake.detach().requires_grad_(True)
    penalty = r2_penalty(D(fake_d).view(-1), fake_d)
    assert penalty.item() == pytest.approx(5.25)
    penalty.backward()
    assert torch.allclose(D.weight.grad, 2 * D.weight.detach())
    assert D.bias.grad is None or D.bias.grad.abs().item() == 0.0  # the slope, not the level
    assert all(p.grad is None for p in G.parameters())
    # A non-linear D: the penalty is the mean of each sample's own squared gradient norm.
    D2 = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(5, 3, requires_grad=True)
    each = [
        torch.autograd.grad(D2(x[i : i + 1]).sum(), x)[0][i].pow(2).sum().item() for i in range(5)
    ]
    assert r2_penalty(D2(x).view(-1), x).item() == pytest.approx(sum(each) / 5, rel=1e-5)


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        get_loss("bogus")
