"""Datasets from the user's files: folders, archives, idx, CIFAR, NumPy; skips, errors, cache."""

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.cli import main
from ganstudio.core.data import DatasetError, load_dataset
from ganstudio.core.data import prepare as prepare_mod

W1 = "workers=1"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def _png(path: Path, im: Image.Image, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)


def make_folder(root: Path) -> Path:
    """cats: 3 good pictures (mixed sizes and modes) + 1 truncated PNG;
    dogs: 3 good (16-bit PNG, palette GIF, RGBA PNG) + a zero-byte JPEG and a text '.png'."""
    _png(root / "cats" / "a.png", Image.new("RGB", (40, 30), (255, 0, 0)))
    _png(root / "cats" / "b.jpg", Image.new("RGB", (64, 64), (0, 0, 255)), quality=95)
    _png(root / "cats" / "sub" / "c.bmp", Image.new("L", (20, 20), 100))
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), (0, 255, 0)).save(buf, "PNG")
    (root / "cats" / "broken.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    sixteen = np.full((16, 24), 32896, dtype=np.uint16)  # 32896 / 257 = 128
    _png(root / "dogs" / "d16.png", Image.fromarray(sixteen))
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([0, 0, 0, 255, 128, 0] + [0] * 762)
    _png(root / "dogs" / "e.gif", pal)
    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 0))  # fully transparent
    _png(root / "dogs" / "f.png", rgba)
    (root / "dogs" / "zero.jpg").write_bytes(b"")
    (root / "dogs" / "notes.png").write_text("not a picture")
    (root / "dogs" / "README.txt").write_text("ignored")
    return root


def test_folder_with_classes_skips_and_conversions(tmp_path):
    root = make_folder(tmp_path / "pics")
    calls = []
    ds = load_dataset(
        f"{root}?size=28&mode=rgb&background=00ff00&{W1}", progress=lambda *a: calls.append(a)
    )
    info = ds.info
    assert info.count == 6 and ds.data.shape == (6, 3, 28, 28) and ds.data.dtype == torch.uint8
    assert info.class_names == ("cats", "dogs")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]  # a.png, b.jpg, sub/c.bmp | d16, e.gif, f
    assert calls[-1] == (9, 9)
    extra = info.extra
    assert extra["skipped"] == 3
    reasons = dict(extra["skipped_examples"])
    assert reasons == {
        "cats/broken.png": "truncated",
        "dogs/notes.png": "not an image (or an unsupported format)",
        "dogs/zero.jpg": "empty file",
    }
    assert extra["ignored_files"] == 1
    px = ds.data.permute(0, 2, 3, 1).int()  # (N, H, W, 3)
    assert px[0, 14, 14].tolist() == [255, 0, 0]
    assert (px[1, 14, 14] - torch.tensor([0, 0, 255])).abs().max() <= 3  # JPEG
    assert px[2, 14, 14].tolist() == [100, 100, 100]
    assert px[3, 14, 14].tolist() == [128, 128, 128]  # 16-bit scaled, not clipped
    assert px[4, 14, 14].tolist() == [255, 128, 0]  # palette colour
    assert px[5].reshape(-1, 3).unique(dim=0).tolist() == [[0, 255, 0]]  # alpha -> background
    sizes = dict(map(tuple, extra["source_sizes"]))
    assert sizes["40x30"] == 1 and sizes["24x16"] == 1
    modes = dict(map(tuple, extra["source_modes"]))
    assert modes["P"] == 1 and modes["RGBA"] == 1 and modes["RGB"] == 2


def test_defaults_size_mode_and_resize_modes(tmp_path):
    root = tmp_path / "gray"
    for k, size in enumerate([(60, 40), (70, 70), (90, 64)]):
        _png(root / f"{k}.png", Image.new("L", size, 50 * k))
    # grey pictures saved as RGB are still grey
    _png(root / "3.png", Image.new("RGB", (64, 64), (7, 7, 7)))
    ds = load_dataset(f"{root}?{W1}")
    assert ds.data.shape == (4, 1, 64, 64)  # median short side 64 -> 64; no colour -> gray
    pad = load_dataset(f"{root}?size=32&resize=pad&background=ffffff&{W1}")
    assert pad.data[0, 0, 0, 16] == 255 and pad.data[0, 0, 16, 16] == 0  # 60x40: bars above
    stretch = load_dataset(f"{root}?size=32&resize=stretch&mode=rgb&{W1}")
    assert stretch.data.shape == (4, 3, 32, 32)


def test_the_automatic_size_stops_at_the_devices_largest(tmp_path):
    root = tmp_path / "big"
    for k in range(3):
        _png(root / f"{k}.png", Image.new("RGB", (300, 280), (40 * k, 90, 200)))
    assert load_dataset(f"{root}?{W1}").data.shape[-1] == 64  # the CPU's largest
    gpu = load_dataset(f"{root}?{W1}", largest_auto_size=256)
    assert gpu.data.shape == (3, 3, 256, 256)  # not the 64 px pictures of the cache
    assert load_dataset(f"{root}?{W1}").data.shape[-1] == 64  # nor the other way round
    # A size asked for is kept whatever the device.
    assert load_dataset(f"{root}?size=32&{W1}", largest_auto_size=256).data.shape[-1] == 32


def test_cmyk_and_exif_orientation(tmp_path):
    root = tmp_path / "photos"
    _png(root / "cmyk.jpg", Image.new("CMYK", (32, 32), (0, 255, 255, 0)), quality=95)
    # Stored 40 wide x 20 high, left half red, right half blue; orientation 6 means the
    # viewer turns it 90 degrees clockwise: red on top, blue at the bottom, 20 x 40.
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    _png(root / "rotated.jpg", im, quality=95, exif=exif.tobytes())
    ds = load_dataset(f"{root}?size=28&mode=rgb&resize=stretch&{W1}")
    px = ds.data.permute(0, 2, 3, 1).int()
    assert (px[0, 14, 14] - torch.tensor([255, 0, 0])).abs().max() <= 8
    top, bottom = px[1, 3, 14], px[1, 24, 14]
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60
    assert dict(map(tuple, ds.info.extra["source_sizes"]))["20x40"] == 1


def test_webp_tiff_animated_gif_and_decompression_bombs(tmp_path, monkeypatch):
    root = tmp_path / "formats"
    _png(root / "a.webp", Image.new("RGB", (30, 30), (255, 0, 0)), lossless=True)
    _png(root / "b.tif", Image.new("RGB", (30, 30), (0, 255, 0)))
    frames = [Image.new("RGB", (30, 30), c) for c in ((0, 0, 255), (255, 255, 0))]
    _png(root / "c.gif", frames[0], save_all=True, append_images=frames[1:])
    _png(root / "d.png", Image.new("RGB", (45, 45), (9, 9, 9)))  # 2,025 px: over 2x the limit
    _png(root / "e.png", Image.new("RGB", (35, 35), (9, 9, 9)))  # 1,225 px: over the limit
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    ds = load_dataset(f"{root}?size=28&mode=rgb&{W1}")
    px = ds.data[:, :, 14, 14].tolist()
    assert px == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]  # GIF: its first frame
    reasons = dict(ds.info.extra["skipped_examples"])
    assert set(reasons) == {"d.png", "e.png"} and all("too large" in r for r in reasons.values())


def test_zip_and_tar_gz_match_the_folder(tmp_path):
    root = make_folder(tmp_path / "pics")
    folder = load_dataset(f"{root}?size=28&{W1}&cache=0")
    zpath, tpath = tmp_path / "pics.zip", tmp_path / "pics.tar.gz"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(root.rglob("*")):
            zf.write(p, Path("pics") / p.relative_to(root))
        zf.writestr("__MACOSX/pics/._a.png", b"junk")
    with tarfile.open(tpath, "w:gz") as tf:
        tf.add(root, arcname="pics")
    for path in (zpath, tpath):
        ds = load_dataset(f"{path}?size=28&{W1}")
        assert ds.info.class_names == ("cats", "dogs"), path
        assert torch.equal(ds.data, folder.data) and torch.equal(ds.labels, folder.labels)
        assert ds.info.extra["skipped"] == 3
    before = (zpath.stat().st_mtime_ns, tpath.stat().st_size)
    assert before == (zpath.stat().st_mtime_ns, tpath.stat().st_size)  # never written to


def test_damaged_archives(tmp_path):
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(DatasetError, match="fake.zip: cannot read the archive"):
        load_dataset(str(tmp_path / "fake.zip"))
    rng = np.random.default_rng(3)
    root = tmp_path / "noise"
    for k in range(6):
        _png(root / f"{k}.png", Image.fromarray(rng.integers(0, 256, (40, 40, 3), np.uint8)))
    whole = tmp_path / "noise.tgz"
    with tarfile.open(whole, "w:gz") as tf:
        tf.add(root, arcname="noise")
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    ds = load_dataset(f"{cut}?size=28&{W1}")  # what comes before the damage
    assert 1 <= len(ds) < 6 and "damaged" in ds.info.extra["notes"][0]


def _idx(path: Path, array: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def test_idx_gz_images_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    ds = load_dataset(str(tmp_path / "train-images-idx3-ubyte.gz"))
    assert ds.data.shape == (5, 1, 28, 28)
    assert np.array_equal(ds.data[:, 0].numpy(), images)
    assert ds.labels.tolist() == [3, 1, 4, 1, 5] and ds.info.class_names[5] == "5"
    # a truncated idx file is one clear error
    raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(raw[:500])
    with pytest.raises(DatasetError, match="truncated"):
        load_dataset(str(tmp_path / "bad-images-idx3-ubyte"))


def test_cifar10_file_and_folder(tmp_path):
    records = np.zeros((4, 1 + 3072), dtype=np.uint8)
    records[:, 0] = [0, 9, 2, 9]
    records[0, 1 : 1 + 1024] = 200  # image 0: red plane
    folder = tmp_path / "cifar"
    folder.mkdir()
    (folder / "data_batch_1.bin").write_bytes(records.tobytes())
    (folder / "test_batch.bin").write_bytes(records[:2].tobytes())
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse"]
    (folder / "batches.meta.txt").write_text("\n".join(names + ["ship", "truck"]) + "\n\n")
    one = load_dataset(str(folder / "data_batch_1.bin"))
    assert one.data.shape == (4, 3, 32, 32) and one.labels.tolist() == [0, 9, 2, 9]
    assert one.info.class_names[9] == "truck"
    assert one.data[0, 0].unique().tolist() == [200] and one.data[0, 1].max() == 0
    both = load_dataset(str(folder))
    assert len(both) == 6 and both.info.extra["format"] == "cifar10"


def test_numpy_arrays_detect_their_range(tmp_path):
    x = np.full((6, 32, 32, 3), 0.5, dtype=np.float32)
    x[:, :, :, 0] = 1.0
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(6) % 2)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.data.shape == (6, 3, 32, 32)
    assert ds.data[0, 0].unique().tolist() == [255] and ds.data[0, 1].unique().tolist() == [128]
    assert ds.info.extra["detected_range"] == "float [0, 1]"
    assert ds.labels.tolist() == [0, 1, 0, 1, 0, 1] and ds.info.class_names == ("0", "1")

    y = np.ones((4, 28, 28), dtype=np.float32)
    y[:, :14] = -1.0
    np.save(tmp_path / "m.npy", y)
    ds = load_dataset(str(tmp_path / "m.npy"))
    assert ds.data.shape == (4, 1, 28, 28) and ds.info.extra["detected_range"] == "float [-1, 1]"
    assert ds.data[0, 0, 0, 0] == 0 and ds.data[0, 0, 27, 0] == 255 and ds.labels is None
    # resized on request
    assert load_dataset(f"{tmp_path / 'm.npy'}?size=32&{W1}").data.shape == (4, 1, 32, 32)


def test_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder: .*missing"):
        load_dataset(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no images found in .*empty \(searched png, jpg"):
        load_dataset(str(tmp_path / "empty"))
    bad = tmp_path / "bad"
    bad.mkdir()
    for k in range(3):
        (bad / f"{k}.png").write_bytes(b"\x89PNG nope")
    with pytest.raises(DatasetError, match=r"all 3 picture files were unreadable; first: 0\.png"):
        load_dataset(f"{bad}?{W1}")
    with pytest.raises(DatasetError, match="unknown option 'colour'"):
        load_dataset(f"{bad}?colour=1")
    with pytest.raises(DatasetError, match="size must be one of 28, 32, 64, 128"):
        load_dataset(f"{bad}?size=48")


def test_cache_hit_and_invalidation(tmp_path, monkeypatch):
    root = tmp_path / "pics"
    for k in range(4):
        _png(root / f"{k}.png", Image.new("RGB", (32, 32), (60 * k, 0, 0)))
    first = load_dataset(f"{root}?{W1}")
    assert first.info.extra["cache"] == "stored"
    real_decode = prepare_mod.decode_picture

    def fail(*a, **k):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(prepare_mod, "decode_picture", fail)
    second = load_dataset(f"{root}?{W1}")
    assert second.info.extra["cache"] == "hit" and torch.equal(second.data, first.data)
    assert second.info.fingerprint == first.info.fingerprint
    monkeypatch.setattr(prepare_mod, "decode_picture", real_decode)

    _png(root / "4.png", Image.new("RGB", (32, 32), (0, 0, 255)))  # added -> re-prepared
    third = load_dataset(f"{root}?{W1}")
    assert len(third) == 5 and third.info.extra["cache"] == "stored"
    st = (root / "0.png").stat()
    os.utime(root / "0.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched
    assert load_dataset(f"{root}?{W1}").info.extra["cache"] == "stored"
    assert load_dataset(f"{root}?{W1}").info.extra["cache"] == "hit"
    entries = list((tmp_path / "cache" / "datasets").glob("*.npy"))
    assert len(entries) == 1  # older entries of the same source are replaced
    entries[0].write_bytes(b"garbage")  # damaged -> ignored and rebuilt
    again = load_dataset(f"{root}?{W1}")
    assert again.info.extra["cache"] == "stored" and torch.equal(again.data, third.data)
    assert load_dataset(f"{root}?{W1}&cache=0").info.extra["cache"] == "off"


def test_parallel_decode_matches_serial(tmp_path):
    root = tmp_path / "many"
    rng = np.random.default_rng(1)
    for k in range(130):
        _png(root / f"{k:03d}.png", Image.fromarray(rng.integers(0, 256, (20, 20, 3), np.uint8)))
    a = load_dataset(f"{root}?size=28&workers=1&cache=0")
    b = load_dataset(f"{root}?size=28&workers=2&cache=0")
    assert torch.equal(a.data, b.data) and len(a) == 130


def test_data_inspect_cli(tmp_path, capsys, monkeypatch):
    root = make_folder(tmp_path / "pics")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "inspect", str(root), "--size", "32", "--mode", "rgb", "-q"]) == 0
    out = capsys.readouterr().out
    assert "images:   6 prepared, each 3x32x32" in out
    assert "classes:  2 from subfolders: cats 3, dogs 3" in out
    assert "skipped:  3 unreadable files" in out and "cats/broken.png: truncated" in out
    assert "RGB x2" in out and "40x30 x1" in out
    with Image.open(tmp_path / "pics-preview.png") as im:
        assert im.mode == "RGB" and im.size[0] > 64
    np.save(tmp_path / "m.npy", np.zeros((3, 28, 28), np.float32))
    assert main(["data", "inspect", str(tmp_path / "m.npy"), "-o", "m.png", "-q"]) == 0
    assert "range:    float [0, 1] (detected)" in capsys.readouterr().out
    assert main(["data", "inspect", str(tmp_path / "nope"), "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: no such file")


def test_train_a_few_steps_on_a_folder(tmp_path):
    root = tmp_path / "faces"
    rng = np.random.default_rng(2)
    for k in range(8):
        _png(root / f"{k}.png", Image.fromarray(rng.integers(0, 256, (36, 30, 3), np.uint8)))
    out = tmp_path / "run"
    args = ["train", "--dataset", f"{root}?size=28&{W1}", "--steps", "3", "--width", "8"]
    args += ["--batch-size", "4", "--latent-dim", "8", "--device", "cpu", "-q", "--out", out]
    args += ["--metrics-every", "0"]
    assert main([str(a) for a in args]) == 0
    assert (out / "generator.safetensors").is_file()
