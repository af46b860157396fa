"""Class-conditional networks and training: shapes at every size, the projection head,
mixing classes, unconditional specs unchanged, training on labels, exact resume, errors."""

import numpy as np
import pytest
import torch

from ganstudio.core.choices import DCGAN_SIZES, FASTGAN_SIZES
from ganstudio.core.conditioning import classes_of, run_generator
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.data.dataset import IMAGES, Dataset, DatasetInfo
from ganstudio.core.models import ModelSpec, ModelSpecError, build, checked_spec, model_specs
from ganstudio.core.training.checkpoint import read_checkpoint, resume, save_checkpoint
from ganstudio.core.training.trainer import Trainer

DIGITS = "builtin:digits?n=256"


def _pair(arch, size, classes, norm="spectral", channels=3):
    base = 4
    g, d = model_specs(arch, (channels, size, size), 8, base, 3, norm, classes=classes)
    return build(g), build(d)


@pytest.mark.parametrize(
    "arch,size",
    [("dcgan", s) for s in DCGAN_SIZES] + [("fastgan", s) for s in FASTGAN_SIZES if s <= 128],
)
def test_conditional_networks_have_the_right_shapes(arch, size):
    torch.manual_seed(0)
    g, d = _pair(arch, size, classes=5)
    assert classes_of(g) == classes_of(d) == 5
    z, y = torch.randn(3, 8), torch.tensor([0, 4, 2])
    x = g(z, y)
    assert x.shape == (3, 3, size, size)
    assert d(x, y).shape == (3,)
    # Another class, same latent: another picture and another score.
    other = g(z, torch.tensor([1, 1, 1]))
    assert not torch.allclose(x, other)
    assert not torch.allclose(d(x, y), d(x, torch.tensor([1, 1, 1])))
    if arch == "fastgan":  # the reconstruction path still works with classes
        logits, recon = d(x, y, recon=True, generator=torch.Generator().manual_seed(0))
        assert logits.shape == (3,) and recon.ndim == 0 and torch.isfinite(recon)


@pytest.mark.parametrize("size", [256, 512])
def test_large_conditional_fastgan_shapes_on_the_meta_device(size):
    with torch.device("meta"):
        g, d = _pair("fastgan", size, classes=3)
        x = g(torch.randn(2, 8), torch.tensor([0, 2]))
        assert x.shape == (2, 3, size, size)
        assert d(x, torch.tensor([0, 2])).shape == (2,)


def test_class_weights_mix_the_class_embeddings():
    torch.manual_seed(0)
    g, _ = _pair("dcgan", 28, classes=4, channels=1)
    g.eval()
    z = torch.randn(2, 8)
    one_hot = torch.nn.functional.one_hot(torch.tensor([3, 1]), 4).float()
    assert torch.allclose(g(z, class_weights=one_hot), g(z, torch.tensor([3, 1])), atol=1e-6)
    half = torch.tensor([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0]])
    mixed = g(z, class_weights=half)
    assert not torch.allclose(mixed, g(z, torch.tensor([0, 0])))
    assert not torch.allclose(mixed, g(z, torch.tensor([1, 1])))


def test_run_generator_cycles_classes_and_refuses_them_for_unconditional():
    torch.manual_seed(0)
    g, _ = _pair("dcgan", 28, classes=3, channels=1)
    g.eval()
    z = torch.randn(4, 8)
    assert torch.equal(run_generator(g, z), g(z, torch.tensor([0, 1, 2, 0])))
    plain, _ = _pair("dcgan", 28, classes=0, channels=1)
    with pytest.raises(ValueError, match="unconditional"):
        run_generator(plain, z, torch.tensor([0, 0, 0, 0]))


def test_unconditional_specs_are_unchanged_and_classes_are_checked():
    g, d = model_specs("dcgan", (1, 28, 28), 8, 4, 3, "spectral")
    assert "classes" not in checked_spec(g).kwargs and "classes" not in checked_spec(d).kwargs
    assert "embed.weight" not in build(g).state_dict()
    spec = checked_spec(ModelSpec("fastgan_g", {"image_size": 32, "classes": 7}))
    assert spec.kwargs["classes"] == 7
    with pytest.raises(ModelSpecError, match="classes must be a whole number from 0 to 1,000"):
        checked_spec(ModelSpec("dcgan_g", {"classes": 1001}))
    with pytest.raises(ValueError, match="DCGAN and FastGAN"):
        model_specs("mlp", (1, 28, 28), 8, 4, 3, "none", classes=3)


def _cfg(**kw):
    base = dict(
        dataset=DIGITS, width=4, latent_dim=8, batch_size=16, steps=12, seed=3, conditional=True
    )
    return TrainConfig(**(base | kw))


def test_conditional_training_uses_the_labels_and_previews_a_row_per_class():
    t = Trainer(_cfg(preview_count=20))
    assert t.classes == 10 and t.class_names == tuple(str(d) for d in range(10))
    assert t.g_spec.kwargs["classes"] == 10 and t.d_spec.kwargs["classes"] == 10
    for _ in range(3):
        t.train_step()
    assert t.step == 3
    # 20 previews on a 4x5 grid: one row per class, cycled.
    assert t.fixed_y.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    preview = t.preview()
    assert preview.samples.shape == (20, 1, 28, 28)
    # The EMA generator is conditional too, and the explorer's snapshot rebuilds it.
    assert classes_of(t.sampler()) == 10
    report = t.flush_report()
    assert report is not None and np.isfinite(report.g_loss).all()


def _pictures(labels=None, names=()):
    data = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    info = DatasetInfo("pics", IMAGES, 32, (1, 28, 28), class_names=names)
    return Dataset(data, info, labels)


def test_conditional_on_data_without_labels_or_with_one_class_is_a_clear_error():
    with pytest.raises(ConfigError, match="needs labelled pictures.*pics has no labels"):
        Trainer(_cfg(), _pictures())
    one = torch.zeros(32, dtype=torch.int64)
    with pytest.raises(ConfigError, match="pics has only one class"):
        Trainer(_cfg(), _pictures(one, ("cat",)))
    with pytest.raises(ConfigError, match="for dcgan and fastgan image models, not mlp"):
        Trainer(_cfg(arch="mlp"))
    # Labels without names: the classes are numbered.
    t = Trainer(_cfg(), _pictures(torch.arange(32) % 3))
    assert t.class_names == ("0", "1", "2")


@pytest.mark.parametrize("arch", ["dcgan", "fastgan"])
def test_conditional_resume_is_bitwise_exact(tmp_path, arch):
    torch.set_num_threads(1)
    extra = dict(arch=arch, d_steps=2, ema=0.99, hflip=True, diffaugment="translation")
    if arch == "dcgan":
        extra |= dict(loss="wgan-gp", d_norm="layer", d_steps=2)  # the penalty sees classes
    full = Trainer(_cfg(**extra))
    for _ in range(12):
        full.train_step()
    half = Trainer(_cfg(**extra))
    for _ in range(6):
        half.train_step()
    path = save_checkpoint(half, tmp_path / "c.safetensors")
    resumed = resume(read_checkpoint(path))
    assert resumed.classes == 10
    for _ in range(6):
        resumed.train_step()
    for name in ("G", "D", "G_ema"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{arch}: {name}.{key} differs after resume"
    # Sharp enough to see a broken resume: another seed's run differs.
    other = Trainer(_cfg(**extra, seed=4))
    other.train_step()
    assert not torch.equal(other.G.embed.weight, full.G.embed.weight)
