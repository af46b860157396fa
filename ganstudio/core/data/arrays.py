"""The standard dataset files that already hold pixel arrays: MNIST idx, CIFAR binary
batches and NumPy .npy / .npz.

`find_array_files` recognises one (cheaply, by name, for the cache key); `load_arrays`
reads it into uint8 (N, H, W, C) images with C in {1, 3, 4}, labels and class names.
Float arrays are mapped from the range they are found in ([0, 1], [-1, 1] or [0, 255]),
and that range is reported.

Nothing is allocated before the header that declares it (idx dimensions, a .npy header,
each .npz member's) has been checked: plain numbers only (an object array is a pickle and
is refused, never loaded), a shape whose reading would fit in memory (`guards.check_memory`)
and data as long as the header says. Labels are used when they are class numbers from 0 to
below MAX_CLASSES, else ignored with a note.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, cast

import numpy as np

from ganstudio.core.data import guards

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
# Readers. Each checks what a header declares (shape, type, size) before it allocates, opens
# only regular files (guards.open_regular) and reads no more than it has checked.


def _open(path: Path) -> BinaryIO:
    """A regular file, decompressed on the fly when its name ends in .gz."""
    fh = guards.open_regular(path)
    if path.name.lower().endswith(".gz"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=fh, mode="rb"))
    return fh


def _check_memory(shape: tuple[int, ...], dtype: np.dtype, what: str, path: Path) -> None:
    """Refuse an array whose reading and conversion to 8-bit pixels would not fit."""
    count = math.prod(shape)
    scratch = 9 if dtype.kind == "f" else 1  # float32 working copies, then the uint8 result
    guards.check_memory(
        count * (dtype.itemsize + scratch),
        f"{what} of shape {shape} {dtype.name} (declared in its header)",
        path,
    )


def _check_image_shape(shape: tuple[int, ...], name: str) -> None:
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"{name} has shape {shape}; expected (N, H, W) or (N, H, W, C)")


def read_idx(path: Path) -> np.ndarray:
    """An idx file (MNIST format, raw or gzip) as an array of its stored shape."""
    with _open(path) as fh:
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
            raise ValueError(f"{path.name} is not an idx file (bad magic number)")
        dtype, ndim = _IDX_TYPES[head[2]], head[3]
        raw_dims = fh.read(4 * ndim)
        if len(raw_dims) < 4 * ndim:
            raise ValueError(f"{path.name} is truncated (incomplete header)")
        dims = tuple(int(d) for d in np.frombuffer(raw_dims, ">u4"))
        _check_memory(dims, dtype, "the idx array", path)
        count = math.prod(dims)
        data = guards.read_exactly(fh, count * dtype.itemsize, f"{path.name} (dimensions {dims})")
    return np.frombuffer(data, dtype, count=count).reshape(dims)


def _names_file(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        with guards.open_regular(path) as fh:
            text = fh.read(guards.NAMES_FILE_BYTES).decode(errors="replace")
    except OSError:
        return ()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _read_cifar(files: list[Path], label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    record = label_bytes + 3072
    opened = [guards.open_regular(f) for f in files]
    try:
        sizes = [os.fstat(fh.fileno()).st_size for fh in opened]
        # the batches, then their images and labels joined
        guards.check_memory(2 * sum(sizes), f"{len(files)} CIFAR batch files", files[0])
        images, labels = [], []
        for f, fh, size in zip(files, opened, sizes, strict=True):
            if not size or size % record:
                raise ValueError(
                    f"{f.name}: {size:,} bytes is not a whole number of {record}-byte "
                    f"CIFAR-{10 if label_bytes == 1 else 100} records"
                )
            raw = guards.read_exactly(fh, size, f.name)
            rows = np.frombuffer(raw, np.uint8).reshape(-1, record)
            labels.append(rows[:, label_bytes - 1].astype(np.int64))  # CIFAR-100: fine label
            images.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    finally:
        for fh in opened:
            fh.close()
    return np.concatenate(images), np.concatenate(labels)


@dataclass(frozen=True)
class NpyHeader:
    """What the header of a .npy file (or .npz member) declares."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_npy_header(fh: IO[bytes], name: str) -> NpyHeader:
    """The header of a .npy stream at its start; ValueError for anything but an array of
    plain numbers (object arrays, stored as pickles, are refused: nothing is unpickled)."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:  # 3.0 is only written for arrays with unicode field names
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError) as exc:
        raise ValueError(f"{name} is not a NumPy array ({exc})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{name} holds Python objects (stored as a pickle), not numbers; GAN Studio "
            "never unpickles a file"
        )
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"{name} holds values of type {dtype}, not plain numbers")
    if any(d < 0 for d in shape):
        raise ValueError(f"{name} declares the impossible shape {shape}")
    return NpyHeader(tuple(int(d) for d in shape), dtype, bool(fortran), fh.tell())


def _read_npy(path: Path) -> np.ndarray:
    """A .npy file, memory-mapped read-only, after its header was checked."""
    with guards.open_regular(path) as fh:
        h = read_npy_header(fh, path.name)
        _check_memory(h.shape, h.dtype, "its array", path)
        _check_image_shape(h.shape, path.name)
        held = os.fstat(fh.fileno()).st_size - h.offset
        if held < h.nbytes:
            raise ValueError(
                f"{path.name} is truncated: its header declares {h.nbytes:,} bytes of data, "
                f"the file holds {held:,}"
            )
        order: Literal["C", "F"] = "F" if h.fortran_order else "C"
        # a memory map outlives the file object it was made from
        return np.memmap(cast(Any, fh), h.dtype, "r", h.offset, h.shape, order)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, h: NpyHeader, name: str) -> np.ndarray:
    """An .npz member's array, read into an array of the size its header declared."""
    if info.file_size < h.offset + h.nbytes:
        raise ValueError(
            f"{name} is truncated: its header declares {h.nbytes:,} bytes of data, the "
            f"member holds {max(0, info.file_size - h.offset):,}"
        )
    out = np.empty(h.shape, h.dtype, order="F" if h.fortran_order else "C")
    flat = out.reshape(-1, order="A").view(np.uint8)  # its bytes, in memory order
    with zf.open(info) as fh:
        fh.read(h.offset)
        done = 0
        while done < len(flat):
            piece = fh.read(min(guards.READ_PIECE, len(flat) - done))
            if not piece:
                raise ValueError(f"{name} is truncated: it ends after {done:,} bytes of data")
            flat[done : done + len(piece)] = np.frombuffer(piece, np.uint8)
            done += len(piece)
    return out


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, str, str]:
    """The images array of an .npz, its labels, and their keys; each member's header is
    checked before it is read."""
    with guards.open_regular(path) as fh, zipfile.ZipFile(fh) as zf:
        members = {i.filename.removesuffix(".npy"): i for i in zf.infolist() if not i.is_dir()}
        headers: dict[str, NpyHeader] = {}

        def header(key: str) -> NpyHeader:
            if key not in headers:
                with zf.open(members[key]) as m:
                    headers[key] = read_npy_header(m, f"{path.name}[{key}]")
            return headers[key]

        def is_images(key: str) -> bool:
            try:
                return len(header(key).shape) in (3, 4)
            except ValueError:  # not an array: never a candidate
                return False

        keys = list(members)
        lower = {k.lower(): k for k in keys}
        key = next((lower[k] for k in IMAGE_KEYS if k in lower), None)
        if key is None:
            key = next((k for k in keys if is_images(k)), None)
        if key is None:
            raise ValueError(
                f"no image array in it (keys: {', '.join(keys) or 'none'}); expected a key "
                "named images, x or data, or an array with 3 or 4 dimensions"
            )
        name = f"{path.name}[{key}]"
        h = header(key)
        _check_memory(h.shape, h.dtype, f"the array {key!r}", path)
        _check_image_shape(h.shape, name)
        label_key = next((lower[k] for k in LABEL_KEYS if k in lower), None)
        labels = None
        if label_key is not None:
            hl = header(label_key)
            _check_memory(hl.shape, hl.dtype, f"the array {label_key!r}", path)
            labels = _read_member(zf, members[label_key], hl, f"{path.name}[{label_key}]")
        return _read_member(zf, members[key], h, name), labels, key, label_key or ""


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


def check_labels(
    raw: np.ndarray | None, count: int, name: str
) -> tuple[np.ndarray | None, tuple[str, ...], str | None]:
    """Labels as int64 class numbers and their names, or (None, (), why they are ignored).

    Labels are used when there is one whole number per image, from 0 to below MAX_CLASSES.
    """
    if raw is None:
        return None, (), None
    lab = np.asarray(raw).reshape(-1)
    if len(lab) != count or not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == np.bool_):
        return (
            None,
            (),
            f"labels ignored: {np.shape(raw)} {lab.dtype} does not match {count:,} images",
        )
    low, high = int(lab.min()), int(lab.max())  # Python ints: no uint64 overflow
    if low < 0:
        return None, (), f"labels ignored: {name} holds {low:,}; labels are classes from 0 on"
    if high >= guards.MAX_CLASSES:
        return (
            None,
            (),
            f"labels ignored: {name} holds {high:,}, and a dataset has at most "
            f"{guards.MAX_CLASSES:,} classes",
        )
    return lab.astype(np.int64), tuple(str(k) for k in range(high + 1)), None


def load_arrays(found: ArrayFiles) -> ArrayData:
    """Read a recognised array dataset. Raises ValueError with a reason when it is unusable,
    DatasetError when it would not fit in memory."""
    fmt, files = found.format, found.files
    names: tuple[str, ...] = ()
    detected: str | None = None
    if fmt in ("cifar10", "cifar100"):
        data = [f for f in files if f.suffix == ".bin"]
        meta = next((f for f in files if f.suffix == ".txt"), None)
        images, cifar_labels = _read_cifar(data, 1 if fmt == "cifar10" else 2)
        names = _names_file(meta)
        n_classes = int(cifar_labels.max()) + 1
        if len(names) < n_classes:
            names = tuple(str(k) for k in range(n_classes))
        return ArrayData(images, cifar_labels, names)
    if fmt == "idx":
        raw_images = read_idx(files[0])
        raw_labels = read_idx(files[1]) if len(files) > 1 else None
        source_name, labels_name = files[0].name, files[-1].name
    elif fmt == "npy":
        raw_images = _read_npy(files[0])
        raw_labels = None
        source_name = labels_name = files[0].name
    else:
        raw_images, raw_labels, key, label_key = _read_npz(files[0])
        source_name = f"{files[0].name}[{key}]"
        labels_name = f"{files[0].name}[{label_key}]"
    _check_image_shape(raw_images.shape, source_name)
    nhwc, channels_first = _to_nhwc(raw_images, source_name)
    images, detected = to_uint8(nhwc, source_name)
    if channels_first:
        detected += ", channels-first (N, C, H, W) layout"
    labels, names, why = check_labels(raw_labels, len(images), labels_name)
    notes = (why,) if why else ()
    return ArrayData(np.ascontiguousarray(images), labels, names, detected, notes)
