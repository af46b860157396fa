"""FastGAN: shapes at every size, the self-supervised discriminator, precision and memory
formats, spec checks, training, resume, model files, GANSpace and ONNX export."""

import numpy as np
import pytest
import torch
from _tiny import train_tiny

from ganstudio.core.config import ConfigError, TrainConfig, resolve
from ganstudio.core.data.dataset import Dataset, DatasetInfo
from ganstudio.core.explore import sampling
from ganstudio.core.explore.latent import pca_directions
from ganstudio.core.fastgan import FastGANGenerator, SpectralNorm, quarters
from ganstudio.core.modelfile import load_generator
from ganstudio.core.models import (
    ModelSpec,
    ModelSpecError,
    build,
    checked_spec,
    count_parameters,
    model_specs,
    parameter_count,
)
from ganstudio.core.training.checkpoint import read_checkpoint, resume, save_checkpoint
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

LATENT = 8
BASE = 4
DATASET = "builtin:shapes?size=64&n=64"


def tiny(size=64, channels=3, norm="batch"):
    g, d = model_specs("fastgan", (channels, size, size), LATENT, BASE, 3, norm)
    return build(g), build(d)


def images(n, channels=3, size=64, seed=0):
    return (
        torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    )


@pytest.mark.parametrize("size", [28, 32, 64, 128, 256, 512])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(size, channels):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        G, D = tiny(size, channels)
    x = G(torch.randn(2, LATENT))
    assert x.shape == (2, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert G.out_shape == (channels, size, size) and G.is_image and G.latent_dim == LATENT
    assert D(x).shape == (2,)  # one score per picture, like DCGAN's discriminator
    assert count_parameters(G) < 100_000 and count_parameters(D) < 50_000


def test_paper_widths_and_weight_counts():
    """base 64 gives the paper's widths; counted on the meta device, as checked_spec does."""
    g, d = model_specs("fastgan", (3, 256, 256), 256, 64, 3, "batch")
    assert 20e6 < parameter_count(checked_spec(g)) < 30e6
    assert 5e6 < parameter_count(checked_spec(d)) < 12e6
    small_g, small_d = model_specs("fastgan", (3, 128, 128), LATENT, BASE, 3, "spectral")
    assert parameter_count(small_g) == count_parameters(build(small_g))
    assert parameter_count(small_d) == count_parameters(build(small_d))


def test_generator_excites_from_64_px_on():
    assert [type(m).__name__ for m in FastGANGenerator(LATENT, 64, 3, BASE).excite] == [
        "SkipExcitation"
    ]  # 4 -> 64
    assert FastGANGenerator(LATENT, 256, 3, BASE).gated == [64, 128, 256]
    assert FastGANGenerator(LATENT, 256, 3, BASE).sources == [4, 8, 16]


@pytest.mark.parametrize("size, start, sides", [(32, 4, [8, 16, 32]), (28, 7, [14, 28])])
def test_small_sizes_gate_the_last_features_with_the_first(size, start, sides):
    G = FastGANGenerator(LATENT, size, 1, BASE)
    assert G.start == start and G.sizes == sides
    assert (G.gated, G.sources) == ([size], [start])  # 4 -> 32, 7 -> 28
    assert G.head[0].kernel_size == (start, start)
    x = G.head(torch.randn(2, LATENT, 1, 1))
    assert x.shape[-2:] == (start, start)
    # The excitation reads the whole first map in one convolution: one weight per channel.
    assert G.excite[0].net(x).shape == (2, G.to_image[0].in_channels, 1, 1)


@pytest.mark.parametrize("size, feature", [(32, 8), (28, 7)])
def test_small_sizes_stop_the_discriminator_at_8_or_7_px(size, feature):
    _, D = tiny(size, channels=1)
    x = images(3, channels=1, size=size)
    f = D.stem(x)
    sides = [f.shape[-1]]
    for down in D.downs:
        f = down(f)
        sides.append(f.shape[-1])
    assert sides == [size, size // 2, feature]
    # The decoders reconstruct the picture at its size and the quarter at half of it.
    assert D.whole(f).shape == (3, 1, size, size)
    assert D.quarter(quarters(D.downs[0](D.stem(x)), torch.zeros(3, dtype=torch.long))).shape == (
        3,
        1,
        size // 2,
        size // 2,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 48}, "image_size must be one of 28, 32, 64, 128, 256, 512, not 48"),
        ({"channels": 2}, "channels must be one of 1, 3, not 2"),
        ({"base": 0}, "base must be a whole number from 1 to 256, not 0"),
        ({"base": 257}, "base must be a whole number from 1 to 256, not 257"),
        ({"norm": "group"}, "norm must be one of batch, layer, spectral, none"),
        ({"size": 64}, "unknown argument 'size'"),
    ],
)
def test_checked_spec_refuses_bad_arguments(kwargs, message):
    name = "fastgan_g" if "norm" not in kwargs else "fastgan_d"
    with pytest.raises(ModelSpecError, match=message):
        checked_spec(ModelSpec(name, kwargs))


def test_checked_spec_refuses_too_many_weights():
    with pytest.raises(ModelSpecError, match="fastgan_g: the network would have"):
        checked_spec(ModelSpec("fastgan_g", {"latent_dim": 4096, "base": 256}))


def test_model_specs_refuses_what_fastgan_cannot_make():
    with pytest.raises(ValueError, match="square images of 28, 32, 64, 128, 256, 512 px.*48x48"):
        model_specs("fastgan", (3, 48, 48), LATENT, BASE, 3, "batch")
    with pytest.raises(ValueError, match="64x128"):
        model_specs("fastgan", (3, 64, 128), LATENT, BASE, 3, "batch")
    with pytest.raises(ValueError, match="image dataset"):
        model_specs("fastgan", (2,), LATENT, BASE, 3, "batch")
    with pytest.raises(ValueError, match="packing"):
        model_specs("fastgan", (3, 64, 64), LATENT, BASE, 3, "batch", pack=2)


def test_spectral_norm_computes_what_torchs_does():
    ours, theirs = torch.nn.Conv2d(6, 5, 3), torch.nn.Conv2d(6, 5, 3)
    theirs.load_state_dict(ours.state_dict())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.nn.utils.parametrize.register_parametrization(
            ours, "weight", SpectralNorm(ours.weight)
        )
        torch.manual_seed(0)
        torch.nn.utils.parametrizations.spectral_norm(theirs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    x = torch.randn(2, 6, 8, 8)
    for _ in range(3):  # training: one power iteration per call
        torch.testing.assert_close(ours(x), theirs(x))
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x), theirs(x))
    with torch.device("meta"):  # no warm-up iterations there: counting weights stays cheap
        conv = torch.nn.Conv2d(6, 5, 3)
        torch.nn.utils.parametrize.register_parametrization(
            conv, "weight", SpectralNorm(conv.weight)
        )
    assert conv.parametrizations.weight.original.is_meta


def test_quarters_picks_each_samples_own_quarter():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    got = quarters(x, torch.tensor([3, 1]))
    assert torch.equal(got[0], x[0, :, 2:, 2:]) and torch.equal(got[1], x[1, :, :2, 2:])


@pytest.mark.parametrize("size", [28, 32, 64, 128])
def test_reconstruction_loss_is_a_finite_scalar_that_trains_d(size):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        _, D = tiny(size)
    x = images(4, size=size)
    logits, recon = D(x, recon=True, generator=torch.Generator().manual_seed(1))
    assert logits.shape == (4,) and recon.shape == () and torch.isfinite(recon)
    recon.backward()
    trunk = D.downs[0].main[0].parametrizations.weight.original  # spectral-normalised conv
    for p in (trunk, *D.whole.parameters(), *D.quarter.parameters()):
        assert p.grad is not None and bool(p.grad.abs().sum() > 0)
    # The logits are unchanged by asking for the reconstruction (eval: BN's running stats).
    D.eval()
    assert torch.allclose(D(x), D(x, recon=True)[0])


def test_reconstruction_is_deterministic_given_a_seeded_generator():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        _, D = tiny()
    D.eval()
    x = images(8)
    a = D(x, recon=True, generator=torch.Generator().manual_seed(5))[1]
    b = D(x, recon=True, generator=torch.Generator().manual_seed(5))[1]
    assert torch.equal(a, b)
    with torch.no_grad():
        others = {
            float(D(x, recon=True, generator=torch.Generator().manual_seed(s))[1]) for s in range(6)
        }
    assert len(others) > 1  # the quarter is drawn from the generator


def test_bf16_autocast_and_channels_last():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        G, D = tiny()
    G.eval(), D.eval()
    z = torch.randn(3, LATENT)
    ref_x, ref_d = G(z), D(images(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = G(z)
        logits, recon = D(x, recon=True)
    assert x.dtype == torch.bfloat16 and torch.isfinite(x.float()).all()
    assert torch.isfinite(logits.float()).all() and torch.isfinite(recon)
    assert (x.float() - ref_x).abs().max() < 0.1
    G = G.to(memory_format=torch.channels_last)
    D = D.to(memory_format=torch.channels_last)
    real = images(3).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(G(z), ref_x, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(D(real), ref_d, atol=1e-5, rtol=1e-4)
    assert torch.isfinite(D(real, recon=True)[1])


def _noise_pictures(n=32, size=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    return Dataset(x, DatasetInfo("test:noise64", "images", n, (3, size, size)))


def small(**kw):
    return TrainConfig(
        **{
            "dataset": DATASET,
            "arch": "fastgan",
            "width": BASE,
            "latent_dim": LATENT,
            "batch_size": 4,
            "steps": 3,
            "device": "cpu",
            "report_interval": 0.0,
            "preview_interval": 1e9,
            "preview_count": 4,
            **kw,
        }
    )


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_trains_with_the_reconstruction_loss(loss):
    t = Trainer(small(loss=loss), _noise_pictures())
    assert t.d_reconstructs and t.d_spec.name == "fastgan_d" and t.config.d_norm == "batch"
    decoder = [p.detach().clone() for p in t.D.whole.parameters()]
    reports = []
    assert run_training(t, on_report=reports.append).ok and t.step == 3
    # Only the reconstruction loss reaches the decoders: they learned.
    assert all(not torch.equal(a, b) for a, b in zip(decoder, t.D.whole.parameters()))
    losses = np.concatenate([np.stack([r.g_loss, r.d_loss]) for r in reports], axis=1)
    assert np.isfinite(losses).all()
    assert t.preview().samples.shape == (4, 3, 64, 64)


@pytest.mark.parametrize(
    "dataset, shape",
    [("builtin:digits?n=64", (1, 28, 28)), ("builtin:shapes?size=32&n=64", (3, 32, 32))],
)
@pytest.mark.parametrize("loss", ["hinge", "rpgan"])
def test_trains_small_pictures(dataset, shape, loss):
    """28 px (grey digits) and 32 px, with the losses and adaptive augmentation of the
    `ganstudio bench --images` recipes."""
    t = Trainer(small(dataset=dataset, loss=loss, augment="auto", steps=3))
    assert t.d_reconstructs and t.info.sample_shape == shape
    assert t.config.d_norm == ("spectral" if loss == "rpgan" else "batch")
    reports = []
    assert run_training(t, on_report=reports.append).ok and t.step == 3
    losses = np.concatenate([np.stack([r.g_loss, r.d_loss]) for r in reports], axis=1)
    assert np.isfinite(losses).all()
    assert t.preview().samples.shape == (4, *shape)


def test_a_gradient_penalty_gets_spectral_norm_alone():
    t = Trainer(small(steps=1, r1_gamma=1.0), _noise_pictures())
    assert t.config.d_norm == "spectral"
    assert run_training(t).ok


def test_resume_is_exact(tmp_path):
    cfg = small(steps=4, diffaugment="translation", ema=0.9)
    full = Trainer(cfg)
    for _ in range(4):
        full.train_step()
    half = Trainer(cfg)
    for _ in range(2):
        half.train_step()
    resumed = resume(read_checkpoint(save_checkpoint(half, tmp_path / "c.safetensors")))
    for _ in range(2):
        resumed.train_step()
    for a, b in ((full.G, resumed.G), (full.D, resumed.D)):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), key


def test_config_defaults_and_refusals():
    shape = DatasetInfo("test", "images", 10, (3, 256, 256))
    cfg = resolve(TrainConfig(arch="fastgan"), shape)
    assert (cfg.latent_dim, cfg.width, cfg.d_norm) == (256, 8, "batch")  # 8 on the CPU
    assert resolve(TrainConfig(arch="fastgan"), shape, accelerator=True).width == 64
    # The automatic model from 64 px; below, DCGAN.
    assert resolve(TrainConfig(), DatasetInfo("t", "images", 10, (3, 64, 64))).arch == "fastgan"
    assert resolve(TrainConfig(), DatasetInfo("t", "images", 10, (1, 28, 28))).arch == "dcgan"
    assert resolve(TrainConfig(), shape).arch == "fastgan"
    with pytest.raises(ConfigError, match="FastGAN supports square images"):
        resolve(TrainConfig(arch="fastgan"), DatasetInfo("t", "images", 10, (1, 48, 48)))
    with pytest.raises(ConfigError, match="image dataset"):
        resolve(TrainConfig(arch="fastgan"), DatasetInfo("t", "points", 10, (2,)))


def test_pictures_are_prepared_at_256_px_only_when_asked(tmp_path):
    from PIL import Image

    from ganstudio.core.data.load import load_dataset

    rng = np.random.default_rng(0)
    for k in range(3):
        pixels = rng.integers(0, 256, (260, 300, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{k}.png")
    big = load_dataset(f"{tmp_path}?size=256&cache=0")
    assert big.info.sample_shape == (3, 256, 256)
    assert resolve(TrainConfig(arch="fastgan"), big.info).arch == "fastgan"
    # Left to choose, the size stays at 64 px on every device, the CPU included.
    assert load_dataset(f"{tmp_path}?cache=0").info.sample_shape == (3, 64, 64)


MODEL_FILES = {  # dataset: its sample shape
    DATASET: (3, 64, 64),
    "builtin:digits?n=64": (1, 28, 28),
    "builtin:shapes?size=32&n=64": (3, 32, 32),
}


@pytest.fixture(scope="module", params=list(MODEL_FILES), ids=["64px", "28px", "32px"])
def model_file(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fastgan")
    path = train_tiny(
        folder,
        *("--dataset", request.param, "--model", "fastgan", "--width", BASE),
        *("--latent-dim", LATENT, "--steps", 2, "--batch-size", 4),
        *("--metrics-every", 0),  # no quality measurement: it trains a feature network
    )
    return path, MODEL_FILES[request.param]


def test_model_file_round_trip_and_latent_directions(model_file):
    model_file, shape = model_file
    gen = load_generator(model_file)
    assert gen.spec.name == "fastgan_g" and gen.is_image and gen.latent_dim == LATENT
    z = sampling.latents(0, 3, LATENT)
    pictures = sampling.generate(gen.module, z)
    assert pictures.shape == (3, *shape)
    assert torch.equal(pictures, sampling.generate(load_generator(model_file).module, z))
    directions = pca_directions(gen.module, k=4, n_samples=100)
    assert directions.vectors.shape == (4, LATENT)
    np.testing.assert_allclose(np.linalg.norm(directions.vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("opset", [None, 13])
def test_onnx_export_matches_pytorch(model_file, opset):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from ganstudio.core.explore.onnx_export import export_bytes

    model_file, shape = model_file
    gen = load_generator(model_file)
    data = export_bytes(gen, opset=opset)
    props = {p.key: p.value for p in onnx.load_model_from_string(data).metadata_props}
    assert props["architecture"] == "fastgan_g" and props["image_size"] == str(shape[-1])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        z = sampling.latents(batch, batch, LATENT)
        (got,) = sess.run(["samples"], {"z": z.numpy()})
        np.testing.assert_allclose(got, sampling.generate(gen.module, z).numpy(), atol=1e-4)
