import pytest

from ganstudio.core.config import ConfigError, TrainConfig, load_toml, resolve
from ganstudio.core.data.dataset import DatasetInfo

POINTS = DatasetInfo("p", "points", 10, (2,))
IMAGES = DatasetInfo("i", "images", 10, (3, 32, 32))


def test_classic_defaults_for_images():
    cfg = resolve(TrainConfig(), IMAGES)
    assert cfg.arch == "dcgan" and cfg.latent_dim == 100 and cfg.width == 64
    assert (cfg.lr_g, cfg.lr_d) == (2e-4, 2e-4)
    assert (cfg.beta1_g, cfg.beta2_g, cfg.beta1_d, cfg.beta2_d) == (0.5, 0.999, 0.5, 0.999)
    assert cfg.d_steps == 1 and cfg.batch_size == 64
    # the loss and D's normalisation: the recipe `bench --images` chose for pictures
    assert (cfg.loss, cfg.d_norm) == ("hinge", "spectral")
    assert any("bench --images" in n for n in cfg.notes)
    # asked for, the classic DCGAN is still there: non-saturating with batch norm in D
    classic = resolve(TrainConfig(loss="nonsaturating"), IMAGES)
    assert (classic.loss, classic.d_norm) == ("nonsaturating", "batch")
    # 2-D points keep the non-saturating loss
    assert resolve(TrainConfig(), POINTS).loss == "nonsaturating"


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


@pytest.mark.parametrize("size", [64, 128, 256, 512])
def test_pictures_from_64_px_get_fastgan_with_its_hinge_loss(size):
    info = DatasetInfo("i", "images", 10, (3, size, size))
    cfg = resolve(TrainConfig(), info)
    assert (cfg.arch, cfg.loss, cfg.augment, cfg.width) == ("fastgan", "hinge", "auto", 8)
    assert any("FastGAN" in n for n in cfg.notes)
    assert resolve(TrainConfig(), info, accelerator=True).width == 64  # wider on a GPU
    # Asked for, a DCGAN at 64 px is still there, without augmentation.
    dcgan = resolve(TrainConfig(arch="dcgan"), DatasetInfo("i", "images", 10, (3, 64, 64)))
    assert (dcgan.arch, dcgan.augment) == ("dcgan", "off")
    # A loss the user names still wins.
    assert (
        resolve(TrainConfig(loss="rpgan"), DatasetInfo("i", "images", 10, (3, size, size))).loss
        == "rpgan"
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"loss": "bogus"}, "unknown loss"),
        ({"arch": "dcgan"}, "image dataset"),
        ({"lr_g": -1.0}, "lr_g must be a number above 0 and at most 1, got -1.0"),
        ({"lr_d": 5.0}, "at most 1"),
        ({"beta1_g": 1.0}, "beta1_g must be a number at least 0 and below 1, got 1.0"),
        ({"batch_size": 30, "pack": 4}, "multiple"),
        ({"steps": 0}, "steps must be a whole number between 1 and 9,999,999, got 0"),
        ({"ema": 1.5}, "ema"),
        ({"d_norm": "batch", "loss": "wgan-gp"}, "gradient penalties"),
        ({"steps": "many"}, "whole number"),
        ({"batch_size": 10**30}, "batch_size must be a whole number between 1 and 1,048,576"),
        ({"batch_size": 8.0}, "batch_size must be a whole number"),
        ({"seed": 2**70}, "seed must be a whole number between 0 and 4,294,967,295"),
        ({"seed": True}, "seed must be a whole number"),
        ({"width": 1_000_000_000}, "width must be a whole number between 1 and 8,192"),
        ({"latent_dim": 10**6}, "latent_dim must be a whole number between 1 and 4,096"),
        ({"depth": 1_000_000}, "depth must be a whole number between 1 and 64"),
        ({"depth": None}, "depth must be a whole number"),
        ({"r1_gamma": float("nan")}, "r1_gamma must be a number between 0 and 1,000"),
        ({"gp_weight": float("inf")}, "gp_weight must be a number above 0"),
        ({"preview_interval": -1.0}, "preview_interval must be a number between 0 and"),
        ({"d_steps": 101}, "d_steps must be a whole number between 1 and 100"),
        ({"arch": "resnet"}, "unknown arch 'resnet'; choose one of: mlp, dcgan"),
        ({"g_norm": 3}, "g_norm must be text"),
        ({"hflip": "yes"}, "hflip must be true or false"),
        ({"notes": (1,)}, "notes must be a list of text"),
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

    assert lr_factor("constant", 500 / 1000) == 1.0
    assert lr_factor("linear", 0 / 1000) == 1.0
    assert lr_factor("linear", 250 / 1000) == pytest.approx(0.75)
    assert lr_factor("cosine", 500 / 1000) == pytest.approx(0.5)
    assert lr_factor("cosine", 1000 / 1000) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="lr_schedule"):
        resolve(TrainConfig(lr_schedule="step"), POINTS)


def test_late_cosine_holds_then_decays():
    from ganstudio.core.config import lr_factor

    assert lr_factor("late-cosine", 400 / 1000) == 1.0
    assert lr_factor("late-cosine", 750 / 1000) == pytest.approx(0.5)
    assert lr_factor("late-cosine", 1000 / 1000) == pytest.approx(0.0)


def test_points_preset_and_its_exceptions():
    cfg = resolve(TrainConfig(), POINTS)
    assert (cfg.pack, cfg.d_steps, cfg.r1_gamma, cfg.steps) == (4, 2, 0.1, 40_000)
    assert any("2-D preset" in n for n in cfg.notes)
    cfg = resolve(TrainConfig(loss="wgan-gp"), POINTS)
    assert cfg.r1_gamma == 0.0 and cfg.d_steps == 5  # the loss's own preset wins
    cfg = resolve(TrainConfig(pack=1, r1_gamma=0.0, steps=10), POINTS)
    assert (cfg.pack, cfg.r1_gamma, cfg.steps) == (1, 0.0, 10)


def test_every_number_has_a_range():
    """Each numeric TrainConfig field is checked against core.config.LIMITS."""
    from dataclasses import fields

    from ganstudio.core.config import LIMITS

    numeric = {
        f.name
        for f in fields(TrainConfig)
        if any(t in str(f.type) for t in ("int", "float")) and f.name not in ("notes",)
    }
    assert numeric == set(LIMITS)
    for name, limit in LIMITS.items():
        assert limit.low <= limit.high, name


def test_settings_and_networks_share_their_limits():
    from ganstudio.core import choices
    from ganstudio.core.config import LIMITS
    from ganstudio.core.models import ModelSpecError, build, model_specs

    assert LIMITS["latent_dim"].high == choices.MAX_LATENT_DIM
    assert LIMITS["depth"].high == choices.MAX_MLP_DEPTH
    big = resolve(TrainConfig(width=1024, latent_dim=512), IMAGES)  # DCGAN-64, 16x channels
    g, _ = model_specs("dcgan", IMAGES.sample_shape, 512, 1024, big.depth, "batch")
    with pytest.raises(ModelSpecError, match="would have .* weights"):
        build(g)


def _toml(tmp_path, text, name="run.toml"):
    f = tmp_path / name
    f.write_text(text)
    return f


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "batch_size = 8.0\n",
            "batch_size must be a whole number between 1 and 1,048,576, got 8.0",
        ),
        ("seed = 1.0\n", "seed must be a whole number"),
        ("seed = 9999999999999\n", "seed must be a whole number between 0 and 4,294,967,295"),
        ("train = 5\n", "train must be a table of settings"),
        ("[train]\nbogus = 1\n", "unknown setting 'bogus'"),
        ("steps = 3\n[train]\nsteps = 4\n", r"steps is given both in \[train\] and at the top"),
        ("lr-g = 1e-4\nlr_g = 1e-4\n", "lr_g is given twice"),
        ('steps = "many"\n', "steps must be a whole number between 1 and 9,999,999, got 'many'"),
        ("width = [1, 2]\n", "width must be a whole number"),
        ("lr_g = nan\n", "lr_g must be a number above 0 and at most 1, got nan"),
        ("ema = inf\n", "ema must be a number at least 0 and below 1"),
        ("batch_size = 1e30\n", "batch_size must be a whole number"),
        ('loss = "bogus"\n', "unknown loss 'bogus'"),
        ("loss = 3\n", "loss must be text, got 3"),
        ("amp = 1\n", "amp must be true or false, got 1"),
        ("notes = 5\n", "notes must be a list of text"),
        ("dataset = {a = 1}\n", "dataset must be text"),
        ("steps = " + "[" * 100 + "1" + "]" * 100 + "\n", r"steps must be a whole number.*\.\.\."),
        ("a = " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply"),
        ("a = " + "{b = " * 20_000 + "1" + "}" * 20_000 + "\n", "nested too deeply"),
    ],
)
def test_bad_settings_files_name_the_file_and_the_field(tmp_path, text, message):
    f = _toml(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as exc:
        load_toml(f)
    assert str(exc.value).startswith(f"{f}: ")
    assert len(str(exc.value)) < 300  # a huge value is not echoed whole


def test_only_regular_files_are_read(tmp_path):
    import os
    import threading

    with pytest.raises(ConfigError, match="is a folder"):
        load_toml(tmp_path)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = threading.Event()
    result = []

    def read():
        try:
            load_toml(fifo)
        except ConfigError as exc:
            result.append(str(exc))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(10):  # a reader blocked on the FIFO: open a writer to release it
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_toml waited for a writer on a FIFO")
    assert result and "is not a regular file" in result[0]
    big = _toml(tmp_path, "# x\n" * 300_000, "big.toml")
    with pytest.raises(ConfigError, match="too large for a settings file"):
        load_toml(big)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'dataset = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)


def test_settings_in_a_train_table_or_at_the_top(tmp_path):
    assert load_toml(_toml(tmp_path, "[train]\nsteps = 5\n")).steps == 5
    assert load_toml(_toml(tmp_path, "seed = 2\n[train]\nsteps = 5\n")).seed == 2


def test_relativistic_loss_gets_r1_and_r2_and_a_penalty_safe_discriminator():
    cfg = resolve(TrainConfig(loss="rpgan"), IMAGES)
    assert cfg.r1_gamma == 1.0 and cfg.d_norm == "none"
    assert any("R1 and R2" in n for n in cfg.notes)
    assert any("without batch norm" in n for n in cfg.notes)
    cfg = resolve(TrainConfig(loss="rpgan", r1_gamma=0.5), IMAGES)
    assert cfg.r1_gamma == 0.5 and not any("R1 and R2" in n for n in cfg.notes)
    assert resolve(TrainConfig(loss="rpgan"), POINTS).r1_gamma == 1.0
    # no penalties asked for: batch norm is allowed again (nothing needs per-sample gradients)
    assert resolve(TrainConfig(loss="rpgan", r1_gamma=0.0), IMAGES).d_norm == "batch"
    with pytest.raises(ConfigError, match="R2"):
        resolve(TrainConfig(loss="rpgan", d_norm="batch"), IMAGES)


@pytest.mark.parametrize(
    "augment, ops, resolved_augment, resolved_ops",
    [
        (None, "", "off", ""),
        (None, "color, cutout", "always", "color,cutout"),  # as before: ops given, always
        ("always", "", "always", "color,translation,cutout"),
        ("auto", "", "auto", "color,translation,cutout"),
        ("auto", "translation", "auto", "translation"),
        ("off", "color", "off", ""),  # off wins, and says so
    ],
)
def test_augment_modes(augment, ops, resolved_augment, resolved_ops):
    cfg = resolve(TrainConfig(augment=augment, diffaugment=ops), IMAGES)
    assert (cfg.augment, cfg.diffaugment) == (resolved_augment, resolved_ops)
    assert (cfg.augment_target, cfg.augment_kimg) == (0.6, 100.0)
    if augment == "off":
        assert any("not applied" in n for n in cfg.notes)
    again = resolve(cfg, IMAGES)  # resolving again (a resumed run) changes no setting
    assert again.with_updates(notes=()) == cfg.with_updates(notes=())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"augment": "sometimes"}, "unknown augment 'sometimes'; choose one of: off, always, auto"),
        ({"augment": "auto", "dataset": "x"}, "not 2-D points"),
        ({"augment_target": 1.5}, "augment_target must be a number between 0 and 1"),
        ({"augment_kimg": 0.0}, "augment_kimg must be a number above 0"),
        ({"augment": "auto", "diffaugment": "blur"}, "unknown DiffAugment operation 'blur'"),
    ],
)
def test_bad_augment_settings(changes, message):
    info = POINTS if "dataset" in changes else IMAGES
    changes = {k: v for k, v in changes.items() if k != "dataset"}
    with pytest.raises(ConfigError, match=message):
        resolve(TrainConfig(**changes), info)


def test_augment_settings_in_a_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('augment = "auto"\naugment-target = 0.5\naugment_kimg = 20\n')
    cfg = load_toml(path)
    assert (cfg.augment, cfg.augment_target, cfg.augment_kimg) == ("auto", 0.5, 20)
