"""Bad model files and checkpoints: each is a clear error naming the file; nothing runs."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from ganstudio.cli import main
from ganstudio.core.config import TrainConfig
from ganstudio.core.modelfile import ModelFileError, load_generator, read_metadata
from ganstudio.core.runs.writer import RunWriter
from ganstudio.core.training.checkpoint import read_checkpoint, resume, save_checkpoint
from ganstudio.core.training.trainer import Trainer


class Payload:
    """Unpickling this creates the marker file: the attack a crafted .pt file carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real model file and checkpoint from a tiny run."""
    folder = tmp_path_factory.mktemp("good")
    torch.set_num_threads(1)
    t = Trainer(TrainConfig(dataset="builtin:ring8?n=2000", steps=5, width=16, batch_size=32))
    for _ in range(5):
        t.train_step()
    writer = RunWriter(folder / "run", t, checkpoint_every=0)
    model = writer.save_generator()
    ckpt = writer.save_checkpoint()
    writer._metrics.close()
    return model, ckpt


def _rewrite(raw: bytes, change) -> bytes:
    """A model file's bytes with its tensors and description changed by ``change``."""
    from safetensors.torch import load

    header_len = int.from_bytes(raw[:8], "little")
    meta = json.loads(json.loads(raw[8 : 8 + header_len])["__metadata__"]["ganstudio"])
    tensors = load(raw)
    tensors, meta = change(tensors, meta)
    return st_save(tensors, metadata={"ganstudio": json.dumps(meta)} if meta else None)


def _first(tensors):
    return next(k for k in tensors if k.endswith("weight"))


def bad_files(folder, good_model, marker):
    raw = good_model.read_bytes()
    rng = np.random.default_rng(0)
    files = {
        "empty": b"",
        "truncated": raw[: len(raw) // 2],
        "header only": raw[:7],
        "random bytes": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "text": b"hello, this is not a model\n" * 20,
        "no metadata": st_save({"w": torch.zeros(3)}),
        "foreign metadata": st_save({"w": torch.zeros(3)}, metadata={"format": "pt"}),
        "newer version": _rewrite(raw, lambda t, m: (t, m | {"format_version": 99})),
        "unknown network": _rewrite(
            raw, lambda t, m: (t, m | {"architecture": {"name": "stylegan9", "kwargs": {}}})
        ),
        "other architecture": _rewrite(
            raw,
            lambda t, m: (
                t,
                m
                | {
                    "architecture": {
                        "name": "dcgan_g",
                        "kwargs": {"latent_dim": 16, "image_size": 32, "channels": 3},
                    }
                },
            ),
        ),
        "mismatched shapes": _rewrite(
            raw, lambda t, m: (t | {_first(t): t[_first(t)][:-1].contiguous()}, m)
        ),
        "missing weight": _rewrite(
            raw, lambda t, m: ({k: v for k, v in t.items() if k != _first(t)}, m)
        ),
        "giant network": _rewrite(
            raw,
            lambda t, m: (
                t,
                m
                | {
                    "architecture": {
                        "name": "mlp_g",
                        "kwargs": {"latent_dim": 16, "out_shape": [2], "hidden": 2**20},
                    }
                },
            ),
        ),
        "impossible size": _rewrite(
            raw,
            lambda t, m: (
                t,
                m | {"architecture": {"name": "mlp_g", "kwargs": {"hidden": 2**40}}},
            ),
        ),
        "description not JSON": st_save({"w": torch.zeros(3)}, metadata={"ganstudio": "{oops"}),
        "description not an object": st_save({"w": torch.zeros(3)}, metadata={"ganstudio": "[1]"}),
        "crafted pickle": pickle.dumps(Payload(marker)),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / (name.replace(" ", "_") + ".safetensors")
        paths[name].write_bytes(data)
    # The same payload in PyTorch's own zip format, under the extension users expect.
    paths["crafted torch.save"] = folder / "crafted.pt"
    torch.save(Payload(marker), paths["crafted torch.save"])
    return paths


def test_the_payload_is_real(tmp_path):
    """The crafted pickle does run code when something unpickles it (in another process)."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    code = f"import pickle, sys; sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r}); "
    code += f"import test_bad_files; pickle.load(open({str(evil)!r}, 'rb'))"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert marker.exists()


def test_every_bad_file_is_a_clear_error_and_nothing_runs(tmp_path, good, capsys):
    good_model, good_ckpt = good
    marker = tmp_path / "pwned"
    paths = bad_files(tmp_path, good_model, marker)
    expected = {
        "empty": "empty or cut off",
        "truncated": "cut off",
        "header only": "empty or cut off",
        "random bytes": "not a GAN Studio model file",
        "text": "not a GAN Studio model file",
        "no metadata": "without GAN Studio's description",
        "foreign metadata": "without GAN Studio's description",
        "newer version": "newer GAN Studio",
        "unknown network": "no generator this version knows",
        "other architecture": "do not match the described dcgan_g",
        "mismatched shapes": "has shape",
        "missing weight": "missing",
        "giant network": "hidden must be a whole number from 1 to 8,192",
        "impossible size": "cannot rebuild",
        "description not JSON": "not valid JSON",
        "description not an object": "not valid JSON",
        "crafted pickle": "never unpickles",
        "crafted torch.save": "pickle",
    }
    assert expected.keys() == paths.keys()
    for name, path in paths.items():
        with pytest.raises(ModelFileError) as err:
            load_generator(path)
        message = str(err.value)
        assert str(path) in message and expected[name] in message, (name, message)
        if name not in {"unknown network", "other architecture", "mismatched shapes"} | {
            "missing weight",
            "giant network",
            "impossible size",
        }:
            with pytest.raises(ModelFileError, match="GAN Studio|cut off|JSON|pickle"):
                read_metadata(path)
        with pytest.raises(ModelFileError):
            read_checkpoint(path)
        # The command line: one error line naming the file, exit status 2, no traceback.
        for argv in (
            ["info", path],
            ["sample", path, "-o", tmp_path / "x.png"],
            ["train", "--resume", path, "-q", "--out", tmp_path / "resumed"],
        ):
            if name in {"unknown network", "other architecture", "mismatched shapes"} | {
                "missing weight",
                "giant network",
                "impossible size",
            } and argv[0] in ("info", "train"):
                continue  # the description itself is fine: info shows it, resume refuses below
            assert main([str(a) for a in argv]) == 2, (name, argv)
            err_text = capsys.readouterr().err
            assert err_text.startswith("error: ") and str(path) in err_text, (name, err_text)
            assert "Traceback" not in err_text
    assert not marker.exists(), "a crafted file ran code"
    # ... and the program keeps working.
    assert load_generator(good_model).latent_dim == 16
    assert read_checkpoint(good_ckpt).step == 5


def test_a_model_file_is_not_a_checkpoint(good, capsys):
    good_model, good_ckpt = good
    with pytest.raises(ModelFileError, match="a GAN Studio model file, but a training checkpoint"):
        read_checkpoint(good_model)
    assert main(["train", "--resume", str(good_model), "-q"]) == 2
    assert "training checkpoint is needed" in capsys.readouterr().err
    # A checkpoint, though, opens wherever a model file does.
    assert load_generator(good_ckpt).latent_dim == 16


def test_a_damaged_checkpoint_is_refused(tmp_path, good):
    _, good_ckpt = good
    ckpt = read_checkpoint(good_ckpt)
    broken = dict(ckpt.tensors)
    broken["rng/trainer_cpu"] = torch.zeros(3, dtype=torch.float32)
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(st_save(broken, metadata={"ganstudio": json.dumps(ckpt.meta)}))
    with pytest.raises(ModelFileError, match="random-number state"):
        resume(read_checkpoint(path), steps=10)
    no_d = {k: v for k, v in ckpt.tensors.items() if not k.startswith("D/")}
    path.write_bytes(st_save(no_d, metadata={"ganstudio": json.dumps(ckpt.meta)}))
    with pytest.raises(ModelFileError, match="missing"):
        resume(read_checkpoint(path), steps=10)


def test_a_checkpoint_round_trips_through_save(tmp_path, good):
    """Saving the resumed trainer again gives the same tensors (nothing lost on the way)."""
    _, good_ckpt = good
    ckpt = read_checkpoint(good_ckpt)
    resumed = resume(ckpt, steps=10)
    again = read_checkpoint(save_checkpoint(resumed, tmp_path / "again.safetensors"))
    assert again.tensors.keys() == ckpt.tensors.keys()
    for key, value in ckpt.tensors.items():
        assert torch.equal(again.tensors[key], value), key


# ------------------------------------------------------------------------------------------
# Files of the right format with wrong content: one error naming the file and the field


def _arch(**kwargs):
    """A model description's change: the architecture replaced by mlp_g with ``kwargs``."""
    base = {"latent_dim": 16, "out_shape": [2], "hidden": 16, "layers": 3}
    return lambda t, m: (t, m | {"architecture": {"name": "mlp_g", "kwargs": base | kwargs}})


def _meta(**changes):
    return lambda t, m: (t, m | changes)


def _dataset(**changes):
    return lambda t, m: (t, m | {"dataset": m["dataset"] | changes})


WRONG_MODEL_FILES = {
    "dataset a string": (_meta(dataset="abc"), '"dataset" must be an object', True),
    "negative step": (_meta(step=-100), '"step" must be a whole number of 0 or more', True),
    "step as text": (_meta(step="100"), '"step" must be a whole number', True),
    "huge step": (_meta(step=2**70), '"step" must be a whole number', True),
    "format a list": (_meta(format=["ganstudio.generator"]), "not a GAN Studio model", True),
    "hash a number": (_meta(content_hash=5), '"content_hash" must be text', True),
    "dataset kind": (_dataset(kind=3), '"dataset.kind" must be', True),
    "dataset modes": (_dataset(modes="ring"), '"dataset.modes" must be a list', True),
    "mode with NaN": (_dataset(modes=[[float("nan"), 0]]), '"dataset.modes"', True),
    "architecture a string": (_meta(architecture="mlp_g"), "no generator this version", False),
    "kwargs a string": (
        _meta(architecture={"name": "mlp_g", "kwargs": "big"}),
        '"kwargs" must be an object',
        False,
    ),
    "2-channel images": (
        _meta(
            architecture={
                "name": "dcgan_g",
                "kwargs": {"latent_dim": 16, "image_size": 28, "channels": 2},
            }
        ),
        "channels must be one of 1, 3, not 2",
        False,
    ),
    "4-channel MLP": (_arch(out_shape=[4, 8, 8]), "out_shape must be [2] (2-D points)", False),
    "million layers": (_arch(layers=10**6), "layers must be a whole number from 0 to 64", False),
    "huge latent": (_arch(latent_dim=10**9), "latent_dim must be a whole number", False),
    "latent as text": (_arch(latent_dim="16"), "latent_dim must be a whole number", False),
    "a boolean width": (_arch(hidden=True), "hidden must be a whole number", False),
    "bad data scale": (_arch(data_std=-1.0), "data_std must be a positive", False),
    "unknown argument": (_arch(colour=3), "unknown argument 'colour'", False),
    "too many weights": (
        _arch(hidden=8192, layers=64),
        "more than the 100,000,000 (0.4 GB) one network may have",
        False,
    ),
    "images but points": (_dataset(kind="images"), "trained on images, but its mlp_g", False),
    "NaN weights": (
        lambda t, m: (t | {_first(t): torch.full_like(t[_first(t)], float("nan"))}, m),
        "NaN or infinite numbers",
        False,
    ),
    "integer weights": (
        lambda t, m: (t | {_first(t): t[_first(t)].to(torch.int32)}, m),
        "holds torch.int32, not floating-point numbers",
        False,
    ),
}


@pytest.mark.parametrize("name", WRONG_MODEL_FILES)
def test_wrong_content_in_a_model_file_names_the_field(tmp_path, good, capsys, name):
    change, message, in_description = WRONG_MODEL_FILES[name]
    path = tmp_path / "model.safetensors"
    path.write_bytes(_rewrite(good[0].read_bytes(), change))
    with pytest.raises(ModelFileError) as err:
        load_generator(path)
    assert str(path) in str(err.value) and message in str(err.value), err.value
    if in_description:  # the description itself is wrong: whoever reads it is told
        with pytest.raises(ModelFileError, match=message.replace("[", r"\[")):
            read_metadata(path)
    assert main(["sample", str(path), "-o", str(tmp_path / "x.png")]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("error: ") and str(path) in err_text and message in err_text
    assert "Traceback" not in err_text


def test_a_deeply_nested_description_is_an_error(tmp_path):
    path = tmp_path / "deep.safetensors"
    path.write_bytes(st_save({"w": torch.zeros(3)}, metadata={"ganstudio": "[" * 100_000}))
    with pytest.raises(ModelFileError, match="deep.safetensors: .*nested too deeply"):
        read_metadata(path)


def _ckpt_meta(change):
    return lambda t, m: (t, change(m) or m)


def _set(path, value):
    """A change that sets the nested field ``path`` (a tuple of keys) to ``value``."""

    def change(m):
        holder = m
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value

    return _ckpt_meta(change)


WRONG_CHECKPOINTS = {
    "negative step": (_set(("step",), -100), '"step" must be a whole number of 0 or more'),
    "no step": (_set(("step",), None), '"step" must be a whole number'),
    "missing rng": (_ckpt_meta(lambda m: m.pop("rng") and None), "lacks 'rng'"),
    "config a string": (_set(("config",), "fast"), '"config" must be an object'),
    "optimizers a list": (_set(("optimizers",), []), '"optimizers" must be an object'),
    "lr as text": (
        _set(("optimizers", "opt_g", "param_groups", 0, "lr"), "fast"),
        '"optimizers.opt_g.param_groups[0].lr" must be a finite number',
    ),
    "betas out of range": (
        _set(("optimizers", "opt_d", "param_groups", 0, "betas"), [2, 0.9]),
        '"optimizers.opt_d.param_groups[0].betas"',
    ),
    "params not numbers": (
        _set(("optimizers", "opt_g", "param_groups", 0, "params"), "all"),
        '"optimizers.opt_g.param_groups[0].params" must be a list of whole numbers',
    ),
    "huge numpy state": (_set(("rng", "numpy", 1, 0), 2**70), '"rng.numpy" must be'),
    "python state": (_set(("rng", "python"), [3]), '"rng.python" must be'),
    "million layers": (
        _set(("generator", "kwargs", "layers"), 10**6),
        '"generator": mlp_g: layers must be a whole number from 0 to 64',
    ),
    "no pack": (_set(("discriminator", "kwargs", "pack"), 0), '"discriminator": mlp_d: pack'),
    "model step": (_set(("model", "step"), -1), '"model.step" must be'),
    "version": (_set(("version",), -1), '"version" must be a whole number'),
    "history shape": (
        lambda t, m: (t | {"history/stats": torch.zeros(3, 2)}, m),
        "history/stats must be floating-point numbers of shape",
    ),
    "history steps": (
        lambda t, m: (t | {"history/steps": torch.zeros(3)}, m),
        "history/steps must be a list of whole numbers",
    ),
}


@pytest.mark.parametrize("name", WRONG_CHECKPOINTS)
def test_wrong_content_in_a_checkpoint_names_the_field(tmp_path, good, capsys, name):
    change, message = WRONG_CHECKPOINTS[name]
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(_rewrite(good[1].read_bytes(), change))
    with pytest.raises(ModelFileError) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value) and message in str(err.value), err.value
    assert main(["train", "--resume", str(path), "-q", "--out", str(tmp_path / "out")]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("error: ") and str(path) in err_text and message in err_text
    assert "Traceback" not in err_text
