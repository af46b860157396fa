"""Starting a new run from an earlier model or checkpoint (fine-tuning): the networks and
weights carry over, everything about the run starts anew, and a misfit is a clear error."""

import pytest
import torch

from ganstudio.cli import main
from ganstudio.core.config import ConfigError, TrainConfig
from ganstudio.core.training.checkpoint import read_checkpoint, resume
from ganstudio.core.training.init_from import StartError, read_start
from ganstudio.core.training.trainer import Trainer


def _train(out, dataset="builtin:digits?n=256", *more):
    args = ["train", "--dataset", dataset, "--steps", "4", "--width", "4", "--latent-dim", "8"]
    args += ["--batch-size", "8", "--device", "cpu", "-q", "--metrics-every", "0"]
    assert main([*args, *map(str, more), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    torch.set_num_threads(1)
    return _train(tmp_path_factory.mktemp("source") / "run")


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa if sa[k].is_floating_point())


def test_a_model_file_gives_the_generator_and_a_new_discriminator(source):
    path = source / "generator.safetensors"
    new = Trainer(TrainConfig(dataset="builtin:digits?n=128", init_from=str(path), steps=3))
    start = read_start(path)
    assert start.networks.kind == "model file" and start.networks.d_spec is None
    assert (new.resolved.arch, new.resolved.latent_dim, new.resolved.width) == ("dcgan", 8, 4)
    g = Trainer(TrainConfig(dataset="builtin:digits?n=128", steps=3, width=4, latent_dim=8)).G
    assert not _same(new.G, g)  # not a fresh generator ...
    new.G.load_state_dict(start.g_state, strict=False)
    assert new.step == 0 and any("started from the model file" in n for n in new.config.notes)
    assert new.config.init_from == str(path)


def test_a_checkpoint_gives_generator_average_and_discriminator(source):
    (ckpt_path,) = sorted((source / "checkpoints").glob("step_*.safetensors"))
    ckpt = read_checkpoint(ckpt_path)
    old = resume(ckpt, steps=10)
    new = Trainer(TrainConfig(dataset="builtin:digits?n=128", init_from=str(ckpt_path), steps=9))
    assert _same(new.G, old.G) and _same(new.D, old.D) and _same(new.G_ema, old.G_ema)
    assert new.step == 0 and new.resolved.steps == 9
    # the optimisers start anew
    assert not new.opt_g.state and not new.opt_d.state


def test_pictures_of_another_shape_or_a_conflicting_width_are_named(source):
    path = str(source / "generator.safetensors")
    with pytest.raises(StartError, match=r"1x28x28 pictures.*3x32x32.*size=28&mode=gray"):
        Trainer(TrainConfig(dataset="builtin:shapes?n=64", init_from=path))
    with pytest.raises(StartError, match="2-D points"):
        Trainer(TrainConfig(dataset="builtin:ring8?n=64", init_from=path))
    with pytest.raises(ConfigError, match="width 16 does not fit.*width 4"):
        Trainer(TrainConfig(dataset="builtin:digits?n=64", init_from=path, width=16))
    with pytest.raises(ConfigError, match="arch 'mlp'"):
        Trainer(TrainConfig(dataset="builtin:digits?n=64", init_from=path, arch="mlp"))


def test_a_fine_tuned_run_resumes_without_its_source(tmp_path, source):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    tuned = _train(tmp_path / "tuned", "builtin:digits?n=128", "--init-from", copy)
    shutil.rmtree(copy)  # the resumed run has its weights in its own checkpoint
    assert (
        main(["train", "--resume", str(tuned), "--steps", "6", "-q", "--metrics-every", "0"]) == 0
    )


def test_the_command_line_refuses_a_file_that_is_no_model(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model")
    assert (
        main(
            ["train", "--init-from", str(junk), "--steps", "2", "-q", "--out", str(tmp_path / "r")]
        )
        == 2
    )
    assert "junk.safetensors" in capsys.readouterr().err
