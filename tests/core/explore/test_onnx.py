"""ONNX export: the exported graph computes what the PyTorch generator computes."""

import sys

import numpy as np
import pytest
from _tiny import run_cli, train_tiny

from ganstudio import __version__
from ganstudio.core.explore import sampling
from ganstudio.core.explore.onnx_export import (
    DEFAULT_OPSET,
    OnnxUnavailable,
    export_bytes,
    export_onnx,
)
from ganstudio.core.modelfile import load_generator


@pytest.fixture(scope="module")
def mlp_model(tmp_path_factory):
    """A 2-D MLP generator with batch norm and the data-unit output scaling."""
    folder = tmp_path_factory.mktemp("ring8")
    return train_tiny(
        folder,
        "--dataset",
        "builtin:ring8?n=512",
        "--model",
        "mlp",
        "--g-norm",
        "batch",
        "--width",
        16,
        "--depth",
        2,
        "--latent-dim",
        8,
        "--steps",
        5,
        "--batch-size",
        32,
    )


@pytest.fixture(scope="module")
def dcgan_model(tmp_path_factory):
    """A 28 px DCGAN generator (transposed convolutions, batch norm, tanh)."""
    folder = tmp_path_factory.mktemp("digits")
    return train_tiny(
        folder,
        "--dataset",
        "builtin:digits?n=256",
        "--model",
        "dcgan",
        "--width",
        4,
        "--latent-dim",
        16,
        "--steps",
        3,
        "--batch-size",
        8,
    )


def _onnx_session(data_or_path):
    ort = pytest.importorskip("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data_or_path, opts, providers=["CPUExecutionProvider"])


def _props(path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(path))
    return model, {p.key: p.value for p in model.metadata_props}


@pytest.mark.parametrize("which", ["mlp", "dcgan"])
def test_onnx_matches_pytorch(which, mlp_model, dcgan_model, tmp_path):
    pytest.importorskip("onnx")
    model_path = mlp_model if which == "mlp" else dcgan_model
    gen = load_generator(model_path)
    out = export_onnx(gen, tmp_path / f"{which}.onnx")
    assert out == tmp_path / f"{which}.onnx" and out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left

    sess = _onnx_session(str(out))
    (inp,) = sess.get_inputs()
    (outp,) = sess.get_outputs()
    assert inp.name == "z" and inp.type == "tensor(float)"
    assert inp.shape[1] == gen.latent_dim and isinstance(inp.shape[0], str)  # dynamic batch
    assert outp.name == "samples" and isinstance(outp.shape[0], str)

    for batch in (1, 5):
        z = sampling.latents(batch, batch, gen.latent_dim)
        expected = sampling.generate(gen.module, z).numpy()
        (got,) = sess.run(["samples"], {"z": z.numpy()})
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        if gen.is_image:
            assert got.shape == (batch, 1, 28, 28)
            assert got.min() >= -1.0 and got.max() <= 1.0
        else:
            assert got.shape == (batch, 2)

    model, props = _props(out)
    assert model.opset_import[0].version == DEFAULT_OPSET
    assert props["app_version"] == __version__
    assert props["architecture"] == ("mlp_g" if which == "mlp" else "dcgan_g")
    assert props["latent_dim"] == str(gen.latent_dim)
    assert props["content_hash"] == gen.meta["content_hash"] and len(props["content_hash"]) == 16
    assert props["step"] == str(gen.meta["step"])
    if which == "dcgan":
        assert props["kind"] == "images"
        assert props["image_size"] == "28" and props["channels"] == "1"
        assert "[-1, 1]" in props["output"]
    else:
        assert props["kind"] == "points"
        assert "image_size" not in props and "channels" not in props
        assert "units" in props["output"]


def test_export_is_deterministic_and_takes_an_opset(dcgan_model):
    onnx = pytest.importorskip("onnx")
    gen = load_generator(dcgan_model)
    first = export_bytes(gen)
    assert export_bytes(gen) == first
    older = export_bytes(gen, opset=13)
    assert onnx.load_model_from_string(older).opset_import[0].version == 13
    z = sampling.latents(3, 3, gen.latent_dim)
    (got,) = _onnx_session(older).run(None, {"z": z.numpy()})
    np.testing.assert_allclose(got, sampling.generate(gen.module, z).numpy(), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="opset 99"):
        export_bytes(gen, opset=99)


def test_missing_onnx_package_is_a_clear_error(mlp_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    gen = load_generator(mlp_model)
    with pytest.raises(OnnxUnavailable, match=r'pip install "ganstudio\[onnx\]"'):
        export_onnx(gen, tmp_path / "x.onnx")
    assert run_cli("export", mlp_model, "--onnx", tmp_path / "y.onnx") == 2
    err = capsys.readouterr().err
    assert 'pip install "ganstudio[onnx]"' in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_cli_export(mlp_model, tmp_path, capfd):
    pytest.importorskip("onnx")
    out = tmp_path / "sub" / "ring8.onnx"
    assert run_cli("export", mlp_model, "--onnx", out, "--opset", 18) == 0
    assert out.is_file()
    assert capfd.readouterr() == ("", f"wrote {out}\n")  # quiet: no exporter chatter
    model, props = _props(out)
    assert model.opset_import[0].version == 18 and props["architecture"] == "mlp_g"


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "/no/such/model.safetensors", "--onnx", "x.onnx"], "no such file"),
        (["export", "/no/such/model.safetensors"], "--onnx"),
        (
            ["export", "MODEL", "--onnx", "x.onnx", "--opset", "3"],
            "--opset must be a whole number between 9",
        ),
    ],
)
def test_cli_export_user_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("error:") and err.count("\n") == 1
    if message == "no such file":
        assert "/no/such/model.safetensors" in err
    assert not list(tmp_path.iterdir())


def test_cli_export_rejects_a_file_that_is_not_a_model(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 3)
    assert run_cli("export", junk, "--onnx", tmp_path / "x.onnx") == 2
    err = capsys.readouterr().err
    assert str(junk) in err and "not a GAN Studio model file" in err
    assert not (tmp_path / "x.onnx").exists()
