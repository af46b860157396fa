"""The standard dataset files that already hold pixel arrays: MNIST idx, CIFAR binary
batches and NumPy .npy / .npz.

`find_array_files` recognises one (cheaply, by name, for the cache key); `load_arrays`
reads it into uint8 (N, H, W, C) images with C in {1, 3, 4}, labels and class names.
Float arrays are mapped from the range they are found in ([0, 1], [-1, 1] or [0, 255]),
and that range is reported.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CIFAR10_NAMES = re.compile(r"^(data_batch_\d+|test_batch)\.bin$")
CIFAR100_NAMES = re.compile(r"^(train|test)\.bin$")
IDX_IMAGES = re.compile(r"images[.-]idx3[.-]ubyte(\.gz)?$")
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGE_KEYS = ("images", "x", "data")
LABEL_KEYS = ("labels", "y")


@dataclass
class ArrayFiles:
    """A recognised array dataset: its format and the files that make it up."""

    format: str  # "idx", "cifar10", "cifar100", "npy", "npz"
    files: list[Path]  # data files first, then labels / class-name files that exist
    description: str


@dataclass
class ArrayData:
    images: np.ndarray  # uint8 (N, H, W, C), C in {1, 3, 4}
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    detected_range: str | None = None
    notes: tuple[str, ...] = ()


def _read_bytes(path: Path) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _cifar_files(folder: Path) -> tuple[str, list[Path]] | None:
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    ten = [folder / n for n in names if CIFAR10_NAMES.match(n)]
    hundred = [folder / n for n in names if CIFAR100_NAMES.match(n)]
    # CIFAR-10 batches: data_batch_1..5 first, then test_batch (numeric order)
    ten.sort(key=lambda p: (p.name.startswith("test"), int(re.sub(r"\D", "", p.stem) or 0)))
    hundred.sort(key=lambda p: p.name != "train.bin")
    if ten:
        meta = folder / "batches.meta.txt"
        return "cifar10", ten + ([meta] if meta.is_file() else [])
    if hundred:
        meta = folder / "fine_label_names.txt"
        return "cifar100", hundred + ([meta] if meta.is_file() else [])
    return None


def idx_labels_file(images: Path) -> Path | None:
    """``train-images-idx3-ubyte[.gz]`` -> the matching labels file next to it, if any."""
    base = images.name[:-3] if images.name.lower().endswith(".gz") else images.name
    labels = base.replace("images", "labels").replace("idx3", "idx1")
    for suffix in ("", ".gz"):
        candidate = images.with_name(labels + suffix)
        if candidate.is_file():
            return candidate
    return None


def find_array_files(path: Path) -> ArrayFiles | None:
    """Recognise an array dataset by its file names: a file, or a folder of CIFAR batches."""
    if path.is_dir():
        found = _cifar_files(path)
        if found is None:
            return None
        fmt, files = found
        n = sum(f.suffix == ".bin" for f in files)
        kind = "CIFAR-10" if fmt == "cifar10" else "CIFAR-100"
        return ArrayFiles(fmt, files, f"{kind} binary folder ({n} batch files)")
    name = path.name
    low = name.lower()
    if low.endswith(".npy"):
        return ArrayFiles("npy", [path], "NumPy .npy array")
    if low.endswith(".npz"):
        return ArrayFiles("npz", [path], "NumPy .npz archive")
    if IDX_IMAGES.search(name):
        labels = idx_labels_file(path)
        desc = "idx (MNIST format) images" + (f" with labels {labels.name}" if labels else "")
        return ArrayFiles("idx", [path] + ([labels] if labels else []), desc)
    if CIFAR10_NAMES.match(name) or CIFAR100_NAMES.match(name):
        fmt = "cifar10" if CIFAR10_NAMES.match(name) else "cifar100"
        meta = path.with_name("batches.meta.txt" if fmt == "cifar10" else "fine_label_names.txt")
        kind = "CIFAR-10" if fmt == "cifar10" else "CIFAR-100"
        files = [path] + ([meta] if meta.is_file() else [])
        return ArrayFiles(fmt, files, f"{kind} binary batch {name}")
    return None


# ---------------------------------------------------------------------------------------------
# Readers


def read_idx(path: Path) -> np.ndarray:
    """An idx file (MNIST format, raw or gzip) as an array of its stored shape."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path.name} is not an idx file (bad magic number)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path.name} is truncated (incomplete header)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header < need:
        raise ValueError(
            f"{path.name} is truncated: dimensions {dims} need {need:,} bytes of data, "
            f"found {len(raw) - header:,}"
        )
    return np.frombuffer(raw, dtype, count=int(np.prod(dims)), offset=header).reshape(dims)


def _names_file(path: Path | None) -> tuple[str, ...]:
    if path is None or not path.is_file():
        return ()
    return tuple(
        line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()
    )


def _read_cifar(files: list[Path], label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    record = label_bytes + 3072
    images, labels = [], []
    for f in files:
        raw = f.read_bytes()
        if not raw or len(raw) % record:
            raise ValueError(
                f"{f.name}: {len(raw):,} bytes is not a whole number of {record}-byte "
                f"CIFAR-{10 if label_bytes == 1 else 100} records"
            )
        rows = np.frombuffer(raw, np.uint8).reshape(-1, record)
        labels.append(rows[:, label_bytes - 1].astype(np.int64))  # CIFAR-100: the fine label
        images.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)


def _pick_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        lower = {k.lower(): k for k in keys}
        key = next((lower[k] for k in IMAGE_KEYS if k in lower), None)
        if key is None:
            key = next((k for k in keys if z[k].ndim in (3, 4)), None)
        if key is None:
            raise ValueError(
                f"no image array in it (keys: {', '.join(keys) or 'none'}); expected a key "
                "named images, x or data, or an array with 3 or 4 dimensions"
            )
        label_key = next((lower[k] for k in LABEL_KEYS if k in lower), None)
        labels = z[label_key] if label_key else None
        return z[key], labels, key


def _to_nhwc(a: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """(N, H, W) / (N, H, W, C) / unambiguous (N, C, H, W) -> (N, H, W, C); and whether
    the layout was channels-first."""
    if a.ndim == 3:
        return a[..., None], False
    if a.ndim == 4:
        if a.shape[3] in (1, 3, 4):
            return a, False
        if a.shape[1] in (1, 3, 4):
            return a.transpose(0, 2, 3, 1), True
    raise ValueError(
        f"{name} has shape {a.shape}; expected (N, H, W) or (N, H, W, C) with C 1, 3 or 4"
    )


def to_uint8(a: np.ndarray, name: str) -> tuple[np.ndarray, str]:
    """Pixel values -> uint8, and the range they were found in (said to the user)."""
    if a.dtype == np.uint8:
        return a, "uint8 [0, 255]"
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255, "boolean (0/1 -> 0/255)"
    if np.issubdtype(a.dtype, np.integer):
        top, bottom = int(a.max(initial=0)), int(a.min(initial=0))
        if bottom >= 0 and top <= 255:
            return a.astype(np.uint8), f"{a.dtype} [0, 255]"
        if bottom >= 0 and top <= 65535:
            return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8), f"{a.dtype} [0, 65535]"
        raise ValueError(
            f"{name}: integer values span [{bottom}, {top}], expected [0, 255] or [0, 65535]"
        )
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name}: cannot use values of type {a.dtype} as pixels")
    x = np.asarray(a, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: the array holds NaN or infinite values")
    lo, hi = float(x.min(initial=0.0)), float(x.max(initial=0.0))
    eps = 1e-3
    if lo >= -eps and hi <= 1 + eps:
        scaled, found = x * 255.0, "float [0, 1]"
    elif lo >= -1 - eps and hi <= 1 + eps:
        scaled, found = (x + 1.0) * 127.5, "float [-1, 1]"
    elif lo >= -eps and hi <= 255 + eps:
        scaled, found = x, "float [0, 255]"
    else:
        raise ValueError(
            f"{name}: float values span [{lo:.3g}, {hi:.3g}]; expected [0, 1], [-1, 1] or [0, 255]"
        )
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), found


def _labels(raw: np.ndarray | None, count: int) -> np.ndarray | None:
    if raw is None:
        return None
    lab = np.asarray(raw).reshape(-1)
    if len(lab) != count or not np.issubdtype(lab.dtype, np.integer):
        return None  # labels that do not fit are ignored (the caller notes it)
    return lab.astype(np.int64)


def load_arrays(found: ArrayFiles) -> ArrayData:
    """Read a recognised array dataset. Raises ValueError with a reason when it is unusable."""
    fmt, files = found.format, found.files
    names: tuple[str, ...] = ()
    detected: str | None = None
    labels: np.ndarray | None
    if fmt in ("cifar10", "cifar100"):
        data = [f for f in files if f.suffix == ".bin"]
        meta = next((f for f in files if f.suffix == ".txt"), None)
        images, labels = _read_cifar(data, 1 if fmt == "cifar10" else 2)
        names = _names_file(meta)
        n_classes = int(labels.max()) + 1
        if len(names) < n_classes:
            names = tuple(str(k) for k in range(n_classes))
        return ArrayData(images, labels, names)
    if fmt == "idx":
        raw_images = read_idx(files[0])
        raw_labels = read_idx(files[1]) if len(files) > 1 else None
        source_name = files[0].name
    elif fmt == "npy":
        raw_images = np.load(files[0], mmap_mode="r", allow_pickle=False)
        raw_labels = None
        source_name = files[0].name
    else:
        raw_images, raw_labels, key = _pick_npz(files[0])
        source_name = f"{files[0].name}[{key}]"
    if raw_images.ndim not in (3, 4) or raw_images.shape[0] == 0:
        raise ValueError(
            f"{source_name} has shape {raw_images.shape}; expected (N, H, W) or (N, H, W, C)"
        )
    nhwc, channels_first = _to_nhwc(raw_images, source_name)
    images, detected = to_uint8(nhwc, source_name)
    if channels_first:
        detected += ", channels-first (N, C, H, W) layout"
    labels = _labels(raw_labels, len(images))
    notes: tuple[str, ...] = ()
    if raw_labels is not None and labels is None:
        notes = (
            f"labels ignored: {np.shape(raw_labels)} {np.asarray(raw_labels).dtype} does not "
            f"match {len(images):,} images",
        )
    if labels is not None and len(labels):
        n_classes = int(labels.max()) + 1
        names = tuple(str(k) for k in range(n_classes)) if labels.min() >= 0 else ()
        if not names:
            labels = None
    return ArrayData(np.ascontiguousarray(images), labels, names, detected, notes)
