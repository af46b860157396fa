"""Hostile dataset inputs, generated here: each is a clear error naming the file, or is handled
sensibly; never a traceback, a hang, or an allocation larger than the machine."""

import io
import os
import re
import struct
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.cli import main
from ganstudio.core.data import DatasetError, guards, load_dataset
from ganstudio.core.data import prepare as prepare_mod
from ganstudio.core.data.prepare import SkipPicture, open_picture

W1 = "workers=1&cache=0"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
needs_links = pytest.mark.skipif(os.name == "nt", reason="links need privileges on Windows")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def _png_bytes(colour, size=(16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def _png(path: Path, colour=(255, 0, 0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png_bytes(colour))


# ---------------------------------------------------------------------------------------------
# Folders: links and special files


@needs_links
def test_link_loops_end_and_each_picture_counts_once(tmp_path):
    root = tmp_path / "pics"
    _png(root / "sub" / "a.png", (255, 0, 0))
    _png(root / "sub" / "b.png", (0, 0, 255))
    os.symlink("..", root / "sub" / "up")  # a link back up: pics/sub/up/sub/up/...
    os.symlink(".", root / "self")
    os.symlink("loop2", root / "loop1")  # a loop of links resolves to nothing
    os.symlink("loop1", root / "loop2")
    os.symlink("sub", root / "again")  # the same folder under a second name
    os.symlink("sub/a.png", root / "link.png")  # the same file under a second name
    ds = load_dataset(f"{root}?size=28&{W1}")
    assert len(ds) == 2
    assert ds.info.extra["skipped"] == 0 and ds.info.extra["ignored_files"] == 0
    assert any("links to folders or files already included" in n for n in ds.info.extra["notes"])


@needs_links
def test_a_deep_tree_of_links_is_walked_once(tmp_path):
    # Two links per level back to the top: following them would visit 2^depth paths.
    root = tmp_path / "pics"
    _png(root / "a.png")
    level = root
    for k in range(12):
        level = level / f"d{k}"
        level.mkdir()
        os.symlink(root, level / "x")
        os.symlink(root, level / "y")
    _png(level / "deep.png", (0, 255, 0))
    ds = load_dataset(f"{root}?size=28&{W1}")
    assert len(ds) == 2


@needs_links
def test_a_broken_or_looping_link_named_like_a_picture_is_skipped(tmp_path):
    root = tmp_path / "pics"
    _png(root / "a.png")
    os.symlink("missing.png", root / "broken.png")
    os.symlink("self.png", root / "self.png")
    ds = load_dataset(f"{root}?size=28&{W1}")
    assert len(ds) == 1 and ds.info.extra["skipped"] == 2
    reasons = dict(ds.info.extra["skipped_examples"])
    assert reasons["broken.png"].startswith("unreadable (")
    assert reasons["self.png"].startswith("unreadable (")


@needs_fifo
@pytest.mark.timeout(30)
def test_a_fifo_in_a_folder_is_skipped_never_opened(tmp_path):
    root = tmp_path / "pics"
    _png(root / "a.png")
    os.mkfifo(root / "pipe.png")  # opening it for reading would wait for a writer forever
    ds = load_dataset(f"{root}?size=28&{W1}")
    assert len(ds) == 1 and ds.info.extra["skipped"] == 1
    assert ds.info.extra["skipped_examples"] == [
        ["pipe.png", "a FIFO (named pipe), not a picture file"]
    ]
    only = tmp_path / "only"
    only.mkdir()
    os.mkfifo(only / "pipe.png")
    with pytest.raises(DatasetError, match=r"only: none of its 1 picture files can be read; first"):
        load_dataset(f"{only}?{W1}")


@needs_fifo
@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "name", ["data.npz", "data.npy", "pics.zip", "pics.tar.gz", "train-images-idx3-ubyte", "x"]
)
def test_a_fifo_as_the_dataset_is_refused(tmp_path, name):
    os.mkfifo(tmp_path / name)
    with pytest.raises(DatasetError, match=rf"{name} is a FIFO \(named pipe\), not a file or"):
        load_dataset(str(tmp_path / name))


@needs_fifo
@pytest.mark.timeout(30)
def test_readers_open_only_regular_files(tmp_path):
    # The second check, at the open itself (a file may be replaced after it was listed).
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(SkipPicture, match="a FIFO"):
        open_picture(tmp_path / "pipe.png")
    with pytest.raises(guards.NotRegularFile, match="a FIFO"):
        guards.open_regular(tmp_path / "pipe.png")
    with pytest.raises(guards.NotRegularFile, match="a folder"):
        guards.open_regular(tmp_path)
    if os.path.exists("/dev/null"):
        with pytest.raises(guards.NotRegularFile, match="a character device"):
            guards.open_regular("/dev/null")
    # a FIFO labels file next to idx images is not used
    images = np.zeros((2, 28, 28), np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    os.mkfifo(tmp_path / "train-labels-idx1-ubyte")
    ds = load_dataset(str(tmp_path / "train-images-idx3-ubyte"))
    assert len(ds) == 2 and ds.labels is None


@needs_fifo
@pytest.mark.timeout(30)
def test_special_members_of_a_tar_are_skipped(tmp_path):
    root = tmp_path / "src"
    _png(root / "a.png")
    os.mkfifo(root / "pipe.png")
    os.symlink("a.png", root / "link.png")
    path = tmp_path / "pics.tar"
    with tarfile.open(path, "w") as tf:
        for name in ("a.png", "pipe.png", "link.png"):
            tf.add(root / name, arcname=name)
    ds = load_dataset(f"{path}?size=28&{W1}")
    assert len(ds) == 1
    assert dict(ds.info.extra["skipped_examples"]) == {
        "link.png": "a symbolic link in the archive",
        "pipe.png": "a FIFO (named pipe) in the archive",
    }


# ---------------------------------------------------------------------------------------------
# Archives: bombs, lying headers, duplicate names


def test_a_member_that_decompresses_past_the_limit_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(guards, "MAX_MEMBER_BYTES", 100_000)
    zpath, tpath = tmp_path / "pics.zip", tmp_path / "pics.tgz"
    zeros = b"\0" * 1_000_000  # compresses to about 1 kB
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", _png_bytes((255, 0, 0)))
        zf.writestr("bomb.png", zeros)
    with tarfile.open(tpath, "w:gz") as tf:
        for name, data in (("a.png", _png_bytes((255, 0, 0))), ("bomb.png", zeros)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    for path in (zpath, tpath):
        ds = load_dataset(f"{path}?size=28&{W1}")
        assert len(ds) == 1
        assert ds.info.extra["skipped_examples"] == [
            ["bomb.png", "too large (decompresses to more than 100.0 kB)"]
        ]


def _lying_zip(real_size: int, declared: int) -> bytes:
    """A zip of one member of ``real_size`` zero bytes whose headers say ``declared``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", _png_bytes((0, 255, 0)))
        zf.writestr("big.png", b"\0" * real_size)
    raw = bytearray(buf.getvalue())
    local = raw.find(b"PK\x03\x04", 1)  # the second member's local header
    struct.pack_into("<I", raw, local + 22, declared)
    central = raw.find(b"PK\x01\x02")
    central = raw.find(b"PK\x01\x02", central + 1)
    struct.pack_into("<I", raw, central + 24, declared)
    return bytes(raw)


def test_a_zip_header_that_understates_a_member_is_not_believed(tmp_path):
    path = tmp_path / "lies.zip"
    path.write_bytes(_lying_zip(64_000_000, 1000))  # 64 MB of zeros, said to be 1 kB
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        ds = load_dataset(f"{path}?size=28&mode=rgb&{W1}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ds) == 1 and ds.info.extra["skipped"] == 1
    assert ds.info.extra["skipped_examples"][0][0] == "big.png"
    assert "unreadable in the archive" in ds.info.extra["skipped_examples"][0][1]
    assert peak < 16_000_000  # read in pieces: never the 64 MB the member really holds


def test_read_bounded_stops_at_its_limit():
    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            b[:] = b"\0" * len(b)
            return len(b)

    with pytest.raises(guards.TooLarge, match="more than 10.0 MB"):
        guards.read_bounded(Endless(), 10_000_000)
    assert guards.read_bounded(io.BytesIO(b"abc"), 3) == b"abc"
    with pytest.raises(ValueError, match="x is truncated: it should hold 5 bytes, found 3"):
        guards.read_exactly(io.BytesIO(b"abc"), 5, "x")


def test_archives_that_decompress_past_their_budget_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(guards, "ARCHIVE_MIN_BUDGET", 200_000)
    zeros = b"\0" * 150_000
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(3):  # 450 kB of pictures from a zip of about 1 kB
            zf.writestr(f"{k}.png", zeros)
    with pytest.raises(DatasetError, match=r"bomb.zip: its members decompress to more than 200"):
        load_dataset(f"{zpath}?{W1}")
    # a compressed tar is decompressed just to list it: its other members count too
    tpath = tmp_path / "bomb.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        for name, data in (("a.png", _png_bytes((1, 2, 3))), ("video.bin", zeros * 2)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match=r"bomb.tar.gz: its members decompress to more than"):
        load_dataset(f"{tpath}?{W1}")


def test_an_archive_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(guards, "MAX_ARCHIVE_MEMBERS", 5)
    for path in (tmp_path / "many.zip", tmp_path / "many.tar"):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path, "w") as zf:
                for k in range(6):
                    zf.writestr(f"{k}.png", _png_bytes((k, 0, 0)))
        else:
            with tarfile.open(path, "w") as tf:
                for k in range(6):
                    data = _png_bytes((k, 0, 0))
                    info = tarfile.TarInfo(f"{k}.png")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        with pytest.raises(
            DatasetError, match=rf"{path.name}: the archive holds more than 5 members"
        ):
            load_dataset(f"{path}?{W1}")


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_members_with_the_same_name_are_each_read_once(tmp_path, kind):
    red, blue = _png_bytes((255, 0, 0)), _png_bytes((0, 0, 255))
    path = tmp_path / f"dup.{kind}"
    if kind == "tar":
        with tarfile.open(path, "w") as tf:
            for data in (red, blue):
                info = tarfile.TarInfo("pics/a.png")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as zf:
            zf.writestr("pics/a.png", red)
            zf.writestr("pics/a.png", blue)
    ds = load_dataset(f"{path}?size=28&mode=rgb&{W1}")
    assert len(ds) == 2 and ds.info.extra["skipped"] == 0
    means = sorted(tuple(ds.data[i].float().mean(dim=(1, 2)).round().tolist()) for i in range(2))
    assert means == [(0.0, 0.0, 255.0), (255.0, 0.0, 0.0)]  # no all-black picture


def test_a_picture_never_delivered_is_skipped_not_black(tmp_path, monkeypatch):
    # Whatever a source does, a picture it does not deliver is counted as skipped.
    from ganstudio.core.data import sources

    root = tmp_path / "pics"
    _png(root / "a.png")
    _png(root / "b.png")
    real = sources.PictureSource.read

    def lossy(self, indices=None):
        return ((i, src) for i, src in real(self, indices) if indices is not None or i == 0)

    monkeypatch.setattr(sources.PictureSource, "read", lossy)
    ds = load_dataset(f"{root}?{W1}")
    assert len(ds) == 1 and ds.info.extra["skipped_examples"] == [["b.png", "not read"]]


# ---------------------------------------------------------------------------------------------
# Arrays: headers that declare too much, objects, labels


def _npy_header(shape, descr="|u1", version=1) -> bytes:
    """A .npy header as NumPy writes it, declaring whatever it is given."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    prefix = 8 + (2 if version == 1 else 4)
    body = (text + " " * (-(prefix + len(text) + 1) % 64) + "\n").encode()
    length = struct.pack("<H" if version == 1 else "<I", len(body))
    return b"\x93NUMPY" + bytes([version, 0]) + length + body


def _npz(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("version", [1, 2])
def test_a_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path, version):
    huge = _npy_header((10**12,), version=version) + b"\0" * 100
    _npz(tmp_path / "huge.npz", {"images.npy": huge})
    with pytest.raises(DatasetError) as err:
        load_dataset(str(tmp_path / "huge.npz"))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'huge.npz'}: the array 'images' of shape")
    assert "(1000000000000,) uint8 (declared in its header) would take 2.0 TB of memory" in message
    assert "a dataset may use on this machine" in message
    (tmp_path / "huge.npy").write_bytes(huge)
    with pytest.raises(DatasetError, match=r"huge.npy: its array of shape .* would take 2.0 TB"):
        load_dataset(str(tmp_path / "huge.npy"))
    # labels are checked the same way
    good = io.BytesIO()
    np.save(good, np.zeros((2, 28, 28), np.uint8))
    _npz(tmp_path / "l.npz", {"images.npy": good.getvalue(), "labels.npy": huge})
    with pytest.raises(DatasetError, match=r"l.npz: the array 'labels' of shape"):
        load_dataset(str(tmp_path / "l.npz"))


def test_idx_dimensions_past_memory_are_refused(tmp_path):
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (2**32 - 1,) * 3)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + b"\0" * 100)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: the idx array of shape"):
        load_dataset(str(tmp_path / "train-images-idx3-ubyte"))


def test_truncated_and_malformed_arrays_are_clear_errors(tmp_path):
    _npz(tmp_path / "short.npz", {"images.npy": _npy_header((4, 28, 28)) + b"\0" * 100})
    with pytest.raises(DatasetError, match=r"short.npz\[images\] is truncated: its header"):
        load_dataset(str(tmp_path / "short.npz"))
    (tmp_path / "short.npy").write_bytes(_npy_header((4, 28, 28)) + b"\0" * 100)
    with pytest.raises(DatasetError, match=r"short.npy is truncated: its header declares 3,136"):
        load_dataset(str(tmp_path / "short.npy"))
    (tmp_path / "neg.npy").write_bytes(_npy_header((-4, 28, 28)))
    with pytest.raises(DatasetError, match=r"neg.npy declares the impossible shape"):
        load_dataset(str(tmp_path / "neg.npy"))
    (tmp_path / "flat.npy").write_bytes(_npy_header((4, 0, 28)))
    with pytest.raises(DatasetError, match=r"flat.npy has shape \(4, 0, 28\)"):
        load_dataset(str(tmp_path / "flat.npy"))
    (tmp_path / "text.npy").write_bytes(b"hello")
    with pytest.raises(DatasetError, match=r"text.npy is not a NumPy array"):
        load_dataset(str(tmp_path / "text.npy"))
    _npz(tmp_path / "raw.npz", {"images": b"not an array at all"})
    with pytest.raises(DatasetError, match=r"raw.npz\[images\] is not a NumPy array"):
        load_dataset(str(tmp_path / "raw.npz"))
    np.save(tmp_path / "words.npy", np.array([["a", "b"]] * 3)[..., None])
    with pytest.raises(DatasetError, match=r"words.npy holds values of type <U1, not plain"):
        load_dataset(str(tmp_path / "words.npy"))


def test_members_that_are_not_arrays_are_passed_over(tmp_path):
    images = io.BytesIO()
    np.save(images, np.full((3, 28, 28), 7, np.uint8))
    _npz(tmp_path / "mixed.npz", {"notes.txt": b"x" * 1000, "pixels.npy": images.getvalue()})
    ds = load_dataset(str(tmp_path / "mixed.npz"))
    assert len(ds) == 3 and ds.info.extra["source"].startswith("NumPy")


class Payload:
    """Unpickling this creates the marker file: what a crafted object array carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_object_arrays_are_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    payload = np.empty((2, 2, 2), dtype=object)
    payload[...] = Payload(marker)
    np.savez(tmp_path / "evil.npz", images=payload)
    np.save(tmp_path / "evil.npy", payload, allow_pickle=True)
    images = io.BytesIO()
    np.save(images, np.zeros((2, 28, 28), np.uint8))
    labels = io.BytesIO()
    np.save(labels, np.array([Payload(marker), 1], dtype=object), allow_pickle=True)
    _npz(tmp_path / "evil-labels.npz", {"x.npy": images.getvalue(), "y.npy": labels.getvalue()})
    for name, key in (("evil.npz", "[images]"), ("evil.npy", ""), ("evil-labels.npz", "[y]")):
        with pytest.raises(DatasetError, match=re.escape(f"{name}{key} holds Python objects (")):
            load_dataset(str(tmp_path / name))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("labels", "note"),
    [
        (np.array([0, 1, 10**10]), "holds 10,000,000,000, and a dataset has at most 100,000"),
        (np.array([0, -3, 1]), "holds -3; labels are classes from 0 on"),
        (np.array([0, 1, 2**64 - 1], np.uint64), "holds 18,446,744,073,709,551,615"),
    ],
)
def test_labels_that_are_not_class_numbers_are_ignored(tmp_path, labels, note):
    np.savez(tmp_path / "l.npz", images=np.zeros((3, 28, 28), np.uint8), labels=labels)
    ds = load_dataset(str(tmp_path / "l.npz"))
    assert len(ds) == 3 and ds.labels is None and ds.info.class_names == ()
    (said,) = ds.info.extra["notes"]
    assert said.startswith(f"labels ignored: l.npz[labels] {note}")


def test_a_prepared_dataset_past_memory_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "pics"
    for k in range(3):
        _png(root / f"{k}.png")
    monkeypatch.setattr(guards, "memory_budget", lambda: 5000)
    with pytest.raises(DatasetError, match=r"pics: 3 images prepared at 64x64 rgb would take 36.9"):
        load_dataset(f"{root}?size=64&mode=rgb&{W1}")


def test_bytes_waiting_to_be_decoded_are_bounded(monkeypatch):
    monkeypatch.setattr(prepare_mod, "CHUNK_BYTES", 15)
    events = []

    def items():
        for k in range(3):
            events.append(f"read {k}")
            yield k, b"x" * 10

    prepare_mod.run_parallel(lambda i, item: events.append(f"decode {i}"), items(), 3, 1)
    assert events == ["read 0", "read 1", "decode 0", "decode 1", "read 2", "decode 2"]


# ---------------------------------------------------------------------------------------------
# Options and the 2-D preview


@pytest.mark.parametrize(
    "spec",
    [
        "builtin:ring8?n=1000000000000000000000000000000",
        "builtin:grid25?n=-1",
        "builtin:moons?n=1e9",
        "builtin:spiral?n=" + "9" * 5000,
        "builtin:digits?n=100000000000",
        "builtin:shapes?n=10000000&size=64",
    ],
)
def test_huge_counts_are_refused(spec):
    with pytest.raises(DatasetError, match="n must be"):
        load_dataset(spec)


@pytest.mark.parametrize("name", ["ring8", "moons"])
def test_inspecting_2d_data_draws_a_scatter_plot(tmp_path, capsys, name):
    out = tmp_path / "p.png"
    assert main(["data", "inspect", f"builtin:{name}?n=2000", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "points:   2,000, each 2-D" in text
    assert ("mixture:  8 Gaussian modes, sigma 0.01" in text) == (name == "ring8")
    with Image.open(out) as im:
        assert im.size == (512, 512) and im.mode == "RGB"
        pixels = np.asarray(im)
    assert (pixels != 255).any()  # points were drawn


def test_points_that_are_not_finite_are_refused_with_their_count():
    import torch

    from ganstudio.core.data.dataset import Dataset, DatasetError, DatasetInfo

    points = torch.zeros(10, 2)
    points[3, 0], points[7, 1] = float("nan"), float("inf")
    with pytest.raises(DatasetError, match="test:bad: 2 of 10 points are not finite numbers"):
        Dataset(points, DatasetInfo("test:bad", "points", 10, (2,)))
