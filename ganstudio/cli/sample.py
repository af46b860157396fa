"""`ganstudio sample`: pictures or raw samples from a model file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganstudio.cli.common import CLIError, parse_grid


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ganstudio.core.explore import sampling
    from ganstudio.core.fileio import atomic_write_bytes
    from ganstudio.core.modelfile import load_generator
    from ganstudio.core.render import save_png

    gen = load_generator(args.model)
    rows, cols = parse_grid(args.grid)
    out = Path(args.output)
    raw = out.suffix.lower() == ".npy"
    if args.n is not None and args.n <= 0:
        raise CLIError("--n must be positive")
    n = args.n if args.n is not None else (rows * cols if gen.is_image else 2500)
    z = sampling.latents(args.seed, n, gen.latent_dim)
    if args.truncation != 1.0:
        z = z * args.truncation
    samples = sampling.generate(gen.module, z)
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
            },
        )
    print(f"wrote {out}", file=sys.stderr)
    return 0
