import pytest
import torch

from ganstudio.core.errors import UserError
from ganstudio.core.models import (
    MAX_LATENT_DIM,
    ModelSpec,
    ModelSpecError,
    build,
    checked_spec,
    count_parameters,
    model_specs,
    parameter_count,
)


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


# ------------------------------------------------------------------------------------------
# What a spec may ask for (models.checked_spec, used by build)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("mlp_g", {"layers": 10**6}, "mlp_g: layers must be a whole number from 0 to 64"),
        ("mlp_g", {"hidden": 2**40}, "hidden must be a whole number from 1 to 8,192"),
        ("mlp_g", {"latent_dim": 0}, "latent_dim must be a whole number from 1 to 4,096"),
        ("mlp_g", {"latent_dim": 16.0}, "latent_dim must be a whole number"),
        ("mlp_g", {"latent_dim": "16"}, "latent_dim must be a whole number"),
        ("mlp_g", {"latent_dim": True}, "latent_dim must be a whole number"),
        ("mlp_g", {"out_shape": [2, 28, 28]}, "out_shape must be [2] (2-D points)"),
        ("mlp_g", {"out_shape": [4, 28, 28]}, "with 1 or 3 channels"),
        ("mlp_g", {"out_shape": [3, 28, 10**6]}, "sides from 1 to 256"),
        ("mlp_g", {"out_shape": [5]}, "out_shape must be"),
        ("mlp_g", {"out_shape": "2"}, "out_shape must be"),
        ("mlp_g", {"batch_norm": 1}, "batch_norm must be true or false"),
        ("mlp_g", {"data_mean": [0.0]}, "data_mean must be null or a list of 2 finite numbers"),
        ("mlp_g", {"data_mean": [0.0, float("nan")]}, "data_mean must be"),
        ("mlp_g", {"data_std": 0}, "data_std must be a positive finite number"),
        ("mlp_d", {"pack": 10**6}, "pack must be a whole number from 1 to 64"),
        ("mlp_d", {"norm": "group"}, "norm must be one of batch, layer, spectral, none"),
        ("dcgan_g", {"channels": 2}, "channels must be one of 1, 3, not 2"),
        ("dcgan_d", {"channels": 4}, "channels must be one of 1, 3, not 4"),
        ("dcgan_g", {"image_size": 48}, "image_size must be one of 28, 32, 64"),
        ("dcgan_g", {"base": 0}, "base must be a whole number from 1 to 1,024"),
        ("dcgan_g", {"base": 1024}, "would have 717,830,144 weights (2.9 GB as float32)"),
        ("mlp_g", {"hidden": 8192, "layers": 64}, "more than the 100,000,000 (0.4 GB)"),
    ],
)
def test_a_spec_beyond_the_limits_is_refused_before_anything_is_allocated(name, kwargs, message):
    with pytest.raises(ModelSpecError) as err:
        build(ModelSpec(name, kwargs))
    assert message in str(err.value), err.value
    assert isinstance(err.value, UserError) and isinstance(err.value, ValueError)


def test_a_spec_from_json_must_be_an_object_with_a_name():
    for bad, message in [
        ("mlp_g", "is described by"),
        ({"kwargs": {}}, '"name" must be text'),
        ({"name": ["mlp_g"]}, '"name" must be text'),
        ({"name": "mlp_g", "kwargs": "big"}, '"kwargs" must be an object'),
    ]:
        with pytest.raises(ModelSpecError, match=message):
            ModelSpec.from_dict(bad)


def test_a_checked_spec_writes_out_every_argument_and_counts_weights_without_them():
    spec = checked_spec(ModelSpec("dcgan_g", {"latent_dim": 8, "base": 4}))
    assert spec.kwargs == {"latent_dim": 8, "image_size": 64, "channels": 3, "base": 4}
    assert parameter_count(spec) == count_parameters(build(spec))
    g, d = model_specs("mlp", (2,), 4, 16, 2, "spectral", pack=2, data_mean=[1.0, 2.0])
    for s in (g, d):
        assert parameter_count(checked_spec(s)) == count_parameters(build(s))
    # Spectral norm is left out while counting (it adds no weights), not when building.
    conv_d = checked_spec(ModelSpec("dcgan_d", {"image_size": 32, "base": 4, "norm": "spectral"}))
    built = build(conv_d)
    assert parameter_count(conv_d) == count_parameters(built)
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in built.modules())


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("dcgan", (3, 64, 64))])
def test_the_defaults_and_the_largest_choices_fit(arch, shape):
    """What the presets train, and an MLP of the widest, deepest layers the limits allow."""
    width = 64 if arch == "dcgan" else 256
    for spec in model_specs(arch, shape, 100, width, 3, "batch"):
        checked_spec(spec)
    checked_spec(ModelSpec("mlp_g", {"latent_dim": MAX_LATENT_DIM, "hidden": 1024, "layers": 64}))


def test_counting_weights_skips_what_only_costs_time():
    """Checking a spec (the window does it on every edit, on its GUI thread) builds the
    network on the meta device without spectral norm's power iterations or the
    initialisation, whose first normal_ there imports torch._dynamo (2 s)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ganstudio.core.models import ModelSpec, checked_spec\n"
        "for name, kw in [('dcgan_d', {'norm': 'spectral'}), ('fastgan_d', {'norm': "
        "'spectral'}), ('fastgan_g', {}), ('dcgan_g', {}), ('mlp_d', {'norm': 'spectral'})]:\n"
        "    checked_spec(ModelSpec(name, kw))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
