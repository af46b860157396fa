"""`ganstudio train`: the engine without the window."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from ganstudio.cli.common import CLIError, float_range, int_range, setting
from ganstudio.cli.train_cluster import join_job

if TYPE_CHECKING:
    from ganstudio.core.config import TrainConfig
    from ganstudio.core.runs.session import RunJob, RunResult
    from ganstudio.core.training.distributed import Cluster


def _betas(text: str) -> tuple[float, float]:
    """argparse type of Adam betas "B1,B2", each in the range of LIMITS["beta1_g"]."""
    from ganstudio.core.config import LIMITS, short_repr

    beta = LIMITS["beta1_g"]
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        a = b = math.nan
    if not (beta.contains(a) and beta.contains(b)):
        raise argparse.ArgumentTypeError(
            f"must be two numbers separated by a comma, each at least {beta.low:g} and below "
            f"{beta.high:g}, e.g. 0.5,0.999, not {short_repr(text)}"
        )
    return a, b


# The run's own options (not TrainConfig settings): minutes between saves and measurements.
MAX_MINUTES = 7 * 24 * 60  # a week; 0 turns the interval off


def add_train_args(p: argparse.ArgumentParser) -> None:
    # Torch-free lists: building the parser must not import PyTorch (plain `ganstudio` opens
    # the window first and loads the engine afterwards).
    from ganstudio.core.choices import (
        ARCHITECTURES,
        AUGMENT_MODES,
        D_NORMS,
        LOSS_NAMES,
        LR_SCHEDULES,
    )

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
    g.add_argument(
        "--out",
        metavar="FOLDER",
        help="run folder (default runs/<dataset>-<time>; with --resume, the run's own folder); "
        "never another run's folder",
    )
    g.add_argument(
        "--resume",
        metavar="RUN_OR_CHECKPOINT",
        help="continue a run from its newest checkpoint (or the checkpoint file given), "
        "with its own settings; only --steps, --dataset, --device and --out may change",
    )
    g.add_argument(
        "--checkpoint-every",
        type=float_range(0, MAX_MINUTES, note="minutes"),
        default=5.0,
        metavar="MINUTES",
        help="autosave a checkpoint this often (default 5; 0 = only at the end)",
    )
    g.add_argument(
        "--metrics-every",
        type=float_range(0, MAX_MINUTES, note="minutes"),
        default=2.0,
        metavar="MINUTES",
        help="measure sample quality (Frechet distance, KID, precision, recall) at most this "
        "often, in at most 5%% of the time (default 2; 0 = off); logged in metrics.jsonl and "
        "used to keep the best checkpoint",
    )
    g.add_argument(
        "--keep-checkpoints",
        type=int_range(1, 1000),
        default=3,
        metavar="K",
        help="keep the newest K step checkpoints (default 3), besides the best one",
    )
    g.add_argument(
        "--steps",
        type=setting("steps"),
        help="generator updates (default 5000 for images, 40000 for 2-D points)",
    )
    g.add_argument(
        "--minutes",
        type=setting("minutes"),
        help="or train for this long (pauses excluded; with --steps whichever ends first; "
        "resuming: the whole run's time)",
    )
    g.add_argument(
        "--batch-size",
        type=setting("batch_size"),
        help="default 64 for images, 256 for 2-D points; under torchrun the global batch, "
        "split among the processes",
    )
    g.add_argument("--seed", type=setting("seed"), help="0 to 4294967295 (default 0)")
    g.add_argument(
        "--preview-every",
        type=setting("steps"),
        metavar="N",
        help="save a preview picture every N steps (default: 20 over the run)",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        choices=ARCHITECTURES,
        help="default: dcgan for 28/32/64 px images, mlp otherwise; fastgan (data-efficient, "
        "28/32/64/128/256/512 px, latent 256, width 64) only when asked for",
    )
    g.add_argument(
        "--init-from",
        metavar="MODEL_OR_CHECKPOINT",
        help="start from the networks and weights of a model file, checkpoint or run folder "
        "(fine-tuning on new data); optimisers, steps and schedule start anew",
    )
    g.add_argument("--latent-dim", type=setting("latent_dim"), help="1 to 4096")
    g.add_argument(
        "--width",
        type=setting("width"),
        help="MLP hidden size (1-8192) or DCGAN / FastGAN base channels (1-1024 / 1-256)",
    )
    g.add_argument("--depth", type=setting("depth"), help="MLP hidden layers (default 3; 1-64)")
    g.add_argument(
        "--d-norm",
        choices=D_NORMS,
        help="discriminator normalisation (FastGAN: spectral norm with batch, layer or alone)",
    )
    g.add_argument("--g-norm", choices=("batch", "none"), help="MLP generator normalisation")
    g.add_argument("--pack", type=setting("pack"), help="PacGAN packing for the MLP discriminator")
    g.add_argument(
        "--conditional",
        action="store_true",
        default=None,
        help="class-conditional DCGAN / FastGAN trained on the dataset's labels (class "
        "subfolders, label files); then `sample --class NAME` draws one class (default off)",
    )
    g.add_argument("--no-conditional", dest="conditional", action="store_false")
    g = p.add_argument_group("objective and optimiser")
    g.add_argument(
        "--loss",
        choices=list(LOSSES),
        help="default: hinge for pictures with a DCGAN (chosen by `bench --images`), "
        "nonsaturating otherwise",
    )
    g.add_argument(
        "--d-steps", type=setting("d_steps"), help="discriminator updates per generator update"
    )
    g.add_argument(
        "--r1-gamma",
        type=setting("r1_gamma"),
        help="R1 penalty weight (0 = off); with --loss rpgan also the R2 weight (default 1)",
    )
    g.add_argument(
        "--gp-weight", type=setting("gp_weight"), help="WGAN-GP penalty weight (default 10)"
    )
    g.add_argument("--clip", type=setting("clip"), help="WGAN weight clipping (default 0.01)")
    g.add_argument("--lr", type=setting("lr_g"), help="learning rate of both G and D, in (0, 1]")
    g.add_argument("--lr-g", type=setting("lr_g"), help="generator learning rate (default 2e-4)")
    g.add_argument(
        "--lr-d", type=setting("lr_d"), help="discriminator learning rate (default 2e-4)"
    )
    g.add_argument(
        "--betas-g",
        type=_betas,
        metavar="B1,B2",
        help="generator Adam betas (default 0.5,0.999)",
    )
    g.add_argument("--betas-d", type=_betas, metavar="B1,B2", help="discriminator Adam betas")
    g.add_argument(
        "--ema", type=setting("ema"), help="generator weight-average decay in [0, 1) (0 = off)"
    )
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
    g.add_argument(
        "--augment",
        choices=AUGMENT_MODES,
        help="how often the DiffAugment operations apply: off, always (the default when "
        "--diffaugment is given) or auto: to each image with a probability that rises while "
        "the discriminator overfits the real images and falls when it does not (StyleGAN2-ADA); "
        "always and auto without --diffaugment use color,translation,cutout",
    )
    g.add_argument(
        "--augment-target",
        type=setting("augment_target"),
        metavar="R",
        help="--augment auto: the mean sign of D's outputs on real images to hold (default 0.6)",
    )
    g.add_argument(
        "--augment-kimg",
        type=setting("augment_kimg"),
        metavar="K",
        help="--augment auto: thousands of real images over which the probability can go "
        "from 0 to 1 (default 100)",
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


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    from ganstudio.core.config import TrainConfig, load_toml

    cfg = load_toml(args.config) if args.config else TrainConfig()
    b1g = b2g = b1d = b2d = None
    if args.betas_g:
        b1g, b2g = args.betas_g
    if args.betas_d:
        b1d, b2d = args.betas_d
    return cfg.with_updates(
        dataset=args.dataset,
        steps=args.steps,
        minutes=args.minutes,
        init_from=args.init_from,
        batch_size=args.batch_size,
        seed=args.seed,
        arch=args.model,
        latent_dim=args.latent_dim,
        width=args.width,
        depth=args.depth,
        d_norm=args.d_norm,
        g_norm=args.g_norm,
        pack=args.pack,
        conditional=args.conditional,
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
        augment=args.augment,
        augment_target=args.augment_target,
        augment_kimg=args.augment_kimg,
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
    "minutes",
    "dataset",
    "device",
    "preview_every",
    "checkpoint_every",
    "metrics_every",
    "keep_checkpoints",
    "auto_resumed",
}


def _check_resume_options(args: argparse.Namespace) -> None:
    """With --resume only a few options may be given (not checked when torchrun restarted
    the job: then the options are the job's own, given again)."""
    given = sorted(
        "--" + k.replace("_", "-")
        for k, v in vars(args).items()
        if k not in _RESUME_OK and v is not None and v is not False
    )
    if given and not getattr(args, "auto_resumed", False):
        raise CLIError(
            f"{', '.join(given)} cannot be changed when resuming: the run continues with the "
            "settings saved in its checkpoint (only --steps, --minutes, --dataset, --device and "
            "--out may change); start a new run to train with other settings"
        )


def _job(args: argparse.Namespace, cluster: Cluster | None) -> RunJob:
    from ganstudio.core.runs.session import RunJob
    from ganstudio.core.training import distributed

    common = {
        "out": args.out,
        "preview_every": args.preview_every,
        "checkpoint_every": args.checkpoint_every * 60.0,
        "keep_checkpoints": args.keep_checkpoints,
        # Quality is measured by the process that writes the run folder.
        "metrics_every": args.metrics_every * 60.0 if cluster is None or cluster.is_main else 0,
    }
    if args.resume:
        _check_resume_options(args)
        return RunJob(
            resume=args.resume,
            dataset_spec=args.dataset,
            steps=args.steps,
            minutes=args.minutes,
            device=args.device,
            runs_dir=None,  # a checkpoint outside a run folder needs --out
            **common,
        )
    restarted = distributed.launched_by_torchrun() and distributed.restart_count() > 0
    return RunJob(config=_config_from_args(args), restarted=restarted, **common)


def cmd_train(args: argparse.Namespace) -> int:
    cluster = join_job(args)  # None unless torchrun started this process
    if cluster is None:
        return _train(args, None)
    code = 1
    try:
        code = _train(args, cluster)
    finally:
        cluster.close(wait=code == 0)
    return code


def _train(args: argparse.Namespace, cluster: Cluster | None) -> int:
    from ganstudio.cli.train_sink import PrintingSink
    from ganstudio.core.runs.session import RunSession
    from ganstudio.core.training.control import TrainControl

    job = _job(args, cluster)
    control = TrainControl()
    sink = PrintingSink(args.quiet, cluster)

    # Ctrl+C, or SIGTERM (torchrun, Slurm): stop and save. The final quality measurement
    # follows a first Ctrl+C; a second one, or SIGTERM, cuts it short.
    def on_signal(signum: int, frame: FrameType | None) -> None:
        control.stop(measure=signum == signal.SIGINT and not control.stopped)

    # The handlers stay until the last file is written: a second signal (torchrun sends
    # SIGTERM to every process when one fails) must not cut the saving short.
    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = RunSession(job, control, sink, cluster).run()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if result.user_error:  # before the first step: a usage error
        raise CLIError(result.message)
    if not result.ok:
        who = f"process {cluster.rank}: " if cluster is not None else ""
        print(f"error: {who}training failed: {result.message}", file=sys.stderr)
        if sink.main and result.run_folder is not None:
            _explain_failure(result, cluster)
        return 1
    if not sink.quiet:
        print(f"{result.message}. Generator: {result.model_path}", file=sys.stderr)
    return 0


def _explain_failure(result: RunResult, cluster: Cluster | None) -> None:
    out = result.run_folder
    again = (
        f"`torchrun ... -m ganstudio train --resume {out}` (or without torchrun)"
        if cluster is not None
        else f"`ganstudio train --resume {out}`"
    )
    if result.lost_contact:
        print(
            f"The run folder {out} has a checkpoint at step {result.step}: {again} continues "
            "from it, on any number of processes.",
            file=sys.stderr,
        )
        return
    last = result.last_checkpoint
    print(
        f"The run folder {out} keeps the metrics up to the failure; no model was saved "
        "because its weights are no longer usable."
        + (f" The last good checkpoint is {last}: {again} continues from it." if last else ""),
        file=sys.stderr,
    )
