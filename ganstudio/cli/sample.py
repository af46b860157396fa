"""`ganstudio sample`: pictures or raw samples from a model file."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganstudio.cli.classes import chosen_classes, grid_classes
from ganstudio.cli.common import CLIError, load_model, parse_grid

if TYPE_CHECKING:
    import torch

    from ganstudio.core.modelfile import GeneratorFile

MAX_SAMPLES = 10_000_000  # --n; image models are held to MEMORY_BUDGET as well
MEMORY_BUDGET = 16 << 30  # bytes of latents and samples one command may hold
MAX_PICTURE_PIXELS = 1 << 28  # a 16384 x 16384 grid picture (768 MB)
PADDING = 2  # core.render.make_grid's default, between grid cells


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ganstudio.core.explore import sampling
    from ganstudio.core.fileio import atomic_write_bytes
    from ganstudio.core.render import save_png

    rows, cols = parse_grid(args.grid)
    out = Path(args.output)
    raw = out.suffix.lower() == ".npy"
    gen = load_model(args.model)
    chosen = chosen_classes(gen, args)
    n = args.n if args.n is not None else (rows * cols if gen.is_image else 2500)
    # A grid draws only its first rows*cols images: the rest are not generated.
    drawn = n if raw or not gen.is_image else min(n, rows * cols)
    _check_size(gen.sample_shape, gen.latent_dim, n, drawn)
    if gen.is_image and not raw:
        _check_picture(gen.sample_shape, rows, cols, args.upscale)
    z = sampling.latents(args.seed, n, gen.latent_dim)[:drawn]
    if args.truncation != 1.0:
        z = z * args.truncation
    classes = None
    if gen.classes:  # one grid row per class; raw samples cycle through the classes
        import torch

        if raw or not gen.is_image:
            cycle = chosen if chosen is not None else list(range(gen.classes))
            classes = torch.tensor(cycle, dtype=torch.int64)[sampling.cycled(drawn, len(cycle))]
        else:
            cells = grid_classes(gen, chosen, rows, cols) or []
            classes = torch.tensor(cells[:drawn], dtype=torch.int64)
    samples = sampling.generate(gen.module, z, classes=classes)
    if raw:
        import io

        buf = io.BytesIO()
        np.save(buf, sampling.samples_array(samples, gen.is_image))
        atomic_write_bytes(out, buf.getvalue())
    else:
        modes = gen.meta.get("dataset", {}).get("modes") or None
        pic = sampling.picture(
            samples,
            gen.is_image,
            rows,
            cols,
            modes=np.asarray(modes) if modes else None,
            upscale=args.upscale,
        )
        save_png(
            out,
            pic,
            {
                "ganstudio.model_hash": gen.meta.get("content_hash", ""),
                "ganstudio.seed": str(args.seed),
                "ganstudio.n": str(n),
                "ganstudio.grid": f"{rows}x{cols}",
                "ganstudio.truncation": str(args.truncation),
                **_class_text(gen, classes),
            },
        )
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _check_size(shape: tuple[int, ...], latent_dim: int, n: int, drawn: int) -> None:
    """Refuse n latents and ``drawn`` samples that would take more than MEMORY_BUDGET."""
    values = math.prod(shape)
    # 4 bytes a latent; 4 a generated value (float) and about 2 more for its uint8 copies.
    need = 4 * n * latent_dim + 6 * drawn * values
    if need > MEMORY_BUDGET:
        per = 4 * latent_dim + (6 * values if drawn == n else 0)
        what = "x".join(map(str, shape)) + (" images" if len(shape) == 3 else " points")
        raise CLIError(
            f"--n {n} would take {need / 2**30:.0f} GiB for this model's {what}; at most "
            f"{MEMORY_BUDGET // per:,} samples fit in {MEMORY_BUDGET >> 30} GiB"
        )


def _check_picture(shape: tuple[int, ...], rows: int, cols: int, upscale: int) -> None:
    """Refuse a grid picture of more than MAX_PICTURE_PIXELS."""
    h, w = shape[1] * upscale, shape[2] * upscale
    height, width = rows * h + (rows + 1) * PADDING, cols * w + (cols + 1) * PADDING
    if height * width > MAX_PICTURE_PIXELS:
        raise CLIError(
            f"the picture would be {width} x {height} pixels, more than "
            f"{MAX_PICTURE_PIXELS:,}: use a smaller --grid or --upscale"
        )


def _class_text(gen: GeneratorFile, classes: torch.Tensor | None) -> dict[str, str]:
    """The PNG text chunk naming the classes of a conditional model's picture."""
    if classes is None:
        return {}
    drawn = list(dict.fromkeys(int(c) for c in classes.tolist()))
    return {"ganstudio.classes": ",".join(gen.class_names[c] for c in drawn)}
