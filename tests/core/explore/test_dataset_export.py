"""A synthetic dataset drawn from a model: the folder layout, the manifest, the round trip
through the folder loader, refusals before anything is written, and a stopped export."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.core.data import load_dataset
from ganstudio.core.explore import dataset_export as de
from ganstudio.core.explore.exports import read_provenance, render_provenance
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.models import ModelSpec, build


def tiny_generator(classes=0, names=None, channels=1):
    torch.manual_seed(0)
    kwargs = {"latent_dim": 8, "image_size": 28, "channels": channels, "base": 4}
    if classes:
        kwargs["classes"] = classes
    spec = ModelSpec("dcgan_g", kwargs)
    module = build(spec).eval().requires_grad_(False)
    meta = {"content_hash": "0123456789abcdef", "step": 3}
    if names is not None:
        meta["class_names"] = list(names)
    return GeneratorFile(module, spec, meta)


def pictures(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


def test_an_unconditional_model_writes_one_folder_that_loads_back(tmp_path):
    gen = tiny_generator()
    out = tmp_path / "synthetic"
    plan = de.plan_export(gen, out, n=7, seed=10, truncation=0.7)
    assert plan.total == 7 and plan.class_names == () and plan.disk_bytes > 7 * 28 * 28
    result = de.export_dataset(gen, plan)
    assert result.complete and result.written == 7
    assert pictures(out) == [f"{i:05d}.png" for i in range(7)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == de.read_manifest(out)
    assert manifest["count"] == 7 and manifest["complete"] is True
    first = manifest["pictures"][0]
    assert first == {
        "file": "00000.png",
        "seed": 10,
        "class": None,
        "truncation": 0.7,
        "model_hash": "0123456789abcdef",
    }
    assert [p["seed"] for p in manifest["pictures"]] == list(range(10, 17))
    # Each picture is a sample export: its provenance renders it again.
    prov = read_provenance(out / "00003.png")
    assert prov["kind"] == "sample" and prov["seeds"] == [13] and prov["truncation"] == 0.7
    with Image.open(out / "00003.png") as im:
        saved = np.asarray(im.convert("RGB"))
    again = render_provenance(gen, prov)
    assert np.abs(again.astype(int) - saved.astype(int)).max() <= 1
    # The folder loads as a dataset of the same pictures, without classes; the manifest
    # is not a picture.
    data = load_dataset(f"{out}?cache=0")
    assert data.info.count == 7 and data.info.class_names == ()
    assert data.info.sample_shape == (1, 28, 28)


def test_a_model_with_classes_writes_a_folder_per_class(tmp_path):
    names = ("zebra", "ant", "cat/dog")
    gen = tiny_generator(classes=3, names=names, channels=3)
    out = tmp_path / "labelled"
    result = de.export_dataset(gen, de.plan_export(gen, out, per_class=4, seed=0))
    assert result.written == 12
    assert sorted({p.split("/")[0] for p in pictures(out)}) == ["ant", "cat_dog", "zebra"]
    manifest = result.manifest
    assert manifest["class_names"] == list(names)
    assert manifest["class_folders"] == ["zebra", "ant", "cat_dog"]
    counts = {n: sum(p["class"] == n for p in manifest["pictures"]) for n in names}
    assert counts == {"zebra": 4, "ant": 4, "cat/dog": 4}
    seeds = [p["seed"] for p in manifest["pictures"]]
    assert sorted(seeds) == list(range(12))  # every picture its own seed
    prov = read_provenance(out / "ant" / "00001.png")
    assert prov["classes"] == [1] and prov["seeds"] == [5]
    data = load_dataset(f"{out}?cache=0")
    assert data.info.count == 12
    assert set(data.info.class_names) == {"zebra", "ant", "cat_dog"}
    assert np.bincount(data.labels.numpy()).tolist() == [4, 4, 4]
    # --n shares the pictures as evenly as can be: the first classes get one more.
    assert de.split_counts(3, 8, None) == (3, 3, 2)


def test_the_pictures_of_a_class_differ_from_another_class(tmp_path):
    gen = tiny_generator(classes=2, names=("a", "b"), channels=3)
    for k in range(2):
        with torch.no_grad():
            gen.module.embed.weight[k] = 3.0 * (1 if k else -1)
    out = tmp_path / "two"
    de.export_dataset(gen, de.plan_export(gen, out, per_class=1, seed=0))
    a = np.asarray(Image.open(out / "a" / "00000.png"))
    b = np.asarray(Image.open(out / "b" / "00000.png"))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": None}, "give the number of pictures"),
        ({"n": de.MAX_PICTURES + 1}, "1 to 100,000 pictures"),
        ({"n": 3, "per_class": 1}, "--per-class needs a model with classes"),
        ({"n": 3, "truncation": 0.0}, "--truncation must be in (0, 1]"),
        ({"n": 3, "seed": 2**63 - 2}, "seeds past"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    out = tmp_path / "never"
    with pytest.raises(
        de.DatasetExportError, match=message.replace("(", r"\(").replace("]", r"\]")
    ):
        de.plan_export(tiny_generator(), out, **kwargs)
    assert not out.exists()


def test_classes_that_disagree_or_share_a_folder_are_refused(tmp_path):
    gen = tiny_generator(classes=2, names=("a", "b"))
    with pytest.raises(de.DatasetExportError, match="disagree"):
        de.plan_export(gen, tmp_path / "x", n=5, per_class=2)
    with pytest.raises(de.DatasetExportError, match="share the folder"):
        de.folder_names(("a/b", "a_b"))


def test_a_points_model_is_refused(tmp_path):
    spec = ModelSpec("mlp_g", {"latent_dim": 2})
    gen = GeneratorFile(build(spec).eval(), spec, {"content_hash": "x"})
    with pytest.raises(de.DatasetExportError, match="2-D points"):
        de.plan_export(gen, tmp_path / "x", n=3)


def test_a_folder_that_is_not_empty_needs_overwrite(tmp_path):
    gen = tiny_generator()
    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(de.DatasetExportError, match="not empty.*--overwrite"):
        de.plan_export(gen, out, n=3)
    (out / "notes.txt").unlink()
    de.export_dataset(gen, de.plan_export(gen, out, n=5))
    assert len(pictures(out)) == 5
    (out / "notes.txt").write_text("mine")
    # An earlier export is replaced, the user's other files stay.
    de.export_dataset(gen, de.plan_export(gen, out, n=2, overwrite=True))
    assert pictures(out) == ["00000.png", "00001.png"]
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(de.DatasetExportError, match="is a file"):
        de.plan_export(gen, out / "notes.txt", n=1)


def test_not_enough_disk_is_refused(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**6, 10**6 - 5000, 5000))
    with pytest.raises(de.DatasetExportError, match="only 5.0 kB is free"):
        de.plan_export(tiny_generator(), tmp_path / "x", n=100)


def test_a_stopped_export_leaves_a_manifest_of_what_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(de, "BATCH", 2)
    gen = tiny_generator()
    out = tmp_path / "stopped"
    plan = de.plan_export(gen, out, n=9)

    class Stop(Exception):
        pass

    def progress(done, total):
        if done >= 4:
            raise Stop

    with pytest.raises(Stop):
        de.export_dataset(gen, plan, progress)
    manifest = de.read_manifest(out)
    assert manifest["complete"] is False and manifest["requested"] == 9
    assert (
        [p["file"] for p in manifest["pictures"]]
        == pictures(out)
        == [f"{i:05d}.png" for i in range(4)]
    )
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files
    assert load_dataset(f"{out}?cache=0").info.count == 4
