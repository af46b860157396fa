import pytest

from ganstudio.core.config import ConfigError, TrainConfig, load_toml, resolve
from ganstudio.core.data.dataset import DatasetInfo

POINTS = DatasetInfo("p", "points", 10, (2,))
IMAGES = DatasetInfo("i", "images", 10, (3, 64, 64))


def test_classic_defaults_for_images():
    cfg = resolve(TrainConfig(), IMAGES)
    assert cfg.arch == "dcgan" and cfg.latent_dim == 100 and cfg.width == 64
    assert (cfg.lr_g, cfg.lr_d) == (2e-4, 2e-4)
    assert (cfg.beta1_g, cfg.beta2_g, cfg.beta1_d, cfg.beta2_d) == (0.5, 0.999, 0.5, 0.999)
    assert cfg.d_steps == 1 and cfg.d_norm == "batch" and cfg.batch_size == 64


def test_loss_presets_and_user_values_win():
    cfg = resolve(TrainConfig(loss="wgan-gp"), IMAGES)
    assert cfg.d_steps == 5 and cfg.lr_d == 1e-4 and cfg.beta1_d == 0.0
    assert cfg.d_norm != "batch"
    assert any("WGAN-GP" in n for n in cfg.notes)
    cfg = resolve(TrainConfig(loss="wgan-gp", d_steps=2, lr_g=3e-4), IMAGES)
    assert cfg.d_steps == 2 and cfg.lr_g == 3e-4


def test_odd_image_sizes_fall_back_to_mlp():
    cfg = resolve(TrainConfig(), DatasetInfo("i", "images", 10, (1, 20, 20)))
    assert cfg.arch == "mlp"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"loss": "bogus"}, "unknown loss"),
        ({"arch": "dcgan"}, "image dataset"),
        ({"lr_g": -1.0}, "positive"),
        ({"lr_d": 5.0}, "too large"),
        ({"beta1_g": 1.0}, r"\[0, 1\)"),
        ({"batch_size": 30, "pack": 4}, "multiple"),
        ({"steps": 0}, "positive"),
        ({"ema": 1.5}, "ema"),
        ({"d_norm": "batch", "loss": "wgan-gp"}, "gradient penalties"),
        ({"steps": "many"}, "integer"),
    ],
)
def test_invalid_settings_explained(changes, message):
    with pytest.raises(ConfigError, match=message):
        resolve(TrainConfig(**changes), POINTS)


def test_toml_round_trip(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('dataset = "builtin:grid25"\nsteps = 123\nlr-g = 1e-4\nloss = "hinge"\n')
    cfg = load_toml(f)
    assert (cfg.dataset, cfg.steps, cfg.lr_g, cfg.loss) == ("builtin:grid25", 123, 1e-4, "hinge")
    (tmp_path / "bad.toml").write_text("steps = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text("stepz = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'stepz'"):
        load_toml(tmp_path / "typo.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_toml(tmp_path / "missing.toml")


def test_lr_schedules():
    from ganstudio.core.config import lr_factor

    assert lr_factor("constant", 500, 1000) == 1.0
    assert lr_factor("linear", 0, 1000) == 1.0
    assert lr_factor("linear", 250, 1000) == pytest.approx(0.75)
    assert lr_factor("cosine", 500, 1000) == pytest.approx(0.5)
    assert lr_factor("cosine", 1000, 1000) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="lr_schedule"):
        resolve(TrainConfig(lr_schedule="step"), POINTS)


def test_late_cosine_holds_then_decays():
    from ganstudio.core.config import lr_factor

    assert lr_factor("late-cosine", 400, 1000) == 1.0
    assert lr_factor("late-cosine", 750, 1000) == pytest.approx(0.5)
    assert lr_factor("late-cosine", 1000, 1000) == pytest.approx(0.0)


def test_points_preset_and_its_exceptions():
    cfg = resolve(TrainConfig(), POINTS)
    assert (cfg.pack, cfg.d_steps, cfg.r1_gamma, cfg.steps) == (4, 2, 0.1, 40_000)
    assert any("2-D preset" in n for n in cfg.notes)
    cfg = resolve(TrainConfig(loss="wgan-gp"), POINTS)
    assert cfg.r1_gamma == 0.0 and cfg.d_steps == 5  # the loss's own preset wins
    cfg = resolve(TrainConfig(pack=1, r1_gamma=0.0, steps=10), POINTS)
    assert (cfg.pack, cfg.r1_gamma, cfg.steps) == (1, 0.0, 10)
