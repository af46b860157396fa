"""`ganstudio train`: the engine without the window."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ganstudio.cli.common import CLIError, Progress, print_skips
from ganstudio.cli.train_cluster import check_fresh_folder, describe, join_job, load_data
from ganstudio.core.runfolder_names import new_run_folder


def _pair(text: str, name: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise CLIError(f"{name} takes two numbers separated by a comma, e.g. 0.5,0.999") from None
    return a, b


def _add_train_args(p: argparse.ArgumentParser) -> None:
    # Torch-free lists: building the parser must not import PyTorch (plain `ganstudio` opens
    # the window first and loads the engine afterwards).
    from ganstudio.core.choices import ARCHITECTURES, D_NORMS, LOSS_NAMES, LR_SCHEDULES

    LOSSES = LOSS_NAMES

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
        "--resume",
        metavar="RUN_OR_CHECKPOINT",
        help="continue a run from its newest checkpoint (or the checkpoint file given), "
        "with its own settings; only --steps, --dataset, --device and --out may change",
    )
    g.add_argument(
        "--checkpoint-every",
        type=float,
        default=5.0,
        metavar="MINUTES",
        help="autosave a checkpoint this often (default 5; 0 = only at the end)",
    )
    g.add_argument(
        "--metrics-every",
        type=float,
        default=2.0,
        metavar="MINUTES",
        help="measure sample quality (Frechet distance, KID, precision, recall) at most this "
        "often, in at most 5%% of the time (default 2; 0 = off); logged in metrics.jsonl and "
        "used to keep the best checkpoint",
    )
    g.add_argument(
        "--keep-checkpoints",
        type=int,
        default=3,
        metavar="K",
        help="keep the newest K step checkpoints (default 3), besides the best one",
    )
    g.add_argument(
        "--steps",
        type=int,
        help="generator updates (default 5000 for images, 40000 for 2-D points)",
    )
    g.add_argument(
        "--batch-size",
        type=int,
        help="default 64 for images, 256 for 2-D points; under torchrun the global batch, "
        "split among the processes",
    )
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


# Options that may be given with --resume (the rest belong to the checkpoint).
_RESUME_OK = {
    "func",
    "command",
    "verbose",
    "quiet",
    "resume",
    "out",
    "steps",
    "dataset",
    "device",
    "preview_every",
    "checkpoint_every",
    "metrics_every",
    "keep_checkpoints",
    "auto_resumed",
}


def _open_resume(args: argparse.Namespace, quiet: bool, cluster=None):
    """(trainer, checkpoint, run folder) for --resume (also when torchrun restarted the job:
    then the options are the job's own, given again, and not checked)."""
    from ganstudio.core.checkpoint import read_checkpoint, resume
    from ganstudio.core.runs import find_checkpoint, run_folder_of

    given = sorted(
        "--" + k.replace("_", "-")
        for k, v in vars(args).items()
        if k not in _RESUME_OK and v is not None and v is not False
    )
    if given and not getattr(args, "auto_resumed", False):
        raise CLIError(
            f"{', '.join(given)} cannot be changed when resuming: the run continues with the "
            "settings saved in its checkpoint (only --steps, --dataset, --device and --out "
            "may change); start a new run to train with other settings"
        )
    ckpt = read_checkpoint(find_checkpoint(args.resume))
    spec = args.dataset or ckpt.meta["config"]["dataset"]
    if not quiet:
        print(f"Resuming {ckpt.path} at step {ckpt.step}; preparing {spec} ...", file=sys.stderr)
    dataset = load_data(spec, int(ckpt.meta["config"].get("seed", 0)), quiet, cluster)
    if not quiet:
        print_skips(dataset)
    trainer = resume(
        ckpt,
        dataset,
        cluster=cluster,
        **{
            k: v
            for k, v in {
                "steps": args.steps,
                "dataset": args.dataset,
                "device": args.device,
            }.items()
            if v is not None
        },
    )
    out = Path(args.out) if args.out else run_folder_of(ckpt.path)
    if out is None:
        raise CLIError(
            f"{ckpt.path} is not inside a run folder: say where the resumed run goes with --out"
        )
    return trainer, ckpt, out


def cmd_train(args: argparse.Namespace) -> int:
    if args.checkpoint_every < 0 or args.keep_checkpoints < 1 or args.metrics_every < 0:
        raise CLIError(
            "--checkpoint-every and --metrics-every must be >= 0 and --keep-checkpoints >= 1"
        )
    cluster = join_job(args)  # None unless torchrun started this process
    if cluster is None:
        return _train(args, None)
    code = 1
    try:
        code = _train(args, cluster)
    finally:
        cluster.close(wait=code == 0)
    return code


def _train(args: argparse.Namespace, cluster) -> int:
    from ganstudio.core.runfolder import RunWriter
    from ganstudio.core.trainer import Trainer

    main = cluster is None or cluster.is_main  # only rank 0 prints progress and writes files
    quiet = args.quiet or not main
    ckpt = None
    if args.resume:
        trainer, ckpt, out = _open_resume(args, quiet, cluster)
        dataset = trainer.data
    else:
        cfg = _config_from_args(args)
        if not quiet:
            print(f"Preparing {cfg.dataset} ...", file=sys.stderr)
        dataset = load_data(cfg.dataset, cfg.seed, quiet, cluster)
        if not quiet:
            print_skips(dataset)
        trainer = Trainer(cfg, dataset, cluster=cluster)
        out = Path(args.out) if args.out else None
        if main:
            out = out or new_run_folder("runs", trainer.config.dataset)
            check_fresh_folder(out)
    cfg = trainer.config
    writer = None
    if main:
        writer = RunWriter(
            out,
            trainer,
            preview_every=args.preview_every,
            checkpoint_every=args.checkpoint_every * 60.0,
            keep=args.keep_checkpoints,
            resumed_from=ckpt,
        )
    if not quiet:
        print(
            f"{dataset.info.count} samples of shape {dataset.info.sample_shape}; "
            f"{cfg.arch} {cfg.loss} on {trainer.device}"
            f"{' (bf16)' if trainer.amp else ''}{describe(cluster, cfg.batch_size)}; "
            f"run folder {out}",
            file=sys.stderr,
        )
        for note in () if ckpt else cfg.notes:
            print(f"  note: {note}", file=sys.stderr)
    if main:
        for note in trainer.resume_notes:  # printed even with --quiet: they matter
            print(f"  warning: {note}", file=sys.stderr)
    progress = Progress(cfg.steps, enabled=not quiet)

    def warn(warnings):
        for w in warnings:
            progress.close()  # end the progress line on a terminal
            print(f"warning: step {w.step}: {w.text()}", file=sys.stderr)

    def on_report(r):
        warn(writer.on_report(r))
        m = r.means()
        progress.update(
            r.step, f"{r.images_per_s:,.0f} img/s  G {m['g_loss']:.3f} D {m['d_loss']:.3f}  "
        )

    def on_preview(p):
        warn(writer.on_preview(p))
        if p.coverage is not None:
            progress.extra = (
                f" modes {p.coverage.modes_captured}/{p.coverage.n_modes} "
                f"HQ {p.coverage.hq_fraction:.1%}"
            )

    def on_quality(q):
        warn(writer.on_quality(q))
        if q.status == "ready" and "fd" in q.metrics:
            progress.extra = f" FD {q.metrics['fd']:.4g} (real {q.floor.get('fd', 0):.3g})"
        elif q.status == "off":
            progress.close()
            print(f"note: {q.message}", file=sys.stderr)

    tasks = ()
    if args.metrics_every > 0 and main:
        from ganstudio.core.quality import QualityMonitor

        tasks = (QualityMonitor(on_quality, interval=args.metrics_every * 60.0),)

    def on_signal(signum, frame):  # Ctrl+C, or SIGTERM (torchrun, Slurm): stop and save
        trainer.control.stop()

    # The handlers stay until the last file is written: a second signal (torchrun sends
    # SIGTERM to every process when one fails) must not cut the saving short.
    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            outcome = trainer.run(
                on_report=on_report if main else None,
                on_preview=on_preview if main else None,
                tasks=tasks,
            )
        finally:
            progress.update(trainer.step, force=True)
            progress.close()
        if main:
            if outcome.ok or outcome.lost_contact:  # the weights are fine: keep them
                writer.save_checkpoint()
            if outcome.ok:
                model = writer.save_generator()
            writer.finish(outcome)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if not outcome.ok:
        who = f"process {cluster.rank}: " if cluster is not None else ""
        print(f"error: {who}training failed: {outcome.message}", file=sys.stderr)
        if main:
            _explain_failure(out, outcome, cluster)
        return 1
    if not quiet:
        print(f"{outcome.message}. Generator: {model}", file=sys.stderr)
    return 0


def _explain_failure(out: Path, outcome, cluster) -> None:
    from ganstudio.core.runs import latest_checkpoint

    last = latest_checkpoint(out)
    again = (
        f"`torchrun ... -m ganstudio train --resume {out}` (or without torchrun)"
        if cluster is not None
        else f"`ganstudio train --resume {out}`"
    )
    if outcome.lost_contact:
        print(
            f"The run folder {out} has a checkpoint at step {outcome.step}: {again} continues "
            "from it, on any number of processes.",
            file=sys.stderr,
        )
        return
    print(
        f"The run folder {out} keeps the metrics up to the failure; no model was saved "
        "because its weights are no longer usable."
        + (f" The last good checkpoint is {last}: {again} continues from it." if last else ""),
        file=sys.stderr,
    )
