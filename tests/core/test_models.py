import pytest
import torch

from ganstudio.core.models import ModelSpec, build, count_parameters, model_specs


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    g_spec, d_spec = model_specs(
        "dcgan", (channels, size, size), latent_dim=8, width=8, depth=3, d_norm="batch"
    )
    G, D = build(g_spec), build(d_spec)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (4,)


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("norm", ["none", "batch", "layer", "spectral"])
def test_mlp_shapes(shape, norm):
    g_spec, d_spec = model_specs("mlp", shape, latent_dim=4, width=16, depth=2, d_norm=norm)
    G, D = build(g_spec), build(d_spec)
    x = G(torch.randn(6, 4))
    assert x.shape == (6, *shape)
    assert D(x).shape == (6,)


def test_pacgan_packs_samples():
    _, d_spec = model_specs("mlp", (2,), latent_dim=4, width=16, depth=2, d_norm="none", pack=4)
    D = build(d_spec)
    assert D(torch.randn(32, 2)).shape == (8,)


def test_rebuild_from_spec_dict_gives_same_network():
    g_spec, _ = model_specs("dcgan", (3, 32, 32), latent_dim=16, width=8, depth=3, d_norm="batch")
    a = build(g_spec)
    b = build(ModelSpec.from_dict(g_spec.to_dict()))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    z = torch.randn(2, 16)
    assert torch.equal(a(z), b(z))
    assert count_parameters(a) == count_parameters(b)


def test_dcgan_init_statistics():
    G = build(ModelSpec("dcgan_g", {"latent_dim": 100, "image_size": 64, "channels": 3}))
    w = G.net[0].weight
    assert abs(w.mean().item()) < 1e-3
    assert w.std().item() == pytest.approx(0.02, rel=0.05)


def test_bad_specs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown network"):
        build(ModelSpec("nope"))
    with pytest.raises(ValueError, match="bad arguments"):
        build(ModelSpec("mlp_g", {"colour": 3}))
    with pytest.raises(ValueError, match="28, 32, 64 px"):
        model_specs("dcgan", (3, 48, 48), 8, 8, 3, "batch")
    with pytest.raises(ValueError, match="2-D points"):
        model_specs("dcgan", (2,), 8, 8, 3, "batch")
