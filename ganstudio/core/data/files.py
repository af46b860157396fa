"""Datasets from the user's own files: `load_path` turns a path and options into a Dataset.

Pictures (a folder or a zip / tar archive) are decoded in parallel and prepared to one size
and mode; array files (idx, CIFAR, .npy / .npz) are converted and resized as needed. The
result is cached (see cache.py). Bad pictures are skipped and reported in
``DatasetInfo.extra``; a source with nothing usable raises one DatasetError naming it.
The dataset path must be a folder or a regular file, and a prepared dataset that would not
fit in memory is refused before it is allocated (see guards.py for every bound).
"""

from __future__ import annotations

import logging
import stat
import tarfile
import time
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganstudio.core.data import arrays, guards, prepare
from ganstudio.core.data.cache import DatasetCache, digest
from ganstudio.core.data.dataset import IMAGES, Dataset, DatasetError, DatasetInfo
from ganstudio.core.data.prepare import PrepSettings, ProgressFn, SkipPicture
from ganstudio.core.data.sources import (
    SEARCHED,
    PictureSource,
    is_archive,
    is_picture_name,
    scan_archive,
    scan_folder,
)

log = logging.getLogger(__name__)

OPTIONS = ("size", "mode", "resize", "background", "cache", "workers")
PROBE_SAMPLES = 48  # pictures opened to choose the default size and mode
SKIP_EXAMPLES = 10  # skipped files named in the report
HISTOGRAM_ROWS = 6


def _parse_options(path: str, options: dict[str, str]) -> dict:
    """Validate the spec's options; unset ones stay None (chosen from the source)."""
    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        raise DatasetError(
            f"{path}: unknown option {', '.join(map(repr, unknown))}; "
            f"options are: {', '.join(OPTIONS)}"
        )
    try:
        out: dict = {
            "size": prepare.parse_size(options["size"]) if options.get("size") else None,
            "mode": None,
            "resize": options.get("resize") or "center-crop",
            "background": prepare.parse_background(options.get("background") or "ffffff"),
        }
        mode = (options.get("mode") or "").lower() or None
        if mode in ("grey", "l", "gray"):
            mode = "gray"
        if mode not in (None, *prepare.MODES):
            raise ValueError(f"mode must be gray or rgb, got {options['mode']!r}")
        out["mode"] = mode
        if out["resize"] not in prepare.RESIZES:
            raise ValueError(
                f"resize must be one of {', '.join(prepare.RESIZES)}, got {out['resize']!r}"
            )
        cache = options.get("cache", "1").strip().lower()
        if cache not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
            raise ValueError(f"cache must be 0 or 1, got {options['cache']!r}")
        workers = int(options.get("workers") or prepare.default_workers())
        if workers < 1:
            raise ValueError("workers must be at least 1")
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    return {**out, "cache": cache in ("1", "true", "yes", "on"), "workers": workers}


def _stat(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def _histogram(counter: Counter) -> list[list]:
    rows = [[k, n] for k, n in counter.most_common(HISTOGRAM_ROWS)]
    rest = sum(counter.values()) - sum(n for _, n in rows)
    return rows + ([["other", rest]] if rest else [])


def _finish_settings(opts: dict, size: int, mode: str) -> PrepSettings:
    return PrepSettings(
        opts["size"] or size, opts["mode"] or mode, opts["resize"], opts["background"]
    )


def _no_pictures_error(path: Path, source: PictureSource) -> DatasetError:
    hint = ""
    if path.is_dir():
        found = sorted(
            p.name
            for p in path.iterdir()
            if p.is_file() and (arrays.find_array_files(p) or is_archive(p))
        )
        if found:
            hint = f"; it holds {', '.join(found[:3])}: pass that file instead"
    return DatasetError(f"no images found in {path} (searched {SEARCHED}){hint}")


# ---------------------------------------------------------------------------------------------
# Pictures


def _probe(source: PictureSource, largest: int) -> tuple[int, str]:
    """Default size and mode from a sample of the pictures."""
    n = len(source.entries)
    k = min(n, PROBE_SAMPLES)
    picks = sorted({round(i * (n - 1) / max(1, k - 1)) for i in range(k)})
    sides, colour = [], False
    for _, src in source.read(picks):
        if isinstance(src, SkipPicture):
            continue
        try:
            w, h, colourful = prepare.probe_picture(src)
        except SkipPicture:
            continue
        sides.append(min(w, h))
        colour = colour or colourful
    return prepare.pick_size(sides, largest), "rgb" if colour else "gray"


def _prepare_pictures(
    source: PictureSource, opts: dict, progress: ProgressFn | None
) -> tuple[np.ndarray, np.ndarray | None, dict]:
    with warnings.catch_warnings():
        # A picture over Pillow's pixel limit is skipped like any other bad file.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode_all(source, opts, progress)


def _decode_all(
    source: PictureSource, opts: dict, progress: ProgressFn | None
) -> tuple[np.ndarray, np.ndarray | None, dict]:
    n = len(source.entries)
    size, mode = (
        (0, "") if opts["size"] and opts["mode"] else _probe(source, opts["largest_auto_size"])
    )
    s = _finish_settings(opts, size, mode)
    _check_prepared(n, s, source.path)
    out = np.zeros((n, s.size, s.size, s.channels), dtype=np.uint8)
    described: list[str | None] = [None] * n
    # Until a picture is decoded it counts as skipped: none can stay an all-black image.
    reasons: list[str | None] = ["not read"] * n

    def task(i: int, src: object) -> None:
        if isinstance(src, SkipPicture):
            reasons[i] = str(src)
            return
        try:
            pixels, described[i] = prepare.decode_picture(src, s)  # type: ignore[arg-type]
            out[i] = pixels.reshape(s.size, s.size, s.channels)
            reasons[i] = None
        except SkipPicture as exc:
            reasons[i] = str(exc)
        except OSError as exc:  # the file vanished or cannot be opened
            reasons[i] = f"unreadable ({exc.strerror or exc})"

    workers = min(opts["workers"], max(1, n // 64))
    prepare.run_parallel(task, source.read(), n, workers, progress)

    keep = [i for i in range(n) if reasons[i] is None]
    bad = [(source.entries[i].name, reasons[i]) for i in range(n) if reasons[i] is not None]
    bad = sorted(bad + list(source.skipped))
    if not keep:
        name, why = bad[0]
        raise DatasetError(
            f"{source.path}: all {len(bad)} picture files were unreadable; first: {name} ({why})"
        )
    images = out[keep] if len(keep) < n else out
    labels = None
    if source.labels is not None:
        labels = np.asarray(source.labels, dtype=np.int64)[keep]
    sizes = Counter(d.split()[0] for d in described if d)
    modes = Counter(d.split()[1] for d in described if d)
    extra = {
        "source": source.describe(),
        "format": source.kind,
        "skipped": len(bad),
        "skipped_examples": [list(b) for b in bad[:SKIP_EXAMPLES]],
        "source_sizes": _histogram(sizes),
        "source_modes": _histogram(modes),
        "labels_from": "subfolders" if labels is not None else None,
        "ignored_files": source.other_files,
        "settings": s.describe(),
        "class_names": list(source.class_names),
        "notes": source.notes(),
    }
    return images.transpose(0, 3, 1, 2), labels, extra


# ---------------------------------------------------------------------------------------------
# Arrays


def _colourful(images: np.ndarray) -> bool:
    if images.shape[3] == 1:
        return False
    step = max(1, len(images) // PROBE_SAMPLES)
    sample = images[::step][:PROBE_SAMPLES, :, :, :3].astype(np.int16)
    spread = sample.max(axis=3) - sample.min(axis=3)
    return bool((spread > 24).mean() > 0.005)


def _prepare_arrays(
    found: arrays.ArrayFiles, opts: dict, progress: ProgressFn | None
) -> tuple[np.ndarray, np.ndarray | None, dict]:
    try:
        data = arrays.load_arrays(found)
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(
            f"{found.files[0]}: cannot read it as {found.description}: {exc}"
        ) from None
    images = data.images
    n, h, w, c = images.shape
    s = _finish_settings(
        opts,
        prepare.pick_size([min(h, w)], opts["largest_auto_size"]),
        "rgb" if _colourful(images) else "gray",
    )
    if (h, w) == (s.size, s.size) and c in (1, 3):
        if progress:
            progress(0, n)
        if c == 3 and s.mode == "gray":  # ITU-R 601-2 luma, as Pillow's convert("L")
            luma = images.astype(np.uint32) @ np.array([299, 587, 114], np.uint32)
            out = ((luma + 500) // 1000).astype(np.uint8)[..., None]
        elif c == 1 and s.mode == "rgb":
            out = np.repeat(images, 3, axis=3)
        else:
            out = images
        if progress:
            progress(n, n)
    else:
        _check_prepared(n, s, found.files[0])
        out = np.empty((n, s.size, s.size, s.channels), dtype=np.uint8)
        src = images[..., 0] if c == 1 else images

        def task(i: int, item: np.ndarray) -> None:
            out[i] = prepare.decode_picture(item, s)[0].reshape(s.size, s.size, s.channels)

        workers = min(opts["workers"], max(1, n // 256))
        prepare.run_parallel(task, ((i, src[i]) for i in range(n)), n, workers, progress, chunk=256)
    mode_name = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    extra = {
        "source": found.description,
        "format": found.format,
        "skipped": 0,
        "skipped_examples": [],
        "source_sizes": [[f"{w}x{h}", n]],
        "source_modes": [[mode_name, n]],
        "labels_from": "file" if data.labels is not None else None,
        "detected_range": data.detected_range,
        "notes": list(data.notes),
        "settings": s.describe(),
        "class_names": list(data.class_names),
    }
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), data.labels, extra


# ---------------------------------------------------------------------------------------------
# The front door


def _checked_path(path: Path) -> Path:
    """The dataset path, resolved: a folder or a regular file (a FIFO, device or socket is
    never opened: reading one could wait forever)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DatasetError(f"no such file or folder: {path}") from None
    except OSError as exc:  # no permission, a link loop, ...
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise DatasetError(
            f"{path} is {guards.file_kind(st.st_mode)}, not a file or folder of pictures"
        )
    return path.resolve()


def _check_prepared(n: int, s: PrepSettings, where: Path) -> None:
    """Refuse, before allocating it, a prepared dataset that would not fit in memory."""
    guards.check_memory(
        n * s.size * s.size * s.channels,
        f"{n:,} images prepared at {s.size}x{s.size} {s.mode}",
        where,
    )


def load_path(
    path_text: str,
    options: dict[str, str],
    progress: ProgressFn | None = None,
    cache_root: Path | None = None,
    largest_auto_size: int = prepare.DEFAULT_MAX_SIZE,
) -> Dataset:
    """A Dataset from a folder, archive or array file; see the module docstring.
    ``largest_auto_size``: the automatic size (no ``size`` option) is at most this."""
    opts = _parse_options(path_text, options)
    opts["largest_auto_size"] = largest_auto_size
    path = _checked_path(Path(path_text).expanduser())
    start = time.perf_counter()

    found = arrays.find_array_files(path)
    source: PictureSource | None = None
    if found is not None:
        signature = [_stat(f) for f in found.files]
    elif path.is_dir():
        source = scan_folder(path)
        signature = [[e.name, e.size, e.mtime_ns] for e in source.entries]
        signature += [[name, why] for name, why in source.skipped]
    elif is_archive(path):
        signature = [_stat(path)]
    elif is_picture_name(path.name):
        raise DatasetError(f"{path} is a single picture; give the folder that holds the pictures")
    else:
        raise DatasetError(
            f"{path}: not a dataset GAN Studio can read (a folder of pictures, a .zip or .tar "
            "archive of them, MNIST idx, CIFAR .bin, or .npy / .npz)"
        )

    settings = {k: opts[k] for k in ("size", "mode", "resize", "background")}
    if not opts["size"] and largest_auto_size != prepare.DEFAULT_MAX_SIZE:
        settings["largest_auto_size"] = largest_auto_size  # another automatic size
    cache = None
    if opts["cache"]:
        cache = DatasetCache(
            digest({"path": str(path), "settings": settings}), digest(signature), cache_root
        )
        entry = cache.load()
        if entry is not None:
            log.info("%s: loaded from the cache in %.2f s", path, time.perf_counter() - start)
            return _dataset(
                entry.images,
                entry.labels,
                {**entry.meta["extra"], "cache": "hit"},
                entry.meta["fingerprint"],
            )

    if found is not None:
        images, labels, extra = _prepare_arrays(found, opts, progress)
    else:
        if source is None:
            try:
                source = scan_archive(path)
            except DatasetError:
                raise
            except (
                OSError,
                EOFError,
                ValueError,
                zipfile.BadZipFile,
                tarfile.TarError,
                zlib.error,
            ) as exc:
                raise DatasetError(f"{path}: cannot read the archive ({exc})") from None
        if not source.entries and source.skipped:
            name, why = source.skipped[0]
            raise DatasetError(
                f"{path}: none of its {len(source.skipped)} picture files can be read; "
                f"first: {name} ({why})"
            )
        if not source.entries:
            raise _no_pictures_error(path, source)
        images, labels, extra = _prepare_pictures(source, opts, progress)
    extra = {"path": str(path), **extra, "cache": "stored" if cache else "off"}
    seconds = time.perf_counter() - start
    extra["prepare_seconds"] = round(seconds, 3)
    log.info("%s: prepared %d images in %.2f s", path, len(images), seconds)
    images = np.ascontiguousarray(images)
    if not images.flags.writeable:  # e.g. straight from an idx file's bytes
        images = images.copy()
    dataset = _dataset(images, labels, extra, "")
    if cache is not None:
        cache.save(images, labels, {"extra": extra, "fingerprint": dataset.info.fingerprint})
    return dataset


def _dataset(
    images: np.ndarray, labels: np.ndarray | None, extra: dict, fingerprint: str
) -> Dataset:
    info = DatasetInfo(
        name=extra["path"],
        kind=IMAGES,
        count=len(images),
        sample_shape=tuple(int(v) for v in images.shape[1:]),
        class_names=tuple(extra.get("class_names") or ()) if labels is not None else (),
        fingerprint=fingerprint,
        extra=extra,
    )
    return Dataset(
        torch.from_numpy(images), info, None if labels is None else torch.from_numpy(labels)
    )
