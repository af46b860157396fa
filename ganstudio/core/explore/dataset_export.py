"""A labelled synthetic dataset: N pictures drawn from a model, written as PNG files that a
`folder` dataset spec loads back (core.data.load), with a ``manifest.json`` beside them.

Layout of FOLDER:

- an unconditional model: ``FOLDER/00000.png``, ``00001.png``, ... (one folder, no classes);
- a model with classes (its description holds ``class_names``; its generator takes
  ``forward(z, y)``): one subfolder per class, ``FOLDER/<class>/00000.png``, ... The
  folder loader labels pictures by their first-level subfolder, so the classes and their
  counts come back as they were drawn.

Picture i is drawn from seed ``seed + i`` (core.explore.latent.seed_vector), truncated by
psi, and saved as a GAN Studio "sample" export: its PNG carries its own provenance
(core.explore.provenance) and reopens in the explorer. Every PNG is written atomically.

``manifest.json`` is written last, and also when the export is cancelled or fails: it then
lists exactly the pictures that were written (``"complete": false``), so a cancelled export
leaves a consistent folder that loads as a (smaller) dataset. It is JSON, not a picture,
so loading the folder ignores it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganstudio import __version__
from ganstudio.core.errors import UserError
from ganstudio.core.explore import latent, sampling
from ganstudio.core.explore.exports import NOT_FOR_POINTS, save_grid
from ganstudio.core.explore.provenance import MAX_SEED, check_memory, sample_provenance
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.render import make_grid, to_uint8

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_KIND = "dataset"
MANIFEST_VERSION = 1
MAX_PICTURES = 100_000  # pictures in one dataset export
# Disk a PNG may take at most: the raw RGB pixels (PNG seldom does worse than raw, and
# zlib's worst case adds 0.03 %), a few hundred bytes of provenance, and the file system's
# rounding up to a block.
PNG_OVERHEAD = 8_192
DISK_MARGIN = 1.1  # free disk needed beyond the estimate: leave room for everything else
BATCH = sampling.RENDER_BATCH  # pictures rendered per forward pass, at most
BATCH_BYTES = 64 * 2**20  # network output per forward pass, at most (large pictures: fewer)
# Memory a forward pass takes, in multiples of its output: the activations of the layers
# before it (a DCGAN's or FastGAN's are a few times the output), and the uint8 copies.
MEMORY_FACTOR = 8

# progress(done, total): may raise to stop the export (the window's Cancelled does)
ProgressFn = Callable[[int, int], None]


class DatasetExportError(UserError, ValueError):
    """A dataset cannot be exported as asked; the message names the folder or option."""


@dataclass(frozen=True)
class DatasetPlan:
    """What an export will write: ``counts[k]`` pictures of class k (one entry, class
    name None, for an unconditional model), with the disk and memory it needs."""

    folder: Path
    class_names: tuple[str, ...]  # () for an unconditional model
    counts: tuple[int, ...]
    seed: int
    truncation: float
    disk_bytes: int
    memory_bytes: int
    batch: int = BATCH  # pictures drawn per forward pass
    replaces: tuple[str, ...] = field(default=())  # files of an earlier export removed first

    @property
    def total(self) -> int:
        return sum(self.counts)

    def describe(self) -> str:
        """One line: how many pictures, in which classes, and what they need."""
        classes = (
            f" in {len(self.class_names)} class folders" if self.class_names else " (no classes)"
        )
        return (
            f"{self.total:,} pictures{classes}, seeds {self.seed} to "
            f"{self.seed + self.total - 1}, truncation {self.truncation:g}; up to "
            f"{_size(self.disk_bytes)} on disk, {_size(self.memory_bytes)} of memory"
        )


@dataclass(frozen=True)
class DatasetResult:
    """What was written: the manifest's path and content, and whether it is complete."""

    manifest_path: Path
    manifest: dict

    @property
    def written(self) -> int:
        return len(self.manifest["pictures"])

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


# ----------------------------------------------------------------------------------------
# Classes


def model_classes(gen: GeneratorFile) -> tuple[str, ...]:
    """The class names of a class-conditional model (one per class its generator takes:
    the description's ``class_names``, else numbers), or () for an unconditional one."""
    names = getattr(gen, "class_names", None)  # GeneratorFile.class_names (core.conditioning)
    if names is not None:
        return tuple(str(n) for n in names)
    count = int(getattr(gen.module, "classes", 0) or 0)
    given = gen.meta.get("class_names")
    if isinstance(given, list) and len(given) == count:
        return tuple(str(n) for n in given)
    return tuple(str(k) for k in range(count))


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def folder_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """A folder name for each class: the class name, with characters no file system takes
    replaced by ``_`` (and no leading dot, which the folder loader would skip)."""
    out = []
    for name in class_names:
        safe = _UNSAFE.sub("_", name).strip().lstrip(".") or "_"
        if safe in (".", ".."):
            safe = "_"
        out.append(safe[:100])
    seen: set[str] = set()
    for original, safe in zip(class_names, out, strict=True):
        if safe.lower() in seen:
            raise DatasetExportError(
                f"class {original!r} would share the folder {safe!r} with another class"
            )
        seen.add(safe.lower())
    return tuple(out)


def split_counts(classes: int, n: int | None, per_class: int | None) -> tuple[int, ...]:
    """Pictures per class: ``per_class`` each, or ``n`` shared as evenly as can be (the
    first classes get one more). ``classes`` = 0: one folder of ``n``."""
    if classes == 0:
        if per_class is not None:
            raise DatasetExportError(
                "--per-class needs a model with classes; this model is unconditional: give --n"
            )
        if n is None:
            raise DatasetExportError("give the number of pictures with --n N")
        counts: tuple[int, ...] = (n,)
    elif per_class is not None:
        if per_class < 1:
            raise DatasetExportError(f"--per-class must be 1 or more, not {per_class}")
        if n is not None and n != per_class * classes:
            raise DatasetExportError(
                f"--n {n} and --per-class {per_class} disagree: {classes} classes of "
                f"{per_class} are {per_class * classes} pictures (give one of the two)"
            )
        counts = (per_class,) * classes
    else:
        if n is None:
            raise DatasetExportError("give the number of pictures with --n N or --per-class K")
        base, extra = divmod(n, classes)
        counts = tuple(base + (k < extra) for k in range(classes))
    total = sum(counts)
    if not 1 <= total <= MAX_PICTURES:
        raise DatasetExportError(
            f"{total:,} pictures: a dataset export has 1 to {MAX_PICTURES:,} pictures"
        )
    return counts


# ----------------------------------------------------------------------------------------
# Planning: everything checked before a picture is drawn


def _is_empty_folder(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())


def _earlier_export(folder: Path) -> tuple[str, ...]:
    """The files an earlier dataset export in ``folder`` wrote (from its manifest)."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        pictures = manifest["pictures"] if manifest.get("kind") == MANIFEST_KIND else []
        files = [str(p["file"]) for p in pictures]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    return tuple(f for f in files if _inside(folder, f))


def _inside(folder: Path, rel: str) -> bool:
    """Whether ``rel`` names a file under ``folder`` (not an absolute path, no ``..``)."""
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and (folder / p).is_file()


def _free_disk(folder: Path) -> int | None:
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def plan_export(
    gen: GeneratorFile,
    folder: str | Path,
    *,
    n: int | None = None,
    per_class: int | None = None,
    truncation: float = 1.0,
    seed: int = 0,
    overwrite: bool = False,
) -> DatasetPlan:
    """Check an export before anything is written: the model makes pictures, the counts,
    seeds and truncation are valid, ``folder`` is new, empty, or (``overwrite``) may be
    written into, and the disk has room. DatasetExportError otherwise."""
    if not gen.is_image:
        raise DatasetExportError(f"datasets are pictures: {NOT_FOR_POINTS}")
    if not 0 < truncation <= 1:
        raise DatasetExportError(f"--truncation must be in (0, 1] (1 = off), not {truncation:g}")
    names = model_classes(gen)
    folder_names(names)  # two classes that would share a folder: refused now
    counts = split_counts(len(names), n, per_class)
    total = sum(counts)
    if not 0 <= seed <= MAX_SEED - total + 1:
        raise DatasetExportError(
            f"--seed {seed} with {total:,} pictures would use seeds past {MAX_SEED}: give a "
            f"--seed from 0 to {MAX_SEED - total + 1}"
        )
    out = Path(folder).expanduser()
    if out.exists() and not out.is_dir():
        raise DatasetExportError(f"{out}: is a file; give a folder for the dataset")
    replaces: tuple[str, ...] = ()
    if out.is_dir() and not _is_empty_folder(out):
        if not overwrite:
            raise DatasetExportError(
                f"{out}: the folder is not empty; choose a new or empty folder, or add "
                "--overwrite to write into it (the pictures of an earlier dataset export "
                "there are replaced)"
            )
        replaces = _earlier_export(out)
    c, h, w = gen.sample_shape
    disk = total * (h * w * 3 + PNG_OVERHEAD) + PNG_OVERHEAD
    per_picture = c * h * w * 4  # float32 output
    batch = max(1, min(BATCH, total, BATCH_BYTES // per_picture))
    memory = batch * per_picture * MEMORY_FACTOR
    what = f"drawing {batch} pictures of {w} x {h} px at a time"
    check_memory(memory, what, "the model's pictures are too large to draw", str(out))
    free = _free_disk(out)
    if free is not None and disk * DISK_MARGIN > free:
        raise DatasetExportError(
            f"{out}: {total:,} pictures of {w} x {h} px may need up to {_size(disk)}, but "
            f"only {_size(free)} is free there: export fewer pictures or choose another disk"
        )
    return DatasetPlan(
        out, names, counts, int(seed), float(truncation), disk, memory, batch, replaces
    )


# ----------------------------------------------------------------------------------------
# Writing


def _file_names(plan: DatasetPlan) -> list[tuple[str, int | None]]:
    """(relative file name, class index) of every picture, in drawing order: class by
    class, numbered from 0 within each class."""
    digits = max(5, len(str(max(plan.counts) - 1)))
    if not plan.class_names:
        return [(f"{i:0{digits}d}.png", None) for i in range(plan.counts[0])]
    folders = folder_names(plan.class_names)
    return [
        (f"{folders[k]}/{i:0{digits}d}.png", k)
        for k, count in enumerate(plan.counts)
        for i in range(count)
    ]


@torch.no_grad()
def _render(gen: GeneratorFile, z: np.ndarray, y: list[int | None]) -> np.ndarray:
    """uint8 (n, C, H, W) pictures for truncated latents z and class indices y."""
    module = gen.module
    device = next(module.parameters()).device
    zt = torch.from_numpy(z).to(device)
    if y[0] is None:
        out = module(zt)
    else:
        out = module(zt, torch.tensor(y, dtype=torch.long, device=device))
    return to_uint8(out.float().cpu())


def _manifest(gen: GeneratorFile, plan: DatasetPlan, pictures: list[dict], done: bool) -> dict:
    return {
        "app": "ganstudio",
        "app_version": __version__,
        "kind": MANIFEST_KIND,
        "manifest_version": MANIFEST_VERSION,
        "model_hash": str(gen.meta.get("content_hash", "")),
        "model_step": gen.meta.get("step"),
        "latent_dim": gen.latent_dim,
        "sample_shape": list(gen.sample_shape),
        "class_names": list(plan.class_names),
        "class_folders": list(folder_names(plan.class_names)),
        "truncation": plan.truncation,
        "first_seed": plan.seed,
        "requested": plan.total,
        "count": len(pictures),
        "complete": done,
        "pictures": pictures,
    }


def _write_manifest(folder: Path, manifest: dict) -> Path:
    path = folder / MANIFEST
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def _remove_earlier(plan: DatasetPlan) -> None:
    """Remove the pictures (and manifest) of an earlier export being replaced, and the
    class folders it leaves empty."""
    folders: set[Path] = set()
    for rel in plan.replaces:
        path = plan.folder / rel
        path.unlink(missing_ok=True)
        if path.parent != plan.folder:
            folders.add(path.parent)
    (plan.folder / MANIFEST).unlink(missing_ok=True)
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def export_dataset(
    gen: GeneratorFile, plan: DatasetPlan, progress: ProgressFn | None = None
) -> DatasetResult:
    """Draw and write the pictures of ``plan`` (see plan_export), then the manifest.

    ``progress(done, total)`` is called after each batch; an exception it raises (the
    window's cancel) stops the export: the manifest then lists the pictures written so far
    (``"complete": false``) and the exception goes on to the caller, as does any other
    failure (a full disk) after the manifest of what was written.
    """
    names = _file_names(plan)
    total = len(names)
    plan.folder.mkdir(parents=True, exist_ok=True)
    _remove_earlier(plan)
    pictures: list[dict] = []
    done = False
    try:
        if progress is not None:
            progress(0, total)
        for start in range(0, total, plan.batch):
            batch = names[start : start + plan.batch]
            seeds = [plan.seed + start + i for i in range(len(batch))]
            z = latent.truncate(
                np.stack([latent.seed_vector(s, gen.latent_dim) for s in seeds]), plan.truncation
            )
            images = _render(gen, z, [k for _name, k in batch])
            for (rel, k), s, image in zip(batch, seeds, images, strict=True):
                classes = None if k is None else [k]
                prov = sample_provenance(
                    gen, seeds=[s], truncation=plan.truncation, classes=classes
                )
                cls = None if k is None else plan.class_names[k]
                picture = make_grid(image[None], 1, 1, padding=0)
                save_grid(plan.folder / rel, picture, prov)
                pictures.append(
                    {
                        "file": rel,
                        "seed": s,
                        "class": cls,
                        "truncation": plan.truncation,
                        "model_hash": prov["model_hash"],
                    }
                )
            if progress is not None:
                progress(len(pictures), total)
        done = True
    finally:
        manifest = _manifest(gen, plan, pictures, done)
        path = _write_manifest(plan.folder, manifest)
        if not done:
            log.info(
                "%s: export stopped after %d of %d pictures", plan.folder, len(pictures), total
            )
    return DatasetResult(path, manifest)


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a dataset export folder (DatasetExportError if it has none)."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetExportError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DatasetExportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise DatasetExportError(f"{path}: not a GAN Studio dataset manifest")
    return manifest
