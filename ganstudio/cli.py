"""The command line: `ganstudio train`, `sample`, `bench`; plain `ganstudio` opens the window."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from ganstudio import __version__

log = logging.getLogger("ganstudio")


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


# ------------------------------------------------------------------------------------------
# Progress


def _fmt_time(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class Progress:
    """A one-line progress bar with ETA on a terminal; a line every few seconds otherwise."""

    def __init__(
        self, total: int, stream=sys.stderr, enabled: bool = True, label: str = "step"
    ) -> None:
        self.total = max(1, total)
        self.label = label
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self.start_step: int | None = None
        self._last_print = 0.0
        self.extra = ""

    def update(self, step: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.start_step is None:
            self.start_step = step
            self.start = now
        if not force and now - self._last_print < (0.2 if self.tty else 10.0):
            return
        self._last_print = now
        done = step - self.start_step
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        frac = min(1.0, step / self.total)
        bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
        line = (
            f"{self.label} {step}/{self.total} [{bar}] {frac:4.0%} "
            f"{_fmt_time(now - self.start)}<{_fmt_time(eta)}  {text}{self.extra}"
        )
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ------------------------------------------------------------------------------------------
# train


def _pair(text: str, name: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise CLIError(f"{name} takes two numbers separated by a comma, e.g. 0.5,0.999") from None
    return a, b


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from ganstudio.core.config import LR_SCHEDULES
    from ganstudio.core.losses import LOSSES
    from ganstudio.core.models import ARCHITECTURES, D_NORMS

    g = p.add_argument_group("data and run")
    g.add_argument("--config", metavar="FILE.toml", help="settings file (options below win)")
    g.add_argument(
        "--dataset",
        help="builtin:ring8 (default), builtin:grid25, builtin:spiral, "
        "builtin:moons, builtin:digits, builtin:shapes[?size=64], or your pictures: a folder, "
        "a .zip/.tar archive, MNIST idx, CIFAR .bin, .npy/.npz "
        "[?size=64&mode=rgb&resize=center-crop]",
    )
    g.add_argument("--out", metavar="FOLDER", help="run folder (default runs/<dataset>-<time>)")
    g.add_argument(
        "--steps",
        type=int,
        help="generator updates (default 5000 for images, 40000 for 2-D points)",
    )
    g.add_argument("--batch-size", type=int, help="default 64 for images, 256 for 2-D points")
    g.add_argument("--seed", type=int)
    g.add_argument(
        "--preview-every",
        type=int,
        metavar="N",
        help="save a preview picture every N steps (default: 20 over the run)",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        choices=ARCHITECTURES,
        help="default: dcgan for 28/32/64 px images, mlp otherwise",
    )
    g.add_argument("--latent-dim", type=int)
    g.add_argument("--width", type=int, help="MLP hidden size or DCGAN base channels")
    g.add_argument("--depth", type=int, help="MLP hidden layers (default 3)")
    g.add_argument("--d-norm", choices=D_NORMS, help="discriminator normalisation")
    g.add_argument("--g-norm", choices=("batch", "none"), help="MLP generator normalisation")
    g.add_argument("--pack", type=int, help="PacGAN packing for the MLP discriminator")
    g = p.add_argument_group("objective and optimiser")
    g.add_argument("--loss", choices=list(LOSSES), help="default nonsaturating")
    g.add_argument("--d-steps", type=int, help="discriminator updates per generator update")
    g.add_argument("--r1-gamma", type=float, help="R1 penalty weight (0 = off)")
    g.add_argument("--gp-weight", type=float, help="WGAN-GP penalty weight (default 10)")
    g.add_argument("--clip", type=float, help="WGAN weight clipping (default 0.01)")
    g.add_argument("--lr", type=float, help="learning rate of both G and D")
    g.add_argument("--lr-g", type=float, help="generator learning rate (default 2e-4)")
    g.add_argument("--lr-d", type=float, help="discriminator learning rate (default 2e-4)")
    g.add_argument("--betas-g", metavar="B1,B2", help="generator Adam betas (default 0.5,0.999)")
    g.add_argument("--betas-d", metavar="B1,B2", help="discriminator Adam betas")
    g.add_argument("--ema", type=float, help="generator weight-average decay (0 = off)")
    g.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        help="constant, or decay the learning rates to 0 over the run",
    )
    g = p.add_argument_group("augmentation (images)")
    g.add_argument(
        "--hflip", action="store_true", default=None, help="mirror real images left-right at random"
    )
    g.add_argument(
        "--diffaugment",
        metavar="POLICY",
        help="DiffAugment for real and fake: any of color,translation,cutout "
        "(recommended for a few thousand images or fewer)",
    )
    g = p.add_argument_group("hardware")
    g.add_argument("--device", help="auto (default: CUDA, then MPS, then CPU), cpu, cuda[:N], mps")
    g.add_argument(
        "--amp",
        dest="amp",
        action="store_true",
        default=None,
        help="bf16 mixed precision (default on where the GPU supports it)",
    )
    g.add_argument("--no-amp", dest="amp", action="store_false")


def _config_from_args(args: argparse.Namespace):
    from ganstudio.core.config import TrainConfig, load_toml

    cfg = load_toml(args.config) if args.config else TrainConfig()
    b1g = b2g = b1d = b2d = None
    if args.betas_g:
        b1g, b2g = _pair(args.betas_g, "--betas-g")
    if args.betas_d:
        b1d, b2d = _pair(args.betas_d, "--betas-d")
    return cfg.with_updates(
        dataset=args.dataset,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        arch=args.model,
        latent_dim=args.latent_dim,
        width=args.width,
        depth=args.depth,
        d_norm=args.d_norm,
        g_norm=args.g_norm,
        pack=args.pack,
        loss=args.loss,
        d_steps=args.d_steps,
        r1_gamma=args.r1_gamma,
        gp_weight=args.gp_weight,
        clip=args.clip,
        lr_g=args.lr_g if args.lr_g is not None else args.lr,
        lr_d=args.lr_d if args.lr_d is not None else args.lr,
        beta1_g=b1g,
        beta2_g=b2g,
        beta1_d=b1d,
        beta2_d=b2d,
        ema=args.ema,
        lr_schedule=args.lr_schedule,
        hflip=args.hflip,
        diffaugment=args.diffaugment,
        device=args.device,
        amp=args.amp,
    )


def _dataset_name(spec: str) -> str:
    """A short name for a dataset spec: 'builtin:shapes?n=9' -> 'shapes', '/a/b.zip' -> 'b'."""
    base = spec.partition("?")[0].rstrip("/\\")
    if base.startswith("builtin:"):
        return base.removeprefix("builtin:")
    name = Path(base).name or "dataset"
    for suffix in (".tar.gz", ".tar.bz2", ".tar.xz", ".gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "dataset"
    return Path(name).stem or "dataset"


def _load_with_progress(spec: str, seed: int, quiet: bool):
    """load_dataset with a progress bar while pictures are prepared."""
    from ganstudio.core.data import load_dataset

    bar: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(Progress(total, enabled=not quiet, label="images"))
        bar[0].update(done, force=done >= total)

    try:
        return load_dataset(spec, seed=seed, progress=progress)
    finally:
        if bar:
            bar[0].close()


def _print_skips(dataset) -> None:
    extra = dataset.info.extra
    if extra.get("skipped"):
        first = extra["skipped_examples"][0]
        print(
            f"  note: skipped {extra['skipped']} unreadable file(s), e.g. {first[0]} "
            f"({first[1]}); `ganstudio data inspect` lists them",
            file=sys.stderr,
        )
    if extra.get("detected_range"):
        print(f"  note: pixel values detected as {extra['detected_range']}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from ganstudio.core.runfolder import RunWriter
    from ganstudio.core.trainer import Trainer

    cfg = _config_from_args(args)
    quiet = args.quiet
    if not quiet:
        print(f"Preparing {cfg.dataset} ...", file=sys.stderr)
    dataset = _load_with_progress(cfg.dataset, cfg.seed, quiet)
    if not quiet:
        _print_skips(dataset)
    trainer = Trainer(cfg, dataset)
    cfg = trainer.config
    name = _dataset_name(cfg.dataset)
    out = Path(args.out or f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    writer = RunWriter(out, trainer, preview_every=args.preview_every)
    if not quiet:
        print(
            f"{dataset.info.count} samples of shape {dataset.info.sample_shape}; "
            f"{cfg.arch} {cfg.loss} on {trainer.device}"
            f"{' (bf16)' if trainer.amp else ''}; run folder {out}",
            file=sys.stderr,
        )
        for note in cfg.notes:
            print(f"  note: {note}", file=sys.stderr)
    progress = Progress(cfg.steps, enabled=not quiet)

    def on_report(r):
        writer.on_report(r)
        m = r.means()
        progress.update(
            r.step, f"{r.images_per_s:,.0f} img/s  G {m['g_loss']:.3f} D {m['d_loss']:.3f}  "
        )

    def on_preview(p):
        writer.on_preview(p)
        if p.coverage is not None:
            progress.extra = (
                f" modes {p.coverage.modes_captured}/{p.coverage.n_modes} "
                f"HQ {p.coverage.hq_fraction:.1%}"
            )

    def on_signal(signum, frame):  # Ctrl+C: stop cleanly and save what we have
        trainer.control.stop()

    old = signal.signal(signal.SIGINT, on_signal)
    try:
        outcome = trainer.run(on_report=on_report, on_preview=on_preview)
    finally:
        signal.signal(signal.SIGINT, old)
        progress.update(trainer.step, force=True)
        progress.close()
    if outcome.status != "failed":
        writer.save_checkpoint()
        model = writer.save_generator()
    writer.finish(outcome)
    if outcome.status == "failed":
        print(f"error: training failed: {outcome.message}", file=sys.stderr)
        print(
            f"The run folder {out} keeps the metrics up to the failure; no model was saved "
            "because its weights are no longer usable.",
            file=sys.stderr,
        )
        return 1
    if not quiet:
        print(f"{outcome.message}. Generator: {model}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------
# sample


def _parse_grid(text: str) -> tuple[int, int]:
    try:
        r, c = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"--grid takes ROWSxCOLS, e.g. 8x8, not {text!r}") from None
    if not (0 < r <= 64 and 0 < c <= 64):
        raise CLIError("--grid rows and columns must be between 1 and 64")
    return r, c


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ganstudio.core import sampling
    from ganstudio.core.modelfile import load_generator
    from ganstudio.core.render import atomic_write_bytes, save_png

    gen = load_generator(args.model)
    rows, cols = _parse_grid(args.grid)
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


# ------------------------------------------------------------------------------------------
# bench


def cmd_bench(args: argparse.Namespace) -> int:
    from ganstudio.core import bench

    if args.prepare:
        from ganstudio.core.data.bench_prepare import prepare_table

        if args.n < 1:
            raise CLIError("--n must be positive")
        prepare_table(n=args.n, workers=args.workers, print_fn=print)
    elif args.quality:
        bench.quality_table(
            seeds=args.seeds, steps=args.steps, datasets=args.datasets.split(","), print_fn=print
        )
    else:
        bench.speed_table(
            device=args.device or "auto",
            batch=args.batch,
            steps=args.steps or None,
            repeats=args.repeats,
            print_fn=print,
        )
    return 0


# ------------------------------------------------------------------------------------------
# data inspect


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    from ganstudio.core.data.dataset import parse_spec
    from ganstudio.core.data.summary import describe, preview
    from ganstudio.core.render import save_png

    base, options = parse_spec(args.path)
    for key in ("size", "mode", "resize", "background"):
        if getattr(args, key) is not None:
            options[key] = str(getattr(args, key))
    if args.no_cache:
        options["cache"] = "0"
    spec = f"{base}?{urlencode(options)}" if options else base
    dataset = _load_with_progress(spec, 0, args.quiet)
    for line in describe(dataset):
        print(line)
    out = Path(args.output or f"{_dataset_name(base)}-preview.png")
    save_png(out, preview(dataset), {"ganstudio.dataset": spec})
    print(f"preview:  {out}")
    return 0


# ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganstudio",
        description="GAN Studio: train, watch and explore GANs. The desktop window is not "
        "part of this version yet; the commands below run the same engine headless.",
        epilog="Start with: ganstudio train --dataset builtin:ring8 --out runs/ring8",
    )
    p.add_argument("--version", action="version", version=f"GAN Studio {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN without the window")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    _add_train_args(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a model file")
    s.add_argument("model", help="a generator file (.safetensors) from a run folder")
    s.add_argument("--grid", default="8x8", help="ROWSxCOLS for an image grid (default 8x8)")
    s.add_argument(
        "--n",
        type=int,
        help="number of samples (default: rows*cols for images, 2500 for 2-D models)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--truncation", type=float, default=1.0, help="scale latents by psi")
    s.add_argument("--upscale", type=int, default=1, help="integer upscaling of grid images")
    s.add_argument("-o", "--output", required=True, help=".png picture or .npy raw samples")
    s.set_defaults(func=cmd_sample)

    b = sub.add_parser("bench", help="measure training speed, or mode coverage (--quality)")
    b.add_argument(
        "--quality",
        action="store_true",
        help="mode coverage on ring8 and grid25 over several seeds",
    )
    b.add_argument("--device", help="auto, cpu, cuda ...")
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--steps", type=int, default=0, help="timed steps per repeat / per run")
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--seeds", type=int, default=10)
    b.add_argument("--datasets", default="ring8,grid25")
    b.add_argument(
        "--prepare",
        action="store_true",
        help="time preparing a folder of PNGs (first time, then from the cache)",
    )
    b.add_argument("--n", type=int, default=10_000, help="pictures for --prepare")
    b.add_argument("--workers", type=int, help="decode threads for --prepare")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("data", help="look at a dataset before training on it")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    i = dsub.add_parser(
        "inspect",
        help="count, sizes, modes, classes and skipped files; writes a preview grid",
        description="Prepare a dataset as training would (using the cache) and describe it.",
    )
    i.add_argument("path", help="folder, .zip/.tar archive, idx, CIFAR .bin, .npy/.npz or builtin:")
    i.add_argument("--size", type=int, help="prepared size: 28, 32, 64 or 128")
    i.add_argument("--mode", choices=("rgb", "gray"), help="default: rgb if any picture has colour")
    i.add_argument("--resize", choices=("center-crop", "stretch", "pad"))
    i.add_argument("--background", metavar="HEX", help="colour under transparency (ffffff)")
    i.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    i.add_argument("-o", "--output", help="preview PNG (default <name>-preview.png)")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    i.set_defaults(func=cmd_data_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 0
    from ganstudio.core.config import ConfigError
    from ganstudio.core.data import DatasetError
    from ganstudio.core.device import DeviceError
    from ganstudio.core.modelfile import ModelFileError

    try:
        return args.func(args)
    except (CLIError, ConfigError, DatasetError, DeviceError, ModelFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
