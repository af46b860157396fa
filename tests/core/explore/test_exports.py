"""Exports with provenance: PNG grids, GIF/WebP animations, latent vector files, and the
`ganstudio export grid|interpolation|reproduce` commands."""

import json
import sys

import numpy as np
import pytest
import torch
from _tiny import run_cli, train_tiny
from PIL import Image

from ganstudio.core.explore import exports
from ganstudio.core.explore.exports import (
    ExportError,
    grid_provenance,
    interpolation_provenance,
    keyframes_from_provenance,
    load_vectors,
    read_provenance,
    render_frames,
    render_grid,
    render_provenance,
    sample_provenance,
    save_animation,
    save_grid,
    save_vectors,
    vectors_from_provenance,
)
from ganstudio.core.explore.latent import (
    keyframe_path,
    neighbours,
    seed_vector,
    seed_vectors,
    truncate,
)
from ganstudio.core.modelfile import load_generator

SIZE = 28  # the tiny DCGAN's image size


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("digits"),
        *("--dataset", "builtin:digits?n=256", "--model", "dcgan", "--width", 4),
        *("--latent-dim", 16, "--steps", 3, "--batch-size", 8),
    )


@pytest.fixture(scope="module")
def other_image_model(tmp_path_factory):
    """Same architecture, other weights (another seed's training)."""
    folder = tmp_path_factory.mktemp("digits2")
    torch.set_num_threads(1)
    args = ("--dataset", "builtin:digits?n=256", "--model", "dcgan", "--width", 4)
    more = ("--latent-dim", 16, "--steps", 3, "--batch-size", 8, "--out", folder, "-q")
    more += ("--metrics-every", 0)  # no final measurement: it would train an extractor
    assert run_cli("train", *args, *more, "--device", "cpu", "--seed", 1) == 0
    return folder / "generator.safetensors"


@pytest.fixture(scope="module")
def points_model(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("ring8"),
        *("--dataset", "builtin:ring8?n=256", "--model", "mlp", "--width", 16, "--depth", 1),
        *("--latent-dim", 4, "--steps", 2, "--batch-size", 16),
    )


@pytest.fixture(scope="module")
def gen(image_model):
    return load_generator(image_model)


def _pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _frames(path):
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return np.stack(out)


@pytest.mark.parametrize("rows, cols, padding, upscale", [(2, 3, 2, 1), (3, 1, 0, 2), (1, 1, 5, 3)])
def test_grid_png_size_pixels_and_provenance(gen, tmp_path, rows, cols, padding, upscale):
    z = truncate(seed_vectors(10, rows * cols, gen.latent_dim), 0.8)
    picture = render_grid(gen, z, rows, cols, padding, (250, 0, 10), upscale)
    cell = SIZE * upscale
    assert picture.dtype == np.uint8
    assert picture.shape == (
        rows * cell + (rows + 1) * padding,
        cols * cell + (cols + 1) * padding,
        3,
    )
    if padding:
        assert tuple(picture[0, 0]) == (250, 0, 10)
    prov = grid_provenance(
        gen,
        rows,
        cols,
        seeds=range(10, 10 + rows * cols),
        truncation=0.8,
        padding=padding,
        background=(250, 0, 10),
        upscale=upscale,
    )
    path = tmp_path / "grid.png"
    save_grid(path, picture, prov)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary, no sidecar
    with Image.open(path) as im:
        assert im.size == (picture.shape[1], picture.shape[0])
        assert im.text["ganstudio.kind"] == "grid"
        assert im.text["ganstudio.model_hash"] == gen.meta["content_hash"]
        assert im.text["ganstudio.seeds"] == f"10-{9 + rows * cols}" or rows * cols == 1
    assert np.array_equal(_pixels(path), picture)
    back = read_provenance(path)
    assert back == prov
    assert back["background"] == "#fa000a" and back["model_hash"] == gen.meta["content_hash"]
    assert back["seeds"] == list(range(10, 10 + rows * cols))
    assert np.array_equal(render_provenance(gen, back), picture)


def test_stored_vectors_read_back_bit_for_bit(gen, tmp_path):
    z = neighbours(seed_vector(3, gen.latent_dim), 5, 0.37, seed=4)
    z[1, :4] = [np.float32(1e-40), np.float32(-0.0), np.float32(-9999.99), np.float32(1 / 3)]
    picture = render_grid(gen, truncate(z, 0.6), 2, 3)  # 5 images, one empty cell
    prov = grid_provenance(gen, 2, 3, vectors=z, truncation=0.6)
    path = tmp_path / "vectors.png"
    save_grid(path, picture, prov)
    back = read_provenance(path)
    assert "seeds" not in back and back == json.loads(json.dumps(prov))
    again = vectors_from_provenance(back)
    assert again.dtype == np.float32 and again.tobytes() == z.tobytes()
    assert np.array_equal(render_provenance(gen, back), picture)


def test_sample_export(gen, tmp_path):
    prov = sample_provenance(gen, seeds=[42], truncation=0.5, upscale=2)
    picture = render_provenance(gen, prov)
    assert picture.shape == (2 * SIZE, 2 * SIZE, 3)
    z = truncate(seed_vector(42, gen.latent_dim)[None], 0.5)
    assert np.array_equal(picture, render_grid(gen, z, 1, 1, padding=0, upscale=2))
    path = tmp_path / "one.png"
    exports.write_export(path, gen, prov)
    assert read_provenance(path) == prov and np.array_equal(_pixels(path), picture)


def test_point_models_are_refused(points_model):
    points = load_generator(points_model)
    with pytest.raises(ValueError, match="grids and animations are for image models"):
        render_grid(points, seed_vectors(0, 4, points.latent_dim), 2, 2)
    with pytest.raises(ValueError, match="grids and animations are for image models"):
        render_frames(points, seed_vectors(0, 4, points.latent_dim))


def test_render_checks_its_latents(gen):
    with pytest.raises(ValueError, match=r"\(n, 16\)"):
        render_grid(gen, np.zeros((4, 5), np.float32), 2, 2)
    with pytest.raises(ValueError, match="do not fit"):
        render_grid(gen, seed_vectors(0, 5, 16), 2, 2)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
@pytest.mark.parametrize("loop", [False, True])
def test_animations_have_their_frames_and_a_sidecar(gen, tmp_path, suffix, loop):
    prov = interpolation_provenance(
        gen, seeds=[1, 2, 3], steps=4, easing="ease-in-out", loop=loop, fps=20, truncation=0.9
    )
    path_z = truncate(keyframe_path(seed_vectors(1, 3, 16), 4, "slerp", "ease-in-out", loop), 0.9)
    frames = render_frames(gen, path_z)
    n = 12 if loop else 9
    assert frames.shape == (n, SIZE, SIZE, 3) and frames.dtype == np.uint8
    out = tmp_path / f"walk{suffix}"
    save_animation(out, frames, 20, loop, prov)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, out.name + ".json"]
    with Image.open(out) as im:
        assert im.n_frames == n
        im.seek(1)
        im.load()
        assert im.info["duration"] == 50
        if suffix == ".gif":
            assert im.info.get("loop") == (0 if loop else None)
        else:
            assert im.info["loop"] == (0 if loop else 1)
    back = read_provenance(out)
    assert back == prov == read_provenance(str(out) + ".json")
    assert back["keyframes"] == {"seeds": [1, 2, 3]}
    assert np.array_equal(keyframes_from_provenance(back), seed_vectors(1, 3, 16))
    # reopening the export and rendering again gives the same pixels
    assert np.array_equal(render_provenance(gen, back), frames)
    if suffix == ".webp":  # lossless: the file holds exactly those pixels
        assert np.array_equal(_frames(out), frames)


def test_animation_of_stored_keyframes_with_upscale(gen, tmp_path):
    keys = neighbours(seed_vector(5, 16), 2, 0.5, seed=1)
    prov = interpolation_provenance(gen, vectors=keys, steps=3, mode="lerp", fps=10, upscale=2)
    frames = exports.write_export(tmp_path / "w.webp", gen, prov)
    assert frames.shape == (4, 2 * SIZE, 2 * SIZE, 3)
    back = read_provenance(tmp_path / "w.webp")
    assert keyframes_from_provenance(back).tobytes() == keys.tobytes()
    assert np.array_equal(_frames(tmp_path / "w.webp"), frames)


def test_animation_format_errors(gen, tmp_path, monkeypatch):
    prov = interpolation_provenance(gen, seeds=[1, 2], steps=2)
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(ExportError, match=r"walk\.avi.*\.gif, \.webp, \.mp4"):
        save_animation(tmp_path / "walk.avi", frames, 24, False, prov)
    monkeypatch.setitem(sys.modules, "imageio", None)  # makes the imports fail
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ExportError, match=r"pip install imageio imageio-ffmpeg"):
        save_animation(tmp_path / "walk.mp4", frames, 24, False, prov)
    assert not list(tmp_path.iterdir())


def test_read_provenance_errors_name_the_file(gen, tmp_path):
    with pytest.raises(ExportError, match=r"nope\.png: no such file"):
        read_provenance(tmp_path / "nope.png")
    foreign = tmp_path / "photo.png"
    Image.new("RGB", (4, 4)).save(foreign)
    with pytest.raises(ExportError, match=r"photo\.png: a PNG without GAN Studio provenance"):
        read_provenance(foreign)
    gif = tmp_path / "lonely.gif"
    Image.new("RGB", (4, 4)).save(gif)
    with pytest.raises(ExportError, match=r"lonely\.gif: .*lonely\.gif\.json is missing"):
        read_provenance(gif)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ExportError, match=r"notes\.txt: not a GAN Studio export"):
        read_provenance(text)
    (tmp_path / "bad.gif").write_bytes(b"GIF89a")
    (tmp_path / "bad.gif.json").write_text("{not json")
    with pytest.raises(ExportError, match=r"bad\.gif\.json: the provenance is not valid JSON"):
        read_provenance(tmp_path / "bad.gif")
    newer = interpolation_provenance(gen, seeds=[1, 2], steps=2) | {"provenance_version": 99}
    (tmp_path / "new.gif").write_bytes(b"GIF89a")
    (tmp_path / "new.gif.json").write_text(json.dumps(newer))
    with pytest.raises(ExportError, match=r"new\.gif: written by a newer GAN Studio"):
        read_provenance(tmp_path / "new.gif")
    wrong = sample_provenance(gen, seeds=[1]) | {"truncation": 2.0}
    (tmp_path / "w.gif").write_bytes(b"GIF89a")
    (tmp_path / "w.gif.json").write_text(json.dumps(wrong))
    with pytest.raises(ExportError, match=r"w\.gif: truncation must be"):
        read_provenance(tmp_path / "w.gif")


def test_vector_files_round_trip(tmp_path):
    z = neighbours(seed_vector(1, 16), 3, 0.3, seed=2)
    save_vectors(tmp_path / "v.npy", z, {"ignored": True})
    back, meta = load_vectors(tmp_path / "v.npy")
    assert back.tobytes() == z.tobytes() and back.dtype == np.float32 and meta == {}
    save_vectors(tmp_path / "v.json", z[0], {"truncation": 0.7, "model_hash": "abc"})
    back, meta = load_vectors(tmp_path / "v.json", latent_dim=16)
    assert back.shape == (1, 16) and back.tobytes() == z[:1].tobytes()
    assert meta == {"truncation": 0.7, "model_hash": "abc"}
    with pytest.raises(ExportError, match="size 16, but this model takes latents of size 8"):
        load_vectors(tmp_path / "v.json", latent_dim=8)


def test_vector_files_from_an_export_sidecar(gen, tmp_path):
    prov = interpolation_provenance(gen, seeds=[4, 5, 6], steps=2)
    (tmp_path / "w.gif.json").write_text(json.dumps(prov))
    keys, meta = load_vectors(tmp_path / "w.gif.json")
    assert np.array_equal(keys, seed_vectors(4, 3, 16)) and meta["kind"] == "interpolation"


def test_load_vectors_refuses_pickles_and_garbage(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ExportError, match=r"objects\.npy: holds Python objects \(a pickle\)"):
        load_vectors(tmp_path / "objects.npy")
    np.save(tmp_path / "ints.npy", np.arange(16).reshape(1, 16))
    with pytest.raises(ExportError, match="floating point"):
        load_vectors(tmp_path / "ints.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ExportError, match=r"\(n, D\)"):
        load_vectors(tmp_path / "cube.npy")
    np.save(tmp_path / "nan.npy", np.full((1, 4), np.nan, np.float32))
    with pytest.raises(ExportError, match="NaN"):
        load_vectors(tmp_path / "nan.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x00junk")
    with pytest.raises(ExportError, match=r"junk\.npy: not a NumPy \.npy array file"):
        load_vectors(tmp_path / "junk.npy")
    (tmp_path / "junk.json").write_text('{"vectors": [[1, "x"]]}')
    with pytest.raises(ExportError, match="only numbers"):
        load_vectors(tmp_path / "junk.json")
    (tmp_path / "ragged.json").write_text('{"vectors": [[1, 2], [3]]}')
    with pytest.raises(ExportError, match="same, non-zero length"):
        load_vectors(tmp_path / "ragged.json")
    (tmp_path / "ragged.txt").write_text("1 2 3")
    with pytest.raises(ExportError, match=r"\.npy or \.json"):
        load_vectors(tmp_path / "ragged.txt")
    with pytest.raises(ExportError, match=r"\.npy or \.json"):
        save_vectors(tmp_path / "v.pkl", np.zeros((1, 4), np.float32))


# ----------------------------------------------------------------------------------------
# The command line


def test_cli_grid_matches_the_core_bit_for_bit(image_model, gen, tmp_path, capfd):
    out = tmp_path / "grid.png"
    args = ("--grid", "3x4", "--seed", 7, "--truncation", 0.7, "--padding", 1)
    more = ("--background", "#102030", "--upscale", 2, "-o", out)
    assert run_cli("export", "grid", image_model, *args, *more) == 0
    assert capfd.readouterr() == ("", f"wrote {out}\n")
    z = truncate(seed_vectors(7, 12, 16), 0.7)
    expected = render_grid(gen, z, 3, 4, 1, (16, 32, 48), 2)
    assert np.array_equal(_pixels(out), expected)
    prov = read_provenance(out)
    assert prov == grid_provenance(
        gen,
        3,
        4,
        seeds=range(7, 19),
        truncation=0.7,
        padding=1,
        background=(16, 32, 48),
        upscale=2,
    )

    again = tmp_path / "again.png"
    assert run_cli("export", "reproduce", out, "--model", image_model, "-o", again) == 0
    assert np.array_equal(_pixels(again), expected) and read_provenance(again) == prov

    # a training checkpoint of the same weights works as the model too
    (checkpoint,) = (image_model.parent / "checkpoints").iterdir()
    from_checkpoint = tmp_path / "checkpoint.png"
    assert run_cli("export", "grid", checkpoint, *args, *more[:-1], from_checkpoint) == 0
    assert np.array_equal(_pixels(from_checkpoint), expected)
    assert read_provenance(from_checkpoint) == prov


def test_cli_interpolation_and_reproduce(image_model, gen, tmp_path, capfd):
    out = tmp_path / "walk.webp"
    args = ("--seeds", "3,1,4", "--steps", 3, "--mode", "lerp", "--easing", "ease-out")
    more = ("--fps", 12, "--loop", "--truncation", 0.8, "-o", out)
    assert run_cli("export", "interpolation", image_model, *args, *more) == 0
    assert capfd.readouterr().err == f"wrote {out}\n"
    keys = np.stack([seed_vector(s, 16) for s in (3, 1, 4)])
    expected = render_frames(gen, truncate(keyframe_path(keys, 3, "lerp", "ease-out", True), 0.8))
    assert expected.shape[0] == 9
    assert np.array_equal(_frames(out), expected)
    prov = read_provenance(out)
    assert prov == interpolation_provenance(
        gen,
        seeds=[3, 1, 4],
        steps=3,
        mode="lerp",
        easing="ease-out",
        loop=True,
        fps=12,
        truncation=0.8,
    )

    gif = tmp_path / "walk.gif"  # reproduced in another format
    assert run_cli("export", "reproduce", out, "--model", image_model, "-o", gif) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 9
    assert read_provenance(gif) == prov
    assert np.array_equal(render_provenance(gen, read_provenance(gif)), expected)
    # the sidecar itself names the export too
    again = tmp_path / "again.webp"
    sidecar = tmp_path / "walk.gif.json"
    assert run_cli("export", "reproduce", sidecar, "--model", image_model, "-o", again) == 0
    assert np.array_equal(_frames(again), expected)


def test_cli_reproduce_checks_the_model(image_model, other_image_model, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert run_cli("export", "grid", image_model, "--grid", "2x2", "-o", out) == 0
    capsys.readouterr()
    other = tmp_path / "other.png"
    assert run_cli("export", "reproduce", out, "--model", other_image_model, "-o", other) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "was made with model" in err and "--any-model" in err
    assert not other.exists()
    args = ("--model", other_image_model, "--any-model", "-o", other)
    assert run_cli("export", "reproduce", out, *args) == 0
    assert (
        read_provenance(other)["model_hash"]
        == load_generator(other_image_model).meta["content_hash"]
    )


def test_cli_export_model_still_takes_onnx(image_model, tmp_path, capsys):
    assert run_cli("export", image_model) == 2
    err = capsys.readouterr().err
    assert "--onnx" in err and "grid" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["grid", "MODEL", "--grid", "8by8", "-o", "g.png"], "--grid takes ROWSxCOLS"),
        (
            ["grid", "MODEL", "--truncation", "0", "-o", "g.png"],
            "--truncation must be a number above 0 and at most 1",
        ),
        (["grid", "MODEL", "--truncation", "1.5", "-o", "g.png"], "--truncation"),
        (["grid", "MODEL", "--background", "zz", "-o", "g.png"], "--background"),
        (
            ["grid", "MODEL", "--upscale", "0", "-o", "g.png"],
            "--upscale must be a whole number between",
        ),
        (
            ["grid", "MODEL", "--seed", "-1", "-o", "g.png"],
            "--seed must be a whole number between 0",
        ),
        (["grid", "MODEL", "-o", "g.jpg"], "must end in .png"),
        (["grid", "MODEL"], "-o OUT"),
        (["grid", "MODEL", "--steps", "3", "-o", "g.png"], "--steps does not apply"),
        (["grid", "MODEL", "--onnx", "x.onnx"], "--onnx does not apply"),
        (["MODEL", "-o", "x.png"], "-o/--output does not apply"),
        (["interpolation", "MODEL", "-o", "w.gif"], "--seeds"),
        (["interpolation", "MODEL", "--seeds", "1", "-o", "w.gif"], "at least 2"),
        (["interpolation", "MODEL", "--seeds", "a,b", "-o", "w.gif"], "whole numbers"),
        (["interpolation", "MODEL", "--seeds", "1,2", "-o", "w.avi"], ".gif or .webp or .mp4"),
        (["interpolation", "MODEL", "--seeds", "1,2", "--fps", "0", "-o", "w.gif"], "--fps"),
        (["interpolation", "MODEL", "--seeds", "1,2", "--steps", "0", "-o", "w.gif"], "--steps"),
        (["interpolation", "MODEL", "--seeds", "1,2", "--grid", "2x2", "-o", "w.gif"], "--grid"),
        (["interpolation", "MODEL", "--seeds", "1,2", "-o", "w.mp4"], "pip install imageio"),
        (["interpolation", "POINTS", "--seeds", "1,2", "-o", "w.gif"], "for image models"),
        (["grid", "/no/such/model.safetensors", "-o", "g.png"], "no such file"),
        (["grid", "-o", "g.png"], "give the MODEL file after `ganstudio export grid`"),
        (["reproduce", "EXPORT", "-o", "x.png"], "--model MODEL"),
        (["reproduce", "EXPORT", "--model", "MODEL", "-o", "x.gif"], "must end in .png"),
        (["reproduce", "MODEL", "--model", "MODEL", "-o", "x.png"], "not a GAN Studio export"),
        (["reproduce", "MODEL", "--seed", "3", "-o", "x.png"], "--seed does not apply"),
    ],
)
def test_cli_user_errors(args, message, image_model, points_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "imageio", None)  # no MP4 encoder, whatever is installed
    monkeypatch.setitem(sys.modules, "av", None)
    export = tmp_path / "made" / "export.png"
    export.parent.mkdir()
    assert run_cli("export", "grid", image_model, "--grid", "1x2", "-o", export) == 0
    capsys.readouterr()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    names = {"MODEL": str(image_model), "POINTS": str(points_model), "EXPORT": str(export)}
    assert run_cli("export", *(names.get(a, a) for a in args)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("error:") and err.count("\n") == 1
    assert not list(work.iterdir())
