"""Hostile exports and vector files: each is one error naming the file and the field, read
without inflating what it claims, and nothing is rendered past the memory limit."""

import io
import json
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from _tiny import run_cli
from PIL import Image

from ganstudio.core.explore import exports, provenance
from ganstudio.core.explore.exports import (
    ExportError,
    check_provenance,
    grid_provenance,
    interpolation_provenance,
    load_vectors,
    read_provenance,
    render_frames,
    render_grid,
    render_provenance,
    save_grid,
    save_vectors,
    write_export,
)
from ganstudio.core.explore.latent import seed_vectors
from ganstudio.core.modelfile import load_generator, save_generator
from ganstudio.core.models import ModelSpec, build

LATENT = 8
SIZE = 28


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small untrained DCGAN model file (no training needed to test file handling)."""
    spec = ModelSpec(
        "dcgan_g", {"latent_dim": LATENT, "image_size": SIZE, "channels": 1, "base": 2}
    )
    state = {k: v.numpy() for k, v in build(spec).state_dict().items() if v.is_floating_point()}
    path = tmp_path_factory.mktemp("model") / "g.safetensors"
    save_generator(path, spec, state, {"step": 0, "dataset": {"kind": "images"}})
    return path


@pytest.fixture(scope="module")
def gen(model):
    return load_generator(model)


def grid(gen, **changes):
    return grid_provenance(gen, 2, 2, seeds=[0, 1, 2, 3]) | changes


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    """A small real PNG with one more chunk (kind, body) before its end."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    png = buf.getvalue()
    end = png.rindex(b"IEND") - 4
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return png[:end] + chunk + png[end:]


def compressed_text(prefix: bytes, megabytes: int) -> bytes:
    """zlib data that inflates to ``prefix`` and then ``megabytes`` MiB of "a"."""
    packer = zlib.compressobj(9)
    block = b"a" * 2**20
    parts = [packer.compress(prefix)] + [packer.compress(block) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


@pytest.fixture(scope="module")
def bomb():
    """About 250 KB that inflate to 256 MiB of provenance text."""
    return compressed_text(b'{"app": "ganstudio", "padding": "', 256)


# ----------------------------------------------------------------------------------------
# Unbounded work


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_a_decompression_bomb_in_a_png_is_refused_without_inflating_it(tmp_path, bomb, kind):
    key = provenance.PROVENANCE_KEY.encode() + b"\0"
    head = b"\0" if kind == "zTXt" else b"\1\0" + b"\0\0"  # iTXt: compressed, method, lang, ...
    path = tmp_path / f"bomb-{kind}.png"
    path.write_bytes(png_with_chunk(kind.encode(), key + head + bomb))
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ExportError, match="more than 32 MiB of text") as err:
            read_provenance(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MiB taken to refuse it"


def test_a_huge_plain_text_chunk_is_refused_unread(tmp_path):
    path = tmp_path / "big.png"
    key = provenance.PROVENANCE_KEY.encode() + b"\0"
    path.write_bytes(png_with_chunk(b"tEXt", key + b"a" * (33 * 2**20)))
    with pytest.raises(ExportError, match="more than 32 MiB"):
        read_provenance(path)


def test_other_text_chunks_and_pixels_are_skipped(tmp_path, gen):
    """A PNG whose other chunks are large still gives its provenance: they are not read."""
    path = tmp_path / "ok.png"
    save_grid(path, np.zeros((8, 8, 3), np.uint8), grid(gen))
    data = path.read_bytes()
    end = data.rindex(b"IEND") - 4
    other = png_with_chunk(b"zTXt", b"Comment\0\0" + compressed_text(b"", 64))
    other_chunk = other[other.index(b"zTXt") - 4 : other.rindex(b"IEND") - 4]
    path.write_bytes(data[:33] + other_chunk + data[33:end] + data[end:])
    assert read_provenance(path) == grid(gen)


def test_sidecars_asking_for_too_much_are_refused(tmp_path, gen):
    walk = interpolation_provenance(gen, seeds=[1, 2], steps=4)
    cases = {
        "steps": (walk | {"steps": 500_000}, "steps must be a whole number from 1 to 10,000"),
        "frames": (
            walk | {"steps": 9_000, "keyframes": {"seeds": [1, 2, 3]}},
            "18,001 frames",
        ),
        "keyframes": (walk | {"keyframes": {"seeds": list(range(1001))}}, "1,001 keyframes"),
        "fps": (walk | {"fps": 1e9}, "fps must be"),
        "upscale": (walk | {"upscale": 64}, "upscale must be a whole number from 1 to 16"),
        "rows": (grid(gen, rows=4096), "rows must be a whole number from 1 to 64"),
        "padding": (grid(gen, padding=4096), "padding must be"),
        "seed": (grid(gen, seeds=[2**70]), "seeds must be whole numbers from 0 to 2**63 - 1"),
        "latent_dim": (grid(gen, latent_dim=10**9), "latent_dim must be"),
        "background": (grid(gen, background=["#000000"]), "background"),
        "kind": (grid(gen, kind=["grid"]), "unknown export kind"),
    }
    for name, (prov, message) in cases.items():
        path = tmp_path / f"{name}.gif.json"
        path.write_text(json.dumps(prov))
        with pytest.raises(ExportError) as err:
            read_provenance(path)
        assert str(path) in str(err.value) and message in str(err.value), (name, err.value)


def test_an_export_needing_too_much_memory_is_refused_before_rendering(tmp_path, gen):
    big = grid_provenance(
        gen, 64, 64, seeds=range(4096), padding=64, upscale=16, background=(0, 0, 0)
    )
    assert check_provenance(big) is big  # every option within its range ...
    with pytest.raises(
        ExportError,
        match=r"32,832 x 32,832 px would need about 8\.2 GB of memory, more than the 2\.0 GB",
    ):
        render_provenance(gen, big)  # ... but not all at once
    out = tmp_path / "big.png"
    with pytest.raises(ExportError, match="big.png: a picture of 32,832 x 32,832 px"):
        write_export(out, gen, big)
    assert not out.exists()
    z = seed_vectors(0, 2, LATENT)
    with pytest.raises(ExportError, match="fewer rows or columns"):
        render_grid(gen, z, 64, 64, padding=64, upscale=16)
    many = seed_vectors(0, 10_000, LATENT)
    with pytest.raises(ExportError, match="10,000 frames of 448 x 448 px"):
        render_frames(gen, many, upscale=16)
    walk = interpolation_provenance(gen, seeds=[1, 2], steps=9_999, upscale=16)
    with pytest.raises(ExportError, match="walk.gif: 10,000 frames"):
        write_export(tmp_path / "walk.gif", gen, walk)


def test_export_reproduce_refuses_a_sidecar_asking_for_too_much(tmp_path, model, gen, capsys):
    sidecar = tmp_path / "walk.gif.json"
    sidecar.write_text(json.dumps(interpolation_provenance(gen, seeds=[1, 2]) | {"steps": 500_000}))
    assert run_cli("export", "reproduce", sidecar, "--model", model, "-o", tmp_path / "o.gif") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(sidecar) in err and "steps" in err
    assert "Traceback" not in err
    big = grid_provenance(gen, 64, 64, seeds=range(4096), padding=64, upscale=16)
    sidecar.write_text(json.dumps(big))
    assert run_cli("export", "reproduce", sidecar, "--model", model, "-o", tmp_path / "o.png") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "GB of memory" in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_export_grid_at_its_largest_options_is_refused(tmp_path, model, capsys):
    out = tmp_path / "grid.png"
    args = ("--grid", "64x64", "--upscale", "16", "--padding", "64", "-o", out)
    assert run_cli("export", "grid", model, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


def test_provenance_too_large_to_read_back_is_not_written(tmp_path, gen, monkeypatch):
    monkeypatch.setattr(exports, "MAX_TEXT_BYTES", 200)
    with pytest.raises(ExportError, match="export fewer stored vectors"):
        save_grid(tmp_path / "g.png", np.zeros((4, 4, 3), np.uint8), grid(gen))
    assert not (tmp_path / "g.png").exists()


# ----------------------------------------------------------------------------------------
# Deep nesting, wrong types and impossible numbers


def test_deeply_nested_json_is_an_error_everywhere_it_is_read(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    sidecar = tmp_path / "deep.gif.json"
    sidecar.write_text(deep)
    with pytest.raises(ExportError, match="deep.gif.json: the provenance is not valid JSON"):
        read_provenance(sidecar)
    vectors = tmp_path / "deep.json"
    vectors.write_text('{"vectors": ' + deep + "}")
    with pytest.raises(ExportError, match="deep.json: the file is not valid JSON"):
        load_vectors(vectors)
    png = tmp_path / "deep.png"
    key = provenance.PROVENANCE_KEY.encode() + b"\0"
    png.write_bytes(png_with_chunk(b"zTXt", key + b"\0" + zlib.compress(deep.encode())))
    with pytest.raises(ExportError, match="deep.png: the provenance is not valid JSON"):
        read_provenance(png)


def vector_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"vectors": [[0, 0]], "truncation": 5}', '"truncation" must be a number in (0, 1]'),
        ('{"vectors": [[0, 0]], "truncation": "abc"}', '"truncation" must be a number'),
        ('{"vectors": [[0, 0]], "seed": 1180591620717411303424}', '"seed" must be a whole'),
        ('{"vectors": [[0, 0]], "seed": -1}', '"seed" must be a whole'),
        ('{"vectors": [[0, 0]], "model_hash": []}', '"model_hash" must be text'),
        ('{"vectors": [[NaN, 0]]}', "finite numbers"),
        ('{"vectors": [[Infinity, 0]]}', "finite numbers"),
        ('{"vectors": [[1e308, 0]]}', "finite numbers"),
        ('{"vectors": [[1e6, 0]]}', "a latent value of 1e+06"),
        ('{"vectors": [[' + "9" * 400 + ", 0]]}", "finite numbers"),
        ('{"vectors": [[0, 0], [0]]}', "the same, non-zero length"),
        ('{"vectors": [[0, true]]}', "only numbers"),
        ('{"vectors": [[0, "1"]]}', "only numbers"),
        ('{"vectors": [[[0], [1]]]}', "only numbers"),
        ('{"vectors": []}', "non-empty list"),
        ('{"vectors": "0, 1"}', "non-empty list"),
        ('{"vectors": [[]]}', "non-zero length"),
        ("[[0, 1]]", 'a JSON object with "vectors"'),
        ('{"vectors": [[0, 1]]', "not valid JSON"),
        ('{"vectors": [' + ",".join(["[0]"] * 65_537) + "]}", "65,537 latent vectors"),
        ('{"vectors": [[' + ",".join(["0"] * 4097) + "]]}", "size 4,097"),
    ],
)
def test_bad_vector_files_name_the_file_and_the_field(tmp_path, text, message):
    path = vector_file(tmp_path, "z.json", text)
    with pytest.raises(ExportError) as err:
        load_vectors(path)
    assert str(path) in str(err.value) and message in str(err.value), err.value


def test_a_vector_file_too_large_to_read_is_refused_unread(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(40 * 2**20)  # sparse: takes no disk space
    with pytest.raises(ExportError, match="huge.json: 40 MiB is too large"):
        load_vectors(path)


def npy(path, header: dict, data: bytes = b"") -> None:
    text = repr(header).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data)


def test_bad_npy_files_are_refused_before_their_numbers_are_read(tmp_path):
    claims = tmp_path / "claims.npy"  # a header promising 2**40 x 100 floats, 8 bytes given
    npy(claims, {"descr": "<f4", "fortran_order": False, "shape": (2**40, 100)}, b"\0" * 8)
    with pytest.raises(ExportError, match="1,099,511,627,776 latent vectors"):
        load_vectors(claims)
    cases = {
        "wide": ({"descr": "<f4", "fortran_order": False, "shape": (1, 5000)}, "size 5,000"),
        "cube": ({"descr": "<f4", "fortran_order": False, "shape": (2, 2, 2)}, "(n, D)"),
        "ints": ({"descr": "<i8", "fortran_order": False, "shape": (1, 4)}, "floating point"),
        "objects": ({"descr": "|O", "fortran_order": False, "shape": (1,)}, "never unpickles"),
        "cut": ({"descr": "<f4", "fortran_order": False, "shape": (4, 4)}, "not a NumPy"),
    }
    for name, (header, message) in cases.items():
        path = tmp_path / f"{name}.npy"
        npy(path, header, b"\0" * 8)
        with pytest.raises(ExportError) as err:
            load_vectors(path)
        assert str(path) in str(err.value) and message in str(err.value), (name, err.value)
    bad = tmp_path / "nan.npy"
    np.save(bad, np.array([[0.0, np.nan]], np.float32))
    with pytest.raises(ExportError, match="nan.npy: latent vectors must be finite"):
        load_vectors(bad)
    with pytest.raises(ExportError, match="no NaN or infinity"):
        save_vectors(tmp_path / "inf.npy", np.array([[np.inf, 0.0]], np.float32))
    with pytest.raises(ExportError, match="at most 10000"):
        save_vectors(tmp_path / "big.json", np.array([[3e38, 0.0]], np.float32))
