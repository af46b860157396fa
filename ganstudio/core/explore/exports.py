"""Exports that remember how they were made: PNG grids, GIF/WebP/MP4 interpolations and
single samples, rendered from a model and saved with their provenance (core.explore.provenance), so
they can be reopened and rendered again pixel for pixel from the same model:

- PNG pictures hold it in an iTXt chunk named ``ganstudio.provenance``;
- animations get a JSON sidecar next to them, ``walk.gif`` -> ``walk.gif.json``.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from ganstudio import __version__
from ganstudio.core.explore import latent, sampling
from ganstudio.core.explore.provenance import (  # noqa: F401  (also the public names of exports)
    ANIMATION_SUFFIXES,
    DEFAULTS,
    FRAMES_FIX,
    GRID_FIX,
    KINDS,
    MAX_EXPORT_BYTES,
    MAX_FPS,
    MAX_FRAMES,
    MAX_GRID_SIDE,
    MAX_KEYFRAMES,
    MAX_PADDING,
    MAX_TEXT_BYTES,
    MAX_UPSCALE,
    PICTURE_SUFFIXES,
    PROVENANCE_KEY,
    PROVENANCE_VERSION,
    SIDECAR_SUFFIX,
    ExportError,
    check_export_size,
    check_memory,
    check_provenance,
    class_fields,
    classes_from_provenance,
    decode_vectors,
    encode_vectors,
    frames_memory,
    grid_memory,
    grid_provenance,
    hex_colour,
    interpolation_provenance,
    keyframes_from_provenance,
    model_matches,
    parse_colour,
    read_provenance,
    sample_provenance,
    sidecar_path,
    vectors_from_provenance,
)
from ganstudio.core.explore.vector_files import load_vectors, save_vectors  # noqa: F401
from ganstudio.core.fileio import atomic_write_bytes
from ganstudio.core.modelfile import GeneratorFile
from ganstudio.core.render import make_grid, to_uint8

MP4_HELP = "pip install imageio imageio-ffmpeg (or: pip install av)"
NOT_FOR_POINTS = "grids and animations are for image models; this model makes 2-D points"
_RENDER_BATCH = sampling.RENDER_BATCH  # the window renders in batches of this size too


# ----------------------------------------------------------------------------------------
# Rendering


def _check_image_model(gen: GeneratorFile) -> None:
    if not gen.is_image:
        raise ValueError(NOT_FOR_POINTS)


def _as_latents(gen: GeneratorFile, z: np.ndarray | torch.Tensor, what: str) -> torch.Tensor:
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    if z.ndim != 2 or z.shape[1] != gen.latent_dim or z.shape[0] < 1:
        raise ValueError(
            f"{what} must be latent vectors (n, {gen.latent_dim}) for this model, "
            f"got shape {tuple(z.shape)}"
        )
    return z


def _as_classes(gen: GeneratorFile, classes: Sequence[int] | None, n: int) -> torch.Tensor | None:
    """The class of each of n samples (int64) for a conditional model: ``classes`` (one per
    sample, or one for all), or cycled 0, 1, 2, ... when None; None for an unconditional one
    (which refuses classes)."""
    if not gen.classes:
        if classes is not None:
            raise ExportError("this model is unconditional: it draws no classes")
        return None
    if classes is None:
        return sampling.cycled(n, gen.classes)
    y = torch.as_tensor(list(classes), dtype=torch.int64).reshape(-1)
    if len(y) == 1:
        y = y.repeat(n)
    if len(y) != n:
        raise ValueError(f"{len(y)} classes given for {n} samples")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= gen.classes):
        raise ExportError(
            f"class {int(y.max())} does not exist: this model has {gen.classes} classes "
            f"({', '.join(gen.class_names)})"
        )
    return y


def _images(gen: GeneratorFile, z: torch.Tensor, y: torch.Tensor | None = None) -> np.ndarray:
    """uint8 images (N, C, H, W) for latents z (and classes y), a fixed number at a time."""
    ys = [None] * len(z.split(_RENDER_BATCH)) if y is None else y.split(_RENDER_BATCH)
    chunks = [
        to_uint8(sampling.generate(gen.module, c, batch=_RENDER_BATCH, classes=yc))
        for c, yc in zip(z.split(_RENDER_BATCH), ys)
    ]
    return np.concatenate(chunks)


def render_grid(
    gen: GeneratorFile,
    z: np.ndarray,
    rows: int,
    cols: int,
    padding: int = 2,
    background: Sequence[int] = (32, 32, 32),
    upscale: int = 1,
    classes: Sequence[int] | None = None,
) -> np.ndarray:
    """A grid of the images for latents z (n, D), row by row: uint8 (H, W, 3).

    Cells beyond n stay background. Truncation is not applied here (see latent.truncate).
    A conditional model draws ``classes`` (one per latent, or one for all; default cycled).
    """
    _check_image_model(gen)
    zt = _as_latents(gen, z, "grid latents")
    if rows < 1 or cols < 1:
        raise ValueError(f"a grid needs at least 1 row and 1 column, not {rows}x{cols}")
    if len(zt) > rows * cols:
        raise ValueError(f"{len(zt)} images do not fit a {rows}x{cols} grid")
    if padding < 0 or upscale < 1:
        raise ValueError("padding must be 0 or more and upscale 1 or more")
    width, height, need = grid_memory(len(zt), rows, cols, gen.sample_shape, padding, upscale)
    check_memory(need, f"a picture of {width:,} x {height:,} px", GRID_FIX, "the grid")
    y = _as_classes(gen, classes, len(zt))
    return make_grid(_images(gen, zt, y), rows, cols, padding, tuple(background), upscale)


def render_frames(
    gen: GeneratorFile, path_z: np.ndarray, upscale: int = 1, classes: Sequence[int] | None = None
) -> np.ndarray:
    """Animation frames for latents path_z (N, D), rendered in batches: uint8 (N, H, W, 3);
    a conditional model's frames draw ``classes`` (one for all, or one per frame)."""
    _check_image_model(gen)
    z = _as_latents(gen, path_z, "frame latents")
    y = _as_classes(gen, classes, len(z))
    if upscale < 1:
        raise ValueError(f"upscale must be 1 or more, not {upscale}")
    width, height, need = frames_memory(len(z), gen.sample_shape, upscale)
    what = f"{len(z):,} frames of {width:,} x {height:,} px"
    check_memory(need, what, FRAMES_FIX, "the animation")
    frames: np.ndarray | None = None
    for start in range(0, len(z), _RENDER_BATCH):
        images = _images(
            gen,
            z[start : start + _RENDER_BATCH],
            None if y is None else y[start : start + _RENDER_BATCH],
        )
        if upscale > 1:
            images = images.repeat(upscale, axis=2).repeat(upscale, axis=3)
        if images.shape[1] == 1:
            images = np.repeat(images, 3, axis=1)
        if frames is None:
            frames = np.empty((len(z), *images.shape[2:], 3), dtype=np.uint8)
        frames[start : start + len(images)] = images.transpose(0, 2, 3, 1)
    assert frames is not None  # _as_latents accepts no empty set of latents
    return frames


def interpolation_latents(prov: dict) -> np.ndarray:
    """The truncated latents (N, D) of every frame of an interpolation export."""
    keys = keyframes_from_provenance(prov)
    path = latent.keyframe_path(keys, prov["steps"], prov["mode"], prov["easing"], prov["loop"])
    return latent.truncate(path, prov["truncation"])


def render_provenance(gen: GeneratorFile, prov: dict) -> np.ndarray:
    """Render an export from its provenance: a picture (H, W, 3) for a grid or a sample,
    frames (N, H, W, 3) for an interpolation. The model hash is not checked here (see
    model_matches); a different latent size is an ExportError."""
    check_provenance(prov)
    _check_image_model(gen)
    check_export_size(prov, gen.sample_shape)
    if prov["latent_dim"] != gen.latent_dim:
        raise ExportError(
            f"the export uses latents of size {prov['latent_dim']}, but this model takes "
            f"{gen.latent_dim}: it was made with a different model"
        )
    upscale = prov.get("upscale", DEFAULTS["upscale"])
    classes = prov.get("classes")
    if classes is not None and not gen.classes:
        raise ExportError(
            "the export was made with a class-conditional model, but this model is "
            "unconditional: it was made with a different model"
        )
    if classes is not None and max(classes) >= gen.classes:
        raise ExportError(
            f"the export draws class {max(classes)}, but this model has {gen.classes} "
            "classes: it was made with a different model"
        )
    if prov["kind"] == "interpolation":
        return render_frames(gen, interpolation_latents(prov), upscale, classes)
    z = latent.truncate(vectors_from_provenance(prov), prov["truncation"])
    classes = classes_from_provenance(prov, len(z))
    if prov["kind"] == "sample":
        return render_grid(gen, z, 1, 1, padding=0, upscale=upscale, classes=classes)
    return render_grid(
        gen,
        z,
        prov["rows"],
        prov["cols"],
        prov.get("padding", DEFAULTS["padding"]),
        parse_colour(prov.get("background", DEFAULTS["background"])),
        upscale,
        classes,
    )


def write_export(path: str | Path, gen: GeneratorFile, prov: dict) -> np.ndarray:
    """Render an export from its provenance and save it (PNG for a grid or a sample; GIF,
    WebP or MP4 for an interpolation, by suffix). Returns what was rendered."""
    check_provenance(prov)
    if gen.is_image:  # fail before rendering, naming the file
        check_export_size(prov, gen.sample_shape, str(path))
    if prov["kind"] == "interpolation":
        animation_format(path)  # fail before rendering
        frames = render_provenance(gen, prov)
        save_animation(path, frames, prov["fps"], prov["loop"], prov)
        return frames
    _check_picture_path(path)
    picture = render_provenance(gen, prov)
    save_grid(path, picture, prov)
    return picture


# ----------------------------------------------------------------------------------------
# Writing


def _compact_seeds(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds[:64])) + (" ..." if len(seeds) > 64 else "")


def _check_picture_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in PICTURE_SUFFIXES:
        raise ExportError(f"{p}: pictures are saved as PNG; use a name ending in .png")
    if p.is_dir():
        raise ExportError(f"{p}: is a folder; give a file name")
    return p


def save_grid(path: str | Path, picture: np.ndarray, provenance: dict) -> None:
    """Save a picture (uint8 (H, W, 3)) as PNG with its provenance, atomically.

    The provenance is JSON in a compressed iTXt chunk ``ganstudio.provenance``; a few short
    readable chunks (Software, ganstudio.kind, ganstudio.model_hash, ...) go beside it.
    """
    p = _check_picture_path(path)
    prov = check_provenance(provenance)
    picture = np.asarray(picture)
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) picture, got {picture.dtype} {picture.shape}")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Software", f"GAN Studio {__version__}")
    info.add_itxt("ganstudio.kind", prov["kind"])
    info.add_itxt("ganstudio.model_hash", prov["model_hash"])
    info.add_itxt("ganstudio.truncation", str(prov["truncation"]))
    if "seeds" in prov:
        info.add_itxt("ganstudio.seeds", _compact_seeds(prov["seeds"]))
    text = _readable_size(p, json.dumps(prov, separators=(",", ":")))
    info.add_itxt(PROVENANCE_KEY, text, zip=True)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(p, buf.getvalue())


def _readable_size(path: Path, text: str) -> str:
    """Provenance text, if read_provenance will read it back (at most MAX_TEXT_BYTES)."""
    size = len(text.encode())
    if size > MAX_TEXT_BYTES:
        raise ExportError(
            f"{path}: the provenance would take {size / 2**20:.0f} MiB, more than the "
            f"{MAX_TEXT_BYTES // 2**20} MiB an export may carry: export fewer stored vectors"
        )
    return text


def animation_format(path: str | Path) -> str:
    """The format ("gif", "webp" or "mp4") of an animation file name, or an ExportError (also
    when MP4 is asked for and no encoder library is installed)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ExportError(
            f"{p}: animations are saved as {', '.join(ANIMATION_SUFFIXES)}; "
            "use a name ending in one of these"
        )
    if p.is_dir():
        raise ExportError(f"{p}: is a folder; give a file name")
    if suffix == ".mp4" and _mp4_encoder() is None:
        raise ExportError(f"{p}: writing MP4 needs an encoder library: {MP4_HELP}")
    return suffix[1:]


def _mp4_encoder() -> str | None:
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401

        return "imageio"
    except ImportError:
        pass
    try:
        import av  # noqa: F401

        return "av"
    except ImportError:
        return None


def provenance_json(prov: dict) -> str:
    """Provenance as JSON text for a sidecar: one key per line, each value on its line."""
    lines = [
        f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in prov.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_animation(
    path: str | Path, frames: np.ndarray, fps: float, loop: bool, provenance: dict
) -> None:
    """Save frames (uint8 (N, H, W, 3)) as an animation chosen by suffix, atomically, with
    its provenance in a JSON sidecar (path + ".json").

    GIF and WebP (lossless) through Pillow: loop forever when loop, else play once. MP4
    through imageio-ffmpeg or PyAV when installed (players decide about looping).
    """
    fmt = animation_format(path)
    prov = check_provenance(provenance)
    sidecar = _readable_size(Path(path), provenance_json(prov))
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or not len(frames):
        raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps}")
    p = Path(path)
    if fmt == "mp4":
        _write_mp4(p, frames, fps)
    else:
        images = [Image.fromarray(f) for f in frames]
        options: dict = {"duration": max(1, round(1000 / fps))}
        if fmt == "gif":
            if loop:
                options["loop"] = 0  # omitted: the GIF plays once
        else:
            options |= {"loop": 0 if loop else 1, "lossless": True}
        buf = io.BytesIO()
        images[0].save(buf, format=fmt.upper(), save_all=True, append_images=images[1:], **options)
        atomic_write_bytes(p, buf.getvalue())
    atomic_write_bytes(sidecar_path(p), sidecar.encode())


def _write_mp4(path: Path, frames: np.ndarray, fps: float) -> None:
    """H.264 MP4 (yuv420p, so odd sizes get one edge pixel row/column repeated)."""
    encoder = _mp4_encoder()
    if encoder is None:
        raise ExportError(f"{path}: writing MP4 needs an encoder library: {MP4_HELP}")
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        if encoder == "imageio":
            import imageio.v2 as imageio

            with imageio.get_writer(
                tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1, quality=8
            ) as writer:
                for frame in frames:
                    writer.append_data(frame)
        else:
            from fractions import Fraction

            import av

            with av.open(tmp, mode="w", format="mp4") as container:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator())
                stream.width, stream.height = frames.shape[2], frames.shape[1]
                stream.pix_fmt = "yuv420p"
                for frame in frames:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
