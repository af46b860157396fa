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
        "giant network": "has shape",
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
