"""The FID Inception network: names and shapes of the weights file, loading, outputs, IS, FID.

The real weights file (pt_inception-2015-12-05-6726825d.pth) is not available here: the
key/shape table below is transcribed from pytorch-fid's fid_inception_v3 (torchvision's
Inception3 with num_classes=1008, aux_logits=False and the FIDInception blocks), which loads
that file strictly, and the outputs are checked with random weights of that layout.
"""

import math
import pickle

import numpy as np
import pytest
import torch

from ganstudio.core.quality.inception import (
    InceptionError,
    InceptionV3,
    fid,
    inception_outputs,
    inception_score,
    load_inception,
)
from ganstudio.core.quality.metrics import frechet_distance

# Every BasicConv2d of pytorch-fid's network: name, out channels, in channels, kernel h, w.
CONVS = """
Conv2d_1a_3x3 32 3 3 3
Conv2d_2a_3x3 32 32 3 3
Conv2d_2b_3x3 64 32 3 3
Conv2d_3b_1x1 80 64 1 1
Conv2d_4a_3x3 192 80 3 3
Mixed_5b.branch1x1 64 192 1 1
Mixed_5b.branch5x5_1 48 192 1 1
Mixed_5b.branch5x5_2 64 48 5 5
Mixed_5b.branch3x3dbl_1 64 192 1 1
Mixed_5b.branch3x3dbl_2 96 64 3 3
Mixed_5b.branch3x3dbl_3 96 96 3 3
Mixed_5b.branch_pool 32 192 1 1
Mixed_5c.branch1x1 64 256 1 1
Mixed_5c.branch5x5_1 48 256 1 1
Mixed_5c.branch5x5_2 64 48 5 5
Mixed_5c.branch3x3dbl_1 64 256 1 1
Mixed_5c.branch3x3dbl_2 96 64 3 3
Mixed_5c.branch3x3dbl_3 96 96 3 3
Mixed_5c.branch_pool 64 256 1 1
Mixed_5d.branch1x1 64 288 1 1
Mixed_5d.branch5x5_1 48 288 1 1
Mixed_5d.branch5x5_2 64 48 5 5
Mixed_5d.branch3x3dbl_1 64 288 1 1
Mixed_5d.branch3x3dbl_2 96 64 3 3
Mixed_5d.branch3x3dbl_3 96 96 3 3
Mixed_5d.branch_pool 64 288 1 1
Mixed_6a.branch3x3 384 288 3 3
Mixed_6a.branch3x3dbl_1 64 288 1 1
Mixed_6a.branch3x3dbl_2 96 64 3 3
Mixed_6a.branch3x3dbl_3 96 96 3 3
Mixed_6b.branch1x1 192 768 1 1
Mixed_6b.branch7x7_1 128 768 1 1
Mixed_6b.branch7x7_2 128 128 1 7
Mixed_6b.branch7x7_3 192 128 7 1
Mixed_6b.branch7x7dbl_1 128 768 1 1
Mixed_6b.branch7x7dbl_2 128 128 7 1
Mixed_6b.branch7x7dbl_3 128 128 1 7
Mixed_6b.branch7x7dbl_4 128 128 7 1
Mixed_6b.branch7x7dbl_5 192 128 1 7
Mixed_6b.branch_pool 192 768 1 1
Mixed_6c.branch1x1 192 768 1 1
Mixed_6c.branch7x7_1 160 768 1 1
Mixed_6c.branch7x7_2 160 160 1 7
Mixed_6c.branch7x7_3 192 160 7 1
Mixed_6c.branch7x7dbl_1 160 768 1 1
Mixed_6c.branch7x7dbl_2 160 160 7 1
Mixed_6c.branch7x7dbl_3 160 160 1 7
Mixed_6c.branch7x7dbl_4 160 160 7 1
Mixed_6c.branch7x7dbl_5 192 160 1 7
Mixed_6c.branch_pool 192 768 1 1
Mixed_6d.branch1x1 192 768 1 1
Mixed_6d.branch7x7_1 160 768 1 1
Mixed_6d.branch7x7_2 160 160 1 7
Mixed_6d.branch7x7_3 192 160 7 1
Mixed_6d.branch7x7dbl_1 160 768 1 1
Mixed_6d.branch7x7dbl_2 160 160 7 1
Mixed_6d.branch7x7dbl_3 160 160 1 7
Mixed_6d.branch7x7dbl_4 160 160 7 1
Mixed_6d.branch7x7dbl_5 192 160 1 7
Mixed_6d.branch_pool 192 768 1 1
Mixed_6e.branch1x1 192 768 1 1
Mixed_6e.branch7x7_1 192 768 1 1
Mixed_6e.branch7x7_2 192 192 1 7
Mixed_6e.branch7x7_3 192 192 7 1
Mixed_6e.branch7x7dbl_1 192 768 1 1
Mixed_6e.branch7x7dbl_2 192 192 7 1
Mixed_6e.branch7x7dbl_3 192 192 1 7
Mixed_6e.branch7x7dbl_4 192 192 7 1
Mixed_6e.branch7x7dbl_5 192 192 1 7
Mixed_6e.branch_pool 192 768 1 1
Mixed_7a.branch3x3_1 192 768 1 1
Mixed_7a.branch3x3_2 320 192 3 3
Mixed_7a.branch7x7x3_1 192 768 1 1
Mixed_7a.branch7x7x3_2 192 192 1 7
Mixed_7a.branch7x7x3_3 192 192 7 1
Mixed_7a.branch7x7x3_4 192 192 3 3
Mixed_7b.branch1x1 320 1280 1 1
Mixed_7b.branch3x3_1 384 1280 1 1
Mixed_7b.branch3x3_2a 384 384 1 3
Mixed_7b.branch3x3_2b 384 384 3 1
Mixed_7b.branch3x3dbl_1 448 1280 1 1
Mixed_7b.branch3x3dbl_2 384 448 3 3
Mixed_7b.branch3x3dbl_3a 384 384 1 3
Mixed_7b.branch3x3dbl_3b 384 384 3 1
Mixed_7b.branch_pool 192 1280 1 1
Mixed_7c.branch1x1 320 2048 1 1
Mixed_7c.branch3x3_1 384 2048 1 1
Mixed_7c.branch3x3_2a 384 384 1 3
Mixed_7c.branch3x3_2b 384 384 3 1
Mixed_7c.branch3x3dbl_1 448 2048 1 1
Mixed_7c.branch3x3dbl_2 384 448 3 3
Mixed_7c.branch3x3dbl_3a 384 384 1 3
Mixed_7c.branch3x3dbl_3b 384 384 3 1
Mixed_7c.branch_pool 192 2048 1 1
"""


def reference_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for line in CONVS.strip().splitlines():
        name, *dims = line.split()
        cout, cin, kh, kw = map(int, dims)
        shapes[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        for part in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.bn.{part}"] = (cout,)
        shapes[f"{name}.bn.num_batches_tracked"] = ()
    shapes["fc.weight"] = (1008, 2048)
    shapes["fc.bias"] = (1008,)
    return shapes


class Payload:
    """Unpickling this creates the marker file: the attack a crafted .pth file carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _randomize(model: InceptionV3, seed: int = 0) -> InceptionV3:
    """Random weights scaled to keep activations O(1) through the 94 layers."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            std = math.sqrt(2 / m.weight[0].numel())
            m.weight.data = std * torch.randn(m.weight.shape, generator=g)
        elif isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.8 + 0.4 * torch.rand(n, generator=g)
            m.bias.data = 0.1 * torch.randn(n, generator=g)
            m.running_mean.data = 0.1 * torch.randn(n, generator=g)
            m.running_var.data = 0.8 + 0.4 * torch.rand(n, generator=g)
        elif isinstance(m, torch.nn.Linear):
            m.weight.data = 0.05 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = torch.randn(m.bias.shape, generator=g)
    return model.eval()


def _cheap_state(**changes) -> dict[str, torch.Tensor]:
    """A state dict of the right layout whose tensors all share one number (a tiny file)."""
    one = torch.ones(())
    state = {k: one.expand(s) for k, s in reference_shapes().items() if s}
    state |= {k: torch.zeros((), dtype=torch.long) for k, s in reference_shapes().items() if not s}
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


@pytest.fixture(scope="module")
def original():
    torch.manual_seed(0)
    return _randomize(InceptionV3())


@pytest.fixture(scope="module")
def loaded(original, tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(original.state_dict(), path)
    return load_inception(path)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (3, 3, 40, 56), dtype=torch.uint8, generator=g).numpy()


def test_names_and_shapes_are_the_weights_files():
    state = InceptionV3().state_dict()
    expected = reference_shapes()
    assert len(expected) == 94 * 6 + 2 == 566
    assert list(state) == list(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert not any(k.startswith("AuxLogits") for k in state)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["fc.weight"].shape == (1008, 2048)


def test_loaded_file_reproduces_the_module(original, loaded, images):
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    x = torch.as_tensor(images[:2]).float() / 127.5 - 1
    with torch.no_grad():
        pool, logits = loaded(x)
        ref_pool, ref_logits = original(x)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.equal(pool, ref_pool) and torch.equal(logits, ref_logits)
    # The Inception Score's logits: the fc weights without the bias.
    assert torch.allclose(logits, pool @ original.fc.weight.T)
    # The random weights give image-dependent features and predictions.
    assert (pool[0] - pool[1]).abs().max() > 0.01 * pool.abs().max()
    assert (logits[0] - logits[1]).abs().max() > 0.01 * logits.abs().max()


def test_grey_is_the_grey_picture_in_rgb(loaded, images):
    grey = torch.as_tensor(images[:1, :1]).float() / 127.5 - 1
    with torch.no_grad():
        a = loaded(grey)
        b = loaded(grey.repeat(1, 3, 1, 1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError):
        loaded(torch.zeros(1, 2, 8, 8))


PYTORCH_FID_POOL_PROJ = [
    [49.4497735808, -12.6019833645, 16.6292109257, 54.482688371],
    [47.9979967653, -12.5603339065, 16.6697239802, 54.4059584255],
    [49.0144272075, -12.3572868398, 16.0661694356, 54.2739389937],
]
PYTORCH_FID_LOGIT_DIFFS = [
    [-4.1403868198, -1.5076677203, -1.9085085392],
    [-4.1150468588, -1.4592914581, -1.9142855406],
    [-4.1405477524, -1.4596286416, -1.8656715155],
]


def test_outputs_of_uint8_images(loaded, images):
    calls = []
    f1, p1 = inception_outputs(loaded, images, batch_size=2, progress=lambda *a: calls.append(a))
    f2, p2 = inception_outputs(loaded, images, batch_size=2)
    assert calls == [(2, 3), (3, 3)]
    assert f1.shape == (3, 2048) and p1.shape == (3, 1008)
    assert f1.dtype == p1.dtype == np.float64
    assert np.array_equal(f1, f2) and np.array_equal(p1, p2)  # deterministic
    assert np.allclose(p1.sum(1), 1)
    assert frechet_distance(f1, f2) < 1e-6
    # pytorch-fid's conversion: x / 255, resize, 2 x - 1 (the same as scaling first, to rounding).
    with torch.no_grad():
        pool, logits = loaded(torch.as_tensor(images).float() / 255 * 2 - 1)
    assert np.allclose(f1, pool.double().numpy(), atol=1e-5)
    assert np.allclose(p1, torch.softmax(logits.double(), 1).numpy(), atol=1e-6)
    # Golden values from pytorch-fid 0.3.0 (its InceptionV3([3]) on x / 255 for the features,
    # fid_inception_v3's logits minus fc.bias) with these random weights and images: they pin
    # the order of operations, the pools, the resize and the batch-norm eps.
    proj = torch.randn(2048, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert np.allclose(f1 @ proj.numpy(), PYTORCH_FID_POOL_PROJ, rtol=0, atol=2e-3)
    logit_diffs = np.log(p1[:, 1:4]) - np.log(p1[:, :1])
    assert np.allclose(logit_diffs, PYTORCH_FID_LOGIT_DIFFS, rtol=0, atol=2e-4)
    for bad in (images.astype(np.float32), images[:, :2]):
        with pytest.raises(ValueError):
            inception_outputs(loaded, bad)


def test_fid_of_a_set_with_itself(loaded, images):
    assert fid(loaded, images[:2], images[:2]) < 1e-6


@pytest.mark.parametrize("form", ["zip", "legacy", "wrapped", "no step counters"])
def test_accepted_file_forms(tmp_path, form):
    state = _cheap_state()
    path = tmp_path / "w.pth"
    if form == "legacy":
        torch.save(state, path, _use_new_zipfile_serialization=False)
    elif form == "wrapped":
        torch.save({"state_dict": state, "epoch": 3}, path)
    elif form == "no step counters":  # as torch-fidelity's converter writes it
        torch.save({k: v for k, v in state.items() if "num_batches" not in k}, path)
    else:
        torch.save(state, path)
    model = load_inception(path)
    assert torch.equal(model.fc.weight, torch.ones(1008, 2048))


def _bad_files(folder, marker) -> dict:
    files = {}

    def save(name, obj):
        files[name] = folder / f"{name.replace(' ', '_')}.pth"
        torch.save(obj, files[name])

    files["missing"] = folder / "nothing-here.pth"
    files["a folder"] = folder / "a-folder.pth"
    files["a folder"].mkdir()
    for name, data in {
        "empty": b"",
        "text": b"this is not a weights file\n" * 10,
        "crafted pickle": pickle.dumps(Payload(marker)),
    }.items():
        files[name] = folder / f"{name.replace(' ', '_')}.pth"
        files[name].write_bytes(data)
    save("crafted torch.save", Payload(marker))
    save("crafted in a dict", {"fc.weight": Payload(marker)})
    save("a list", [torch.zeros(3)])
    save("not tensors", {"fc.weight": 3, "fc.bias": "x"})
    save(
        "wrong keys",
        _cheap_state(fc__weight=None, Mixed_5b__branch1x1__conv__weight=None)
        | {"head.weight": torch.zeros(3)},
    )
    save("wrong shapes", _cheap_state(Conv2d_1a_3x3__conv__weight=torch.zeros(32, 1, 3, 3)))
    save(
        "torchvision ImageNet",
        _cheap_state(fc__weight=torch.zeros(1000, 2048))
        | {"AuxLogits.fc.weight": torch.zeros(1000, 768)},
    )
    save("NaN weights", _cheap_state(fc__bias=torch.full((1008,), float("nan"))))
    save("integer weights", _cheap_state(fc__bias=torch.zeros(1008, dtype=torch.long)))
    save("a generator file", {"net.0.weight": torch.zeros(4, 4)})
    return files


def test_the_payload_is_real(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Payload(marker))).close()
    assert marker.exists()


def test_bad_files_are_clear_errors(tmp_path):
    marker = tmp_path / "pwned"
    messages = {}
    for name, path in _bad_files(tmp_path, marker).items():
        with pytest.raises(InceptionError) as info:
            load_inception(path)
        assert type(info.value) is InceptionError, name
        # No reader's exception (KeyError, RuntimeError, UnpicklingError) in the traceback.
        assert info.value.__cause__ is None, name
        assert info.value.__context__ is None or info.value.__suppress_context__, name
        message = str(info.value)
        assert str(path) in message and "pt_inception-2015-12-05-6726825d.pth" in message, name
        assert message.count("\n") == 0, name
        messages[name] = message
    assert not marker.exists(), "a crafted file ran code"
    assert "no such file" in messages["missing"]
    assert "empty" in messages["empty"]
    assert "not a PyTorch weights file" in messages["text"]
    assert "refused" in messages["crafted torch.save"]
    assert "refused" in messages["crafted in a dict"]
    assert "not a state dict" in messages["not tensors"]
    wrong_keys = messages["wrong keys"]
    assert "fc.weight" in wrong_keys and "Mixed_5b.branch1x1.conv.weight" in wrong_keys
    assert "head.weight" in wrong_keys
    assert "Conv2d_1a_3x3.conv.weight is (32, 1, 3, 3)" in messages["wrong shapes"]
    assert "torchvision's ImageNet" in messages["torchvision ImageNet"]
    assert "NaN" in messages["NaN weights"]


def test_inception_score_known_values():
    n, k = 200, 1008
    assert inception_score(np.full((n, k), 1 / k)) == pytest.approx((1.0, 0.0))
    same = np.zeros((n, k))
    same[:, 5] = 1
    assert inception_score(same, splits=4) == pytest.approx((1.0, 0.0))
    # 200 confident predictions spread evenly over 10 classes, in turn: 10 in every split.
    spread = np.zeros((n, k))
    spread[np.arange(n), np.arange(n) % 10] = 1
    for splits in (1, 5, 10):
        assert inception_score(spread, splits) == pytest.approx((10.0, 0.0))
    # The same predictions sorted by class: each of 10 splits sees one class only.
    ordered = spread[np.argsort(np.arange(n) % 10, kind="stable")]
    assert inception_score(ordered, 1) == pytest.approx((10.0, 0.0))
    assert inception_score(ordered, 10) == pytest.approx((1.0, 0.0))
    # Two rows by hand: p(y) = (0.75, 0.25).
    two = np.array([[1.0, 0.0], [0.5, 0.5]])
    kl = (math.log(1 / 0.75) + 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)) / 2
    assert inception_score(two, 1) == pytest.approx((math.exp(kl), 0.0))
    assert inception_score(two, 2) == pytest.approx((1.0, 0.0))


def test_inception_score_splits_and_bad_input():
    g = np.random.default_rng(0)
    logits = g.normal(size=(90, 1008)) * 3
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    m1, s1 = inception_score(p, 1)
    m10, s10 = inception_score(p, 10)
    assert s1 == 0 and s10 > 0 and 1 < m10 < m1 < 90
    parts = [inception_score(p[i * 9 : (i + 1) * 9], 1)[0] for i in range(10)]
    assert (m10, s10) == pytest.approx((np.mean(parts), np.std(parts)))
    for bad, splits in ((p, 91), (p, 0), (p * 2, 1), (-p, 1), (p[0], 1)):
        with pytest.raises(ValueError):
            inception_score(bad, splits)
