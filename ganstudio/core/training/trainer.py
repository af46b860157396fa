"""The training loop. Read ``Trainer.train_step`` top to bottom: that is one GAN iteration.

Cost notes in comments name what a line costs. The loop never copies a value to the host
per step: per-step losses stay on the device and are fetched once per report (~100 ms).
Reports, previews and snapshots are frozen dataclasses of NumPy arrays, safe to hand to
another thread.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ganstudio.core.batching import generation_batch
from ganstudio.core.choices import parse_policy
from ganstudio.core.conditioning import run_discriminator, run_generator
from ganstudio.core.config import ConfigError, Resolved, TrainConfig, lr_factor, resolve
from ganstudio.core.data.dataset import Dataset
from ganstudio.core.data.load import load_dataset
from ganstudio.core.device import bf16_supported, memory_in_use, pick_device
from ganstudio.core.models import ModelSpec, build, model_specs
from ganstudio.core.quality.coverage import COVERAGE_SAMPLES, mode_coverage
from ganstudio.core.render import grid_shape, make_grid, to_uint8
from ganstudio.core.training.augment import AdaptiveAugment, diff_augment, random_hflip
from ganstudio.core.training.control import TrainControl
from ganstudio.core.training.distributed import Cluster, check_split, rank_seed
from ganstudio.core.training.events import STAT_NAMES, Preview, Report, Snapshot
from ganstudio.core.training.init_from import read_start
from ganstudio.core.training.losses import get_loss, gradient_penalty, r1_penalty, r2_penalty

log = logging.getLogger(__name__)

# Largest share of the device's free memory the dataset may take before it is kept on the host.
DATA_MEMORY_BUDGET = 0.5
# Weight of a self-supervised discriminator's reconstruction loss on real pictures (FastGAN
# adds it to D's loss unweighted).
RECON_WEIGHT = 1.0

# Devices whose Adam runs as one fused kernel (MPS's needs a newer PyTorch than we require).
FUSED_ADAM_DEVICES = ("cuda", "cpu")

# What the discriminator's half of a step hands to the generator's half: G's output (with its
# graph), D's outputs on the real and the generated batch, D's summed loss, D's gradient norm,
# and the last real batch (detached, before augmentation: a relativistic G loss judges it).
DHalf = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def data_fits_device(dataset: Dataset, device: torch.device) -> bool:
    """Whether the dataset should live on the training device."""
    if device.type != "cuda":
        return True  # CPU: it is already there; MPS shares memory with the host
    free, _ = torch.cuda.mem_get_info(device)
    return dataset.data.numel() * dataset.data.element_size() <= DATA_MEMORY_BUDGET * free


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all the parameters' gradients together (on the device, no sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())


class Trainer:
    """Owns the models, optimisers and data for one run and trains them on one device."""

    # The automatic choices of ``config``, never None: kept in step with it.
    resolved: Resolved

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset | None = None,
        control: TrainControl | None = None,
        specs: tuple[ModelSpec, ModelSpec] | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        """``specs`` (generator, discriminator) replace the networks the config implies: a
        resumed run keeps its own (see core.training.checkpoint.resume). ``cluster``: this process's
        place in a torchrun job (core.training.distributed); None trains alone."""
        self.cluster = cluster
        self.rank = cluster.rank if cluster else 0
        self.world_size = cluster.world_size if cluster else 1
        self.device = cluster.device if cluster else pick_device(config.device)
        if dataset is None:
            dataset = load_dataset(config.dataset, seed=config.seed)
        # Fine-tuning: the networks (and their weights) of an earlier model. A resumed run
        # (specs given) has them in its checkpoint already.
        start = None
        if config.init_from and specs is None:
            start = read_start(config.init_from)
            start.check_fits(dataset.info)
            config = start.settle(config)
        self.config = cfg = resolve(config, dataset.info, accelerator=self.device.type != "cpu")
        if start is not None:
            self.config = cfg = replace(
                cfg, notes=(*cfg.notes, f"started from the {start.describe()}")
            )
        r = self.resolved
        check_split(r.batch_size, r.pack, self.world_size)
        full = dataset
        dataset = dataset.shard(self.rank, self.world_size)
        self.control = control or TrainControl()
        self.info = dataset.info
        # uint8 on the device when it fits the budget (cheap to hold, cast per batch); else it
        # stays in host memory and each batch is copied over asynchronously.
        self.data_on_device = (
            data_fits_device(dataset, self.device)
            if cfg.data_on_device is None
            else bool(cfg.data_on_device)
        )
        self.data = dataset.to(self.device) if self.data_on_device else dataset.to("cpu")
        self.cpu_rng = torch.Generator().manual_seed(rank_seed(cfg.seed, self.rank) + 2)
        self.loss = get_loss(r.loss)
        self.aug_ops = parse_policy(cfg.diffaugment)
        # --augment auto: the probability of each DiffAugment operation, steered by D's
        # outputs on real data (StyleGAN2-ADA); None applies the operations always.
        self.ada = (
            AdaptiveAugment(
                self.device,
                r.batch_size,
                target=cfg.augment_target,
                kimg=cfg.augment_kimg,
                world_size=self.world_size,
                all_reduce=cluster.sum_ if cluster is not None else None,
            )
            if r.augment == "auto"
            else None
        )
        # bf16 autocast: on by default where the GPU supports it. Asked for explicitly, it
        # also runs on the CPU (correct, though only CPUs with AMX make it faster).
        if cfg.amp is None:
            self.amp = bf16_supported(self.device)
        else:
            self.amp = bool(cfg.amp) and (bf16_supported(self.device) or self.device.type == "cpu")
        if cfg.amp and not self.amp:
            log.warning(
                "bf16 mixed precision is not supported on %s; training in fp32", self.device
            )
        self.channels_last = (
            (self.device.type == "cuda" and r.arch in ("dcgan", "fastgan"))
            if cfg.channels_last is None
            else bool(cfg.channels_last)
        )
        memory_format = torch.channels_last if self.channels_last else torch.preserve_format

        if specs is not None:
            self.g_spec, self.d_spec = specs
        else:
            data_mean: list[float] | None = None
            data_std = 1.0
            if not self.info.is_image:  # let the MLPs work at unit scale (grid25 spans +-4)
                pts = full.data.float()  # all of it: every process builds the same networks
                data_mean = [round(float(v), 6) for v in pts.mean(0)]
                data_std = round(float(pts.std()), 6) or 1.0
            self.g_spec, self.d_spec = model_specs(
                r.arch,
                self.info.sample_shape,
                r.latent_dim,
                r.width,
                cfg.depth,
                r.d_norm,
                r.pack,
                g_norm=r.g_norm,
                data_mean=data_mean,
                data_std=data_std,
                classes=conditional_classes(full) if r.conditional else 0,
            )
            if start is not None:  # its networks; a model file's D is a new one
                self.g_spec, self.d_spec = (
                    start.networks.g_spec,
                    start.networks.d_spec or self.d_spec,
                )
        # Class-conditional networks (core.conditioning) train on the dataset's labels.
        self.classes = int(self.g_spec.kwargs.get("classes", 0))
        self.class_names: tuple[str, ...] = ()
        if self.classes:
            check_labels(full, self.classes)
            names = full.class_name_list()
            self.class_names = tuple(names + [str(i) for i in range(len(names), self.classes)])
        with torch.random.fork_rng(devices=[]):  # seeded init without touching global RNG
            torch.manual_seed(cfg.seed)
            # Module.to takes memory_format (see its documentation); torch's overloads omit it.
            g_net, d_net = build(self.g_spec), build(self.d_spec)
            self.G: nn.Module = g_net.to(self.device, memory_format=memory_format)  # type: ignore[call-overload]
            self.D: nn.Module = d_net.to(self.device, memory_format=memory_format)  # type: ignore[call-overload]
            fixed = torch.randn(self._preview_count(), r.latent_dim)
        if start is not None:
            start.load_into(self.G, None, self.D)
        # The weight average exists once, on rank 0 (it writes everything a run leaves).
        self.G_ema = (
            copy.deepcopy(self.G).eval().requires_grad_(False)
            if r.ema > 0 and self.rank == 0
            else None
        )
        if start is not None and self.G_ema is not None and start.ema_state is not None:
            self.G_ema.load_state_dict(start.ema_state, strict=False)
        self.fixed_z = fixed.to(self.device)
        # The preview's classes: one row per class, cycled (no random draw: the run's random
        # streams are those of an unconditional run).
        self.fixed_y = preview_classes(len(fixed), self.classes, self.device)
        self.rng = torch.Generator(self.device).manual_seed(rank_seed(cfg.seed, self.rank) + 1)
        # What the training step calls: the networks themselves, or under torchrun their
        # DistributedDataParallel wrappers, which average the gradients across processes.
        # Everything else (previews, probes, checkpoints) uses the networks themselves.
        self.G_train, self.D_train = self.G, self.D
        # A self-supervised D (FastGAN) also learns to reconstruct the real pictures.
        self.d_reconstructs = bool(getattr(self.D, "reconstructs", False))
        if cluster is not None:
            self.G_train, self.D_train = cluster.wrap(self.G), cluster.wrap(self.D)
        # Probes draw from their own generator, so watching never changes the run.
        self.probe_rng = torch.Generator().manual_seed(cfg.seed + 3)
        # The plane the 2-D probes draw D's field over: fixed by the first probe.
        self.field_extent: tuple[float, float, float, float] | None = None
        self._sample_batch: int | None = None  # latents per pass in sample() (core.batching)

        # One fused kernel for every parameter's update (PyTorch >= 2.4 has it on the CPU too):
        # on 2 cores, 1.14x the steps/s of the per-tensor loop PyTorch picks by itself on the
        # CPU for ring8, 1.02x for digits (`ganstudio bench --optimizer`, README).
        fused = self.device.type in FUSED_ADAM_DEVICES
        self.opt_g = torch.optim.Adam(
            self.G.parameters(), lr=r.lr_g, betas=(r.beta1_g, r.beta2_g), fused=fused or None
        )
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=r.lr_d, betas=(r.beta1_d, r.beta2_d), fused=fused or None
        )
        self._g_params = list(self.G.parameters())
        self._d_params = list(self.D.parameters())

        self.step = 0  # generator steps done
        # The classes of the last D step's real and generated batch (None unconditional).
        self._last_classes: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
        self.elapsed = 0.0
        self.version = 0  # of previews/snapshots
        self.resume_notes: list[str] = []  # set by core.training.checkpoint.resume
        self.failure: str | None = None  # why training cannot go on (NaN loss)
        self._pending: list[torch.Tensor] = []  # per-step stats, still on the device
        self._pending_from = 1
        self._last_report_time = time.perf_counter()
        self._last_report_step = 0
        # Every step's statistics so far (for curves after a resume), in chunks.
        self._history: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def config(self) -> TrainConfig:
        """The run's resolved settings (live edits replace them between two steps)."""
        return self._config

    @config.setter
    def config(self, cfg: TrainConfig) -> None:
        self._config = cfg
        self.resolved = Resolved.of(cfg)

    # ---------------------------------------------------------------------------------
    # One iteration

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.resolved.latent_dim, device=self.device, generator=self.rng)

    @property
    def local_batch(self) -> int:
        """Samples per step in this process: the global batch split among the processes."""
        return self.resolved.batch_size // self.world_size

    def reseed_for_rank(self, step: int) -> None:
        """Fresh draws for a process other than rank 0 after a resume (a checkpoint keeps
        rank 0's random state only: copying it would make every process draw alike)."""
        if self.rank > 0:
            base = rank_seed(self.config.seed, self.rank) + 10_007 * step
            self.rng.manual_seed(base + 1)
            self.cpu_rng.manual_seed(base + 2)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A real batch and, for a conditional run, its labels (else None)."""
        y = None
        if self.data_on_device:
            if self.classes:
                x, y = self.data.sample_labelled(self.local_batch, generator=self.rng)
            else:
                x = self.data.sample(self.local_batch, generator=self.rng)
        else:
            idx = torch.randint(len(self.data), (self.local_batch,), generator=self.cpu_rng)
            raw = self.data.data[idx]
            if self.classes:
                assert self.data.labels is not None  # checked when the run was built
                y = self.data.labels[idx].long().to(self.device, non_blocking=True)
            if self.device.type == "cuda":  # pinned: the copy below does not block the host
                raw = raw.pin_memory()
            x = self.data.normalize(raw.to(self.device, non_blocking=True))
        if self.config.hflip:
            x = random_hflip(x, self.rng)
        x = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        return x, y

    def _fake_classes(self, n: int) -> torch.Tensor | None:
        """Uniformly random classes for generated samples (None unconditional), from the
        run's generator so a resume draws the same."""
        if not self.classes:
            return None
        return torch.randint(self.classes, (n,), device=self.device, generator=self.rng)

    def _real_scores(
        self, real_in: torch.Tensor, y: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's outputs on the real batch (of classes y), and the loss of D reconstructing
        it when D is self-supervised (FastGAN; its quarter crops drawn from the run's
        generator)."""
        if not self.d_reconstructs:
            return run_discriminator(self.D_train, real_in, y), None
        real_out, recon = run_discriminator(
            self.D_train, real_in, y, recon=True, generator=self.rng
        )
        return real_out, RECON_WEIGHT * recon

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: DiffAugment applies to real and fake alike, differentiably (with
        --augment auto, each operation to each sample with the current probability)."""
        if not self.aug_ops:
            return x
        return diff_augment(x, self.aug_ops, self.rng, self.ada.p if self.ada else None)

    def _set_learning_rates(self) -> None:
        r = self.resolved
        f = lr_factor(r.lr_schedule, self.progress())
        for group in self.opt_g.param_groups:
            group["lr"] = r.lr_g * f
        for group in self.opt_d.param_groups:
            group["lr"] = r.lr_d * f

    def train_step(self) -> None:
        """d_steps discriminator updates, then one generator update, then the EMA update."""
        self.g_half(self.d_half())

    def d_half(self) -> DHalf:
        """The discriminator's half of a step: d_steps updates of D. Returns what the
        generator's half needs (slow motion runs the two halves with a pause between)."""
        cfg, r, loss, G, D = self.config, self.resolved, self.loss, self.G_train, self.D_train
        if r.lr_schedule != "constant":
            self._set_learning_rates()
        bs = self.local_batch
        self.D.requires_grad_(True)
        d_total = torch.zeros((), device=self.device)
        for i in range(r.d_steps):
            real, y_real = self._real_batch()
            z = self._latents(bs)
            y_fake = self._fake_classes(bs)
            last = i == r.d_steps - 1
            # Earlier D steps need no graph through G. On the last one, G's output is kept
            # with its graph and reused for G's update, as pytorch/examples' DCGAN does:
            # one G forward per iteration instead of two.
            with self._autocast(), torch.set_grad_enabled(last):
                fake = G(z) if y_fake is None else G(z, y_fake)
            if r.r1_gamma > 0:
                real.requires_grad_(True)
            # R3GAN's R2: the same zero-centred penalty on the generated batch.
            r2 = r.r1_gamma > 0 and r.loss == "rpgan"
            fake_d = fake.detach().requires_grad_(r2)
            real_in, fake_in = self._d_input(real), self._d_input(fake_d)
            with self._autocast():
                real_out, recon = self._real_scores(real_in, y_real)
                fake_out = run_discriminator(D, fake_in, y_fake)
                d_loss = loss.d_loss(real_out.float(), fake_out.float())
                if recon is not None:
                    d_loss = d_loss + recon
            if r.loss == "wgan-gp":
                d_of = D if y_real is None else (lambda x: D(x, y_real))  # noqa: B023
                d_loss = d_loss + cfg.gp_weight * gradient_penalty(d_of, real_in, fake_in, self.rng)
            if r.r1_gamma > 0:
                d_loss = d_loss + 0.5 * r.r1_gamma * r1_penalty(real_out, real)
            if r2:
                d_loss = d_loss + 0.5 * r.r1_gamma * r2_penalty(fake_out, fake_d)
            if self.ada is not None:  # device ops only: the signs are summed there
                self.ada.observe(
                    loss.real_margin(real_out.detach().float(), fake_out.detach().float())
                )
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            if last:
                d_grad = grad_norm(self._d_params)
            self.opt_d.step()
            if r.loss == "wgan":
                with torch.no_grad():
                    torch._foreach_clamp_min_(self._d_params, -cfg.clip)
                    torch._foreach_clamp_max_(self._d_params, cfg.clip)
            d_total += d_loss.detach()
        self._last_classes = (y_real, y_fake)  # the G half judges the same classes
        return fake, real_out, fake_out, d_total, d_grad, real.detach()

    def g_half(self, d_result: DHalf) -> None:
        """The generator's half of a step: one update of G against the current D, then EMA."""
        # D itself, not its DDP wrapper: D is not updated here, so nothing is averaged.
        r, loss, D = self.resolved, self.loss, self.D
        fake, real_out, fake_out, d_total, d_grad, real = d_result
        y_real, y_fake = self._last_classes
        # D's weights need no gradients here: skipping them saves about a third of D's
        # backward pass.
        D.requires_grad_(False)
        with self._autocast():
            g_real = None
            if loss.g_needs_real:  # a relativistic loss: D's scores on the last real batch
                with torch.no_grad():  # constants for G: nothing flows back through them
                    g_real = run_discriminator(D, self._d_input(real), y_real).float()
            g_out = run_discriminator(D, self._d_input(fake), y_fake)
            g_loss = loss.g_loss(g_out.float(), g_real)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        g_grad = grad_norm(self._g_params)
        self.opt_g.step()
        self._update_ema()
        if self.ada is not None:
            self.ada.step()  # every few steps moves p, on the device

        with torch.no_grad():  # a few tiny device ops; no host sync
            if loss.probabilistic:
                d_real, d_fake = (
                    torch.sigmoid(real_out.float()).mean(),
                    torch.sigmoid(fake_out.float()).mean(),
                )
            else:
                d_real, d_fake = real_out.float().mean(), fake_out.float().mean()
            self._pending.append(
                torch.stack([g_loss.detach(), d_total / r.d_steps, d_real, d_fake, g_grad, d_grad])
            )
        self.step += 1

    def _update_ema(self) -> None:
        if self.G_ema is None:
            return
        # Warm-up: early weights are mostly noise, so average over (1 + t) / (10 + t) at first.
        decay = min(self.resolved.ema, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.G_ema.parameters()), self._g_params, 1.0 - decay)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)

    # ---------------------------------------------------------------------------------
    # Reporting

    def sampler(self) -> nn.Module:
        """The network to sample from: the EMA generator when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    def _preview_count(self) -> int:
        return self.config.preview_count if self.info.is_image else COVERAGE_SAMPLES

    def training_seconds(self) -> float:
        """Seconds of training so far (paused time not counted), up to this moment."""
        return self.elapsed + self.seconds_since_report()

    def progress(self) -> float:
        """The share of the budget spent, 0 to 1: of the steps, or of the minutes when the
        run has a time budget and that is nearer its end."""
        r, minutes = self.resolved, self.config.minutes
        done = self.step / r.steps
        # Under torchrun every process must set the same learning rate, and their clocks
        # differ: there the schedule follows the steps only.
        if minutes and self.cluster is None:
            done = max(done, self.training_seconds() / (60.0 * minutes))
        return min(done, 1.0)

    def out_of_time(self) -> bool:
        """Whether the run has a time budget and has spent it."""
        minutes = self.config.minutes
        return bool(minutes and self.training_seconds() >= 60.0 * minutes)

    def budget_spent(self) -> bool:
        """Whether the run has reached its step budget or its time budget."""
        return self.step >= self.resolved.steps or self.out_of_time()

    def restart_clock(self) -> None:
        """Time from now on counts toward the next report (paused time is not training)."""
        self._last_report_time = time.perf_counter()

    def seconds_since_report(self) -> float:
        return time.perf_counter() - self._last_report_time

    def drop_pending(self) -> None:
        """Forget the statistics of steps not yet reported (after running out of memory,
        or timing steps whose numbers nobody reads)."""
        self._pending.clear()

    def pending_history(self) -> tuple[np.ndarray, np.ndarray]:
        """The steps trained but not reported yet: (steps, stats) like ``history`` (a host
        sync when there are any)."""
        if not self._pending:
            return np.zeros(0, np.int64), np.zeros((0, len(STAT_NAMES)), np.float32)
        stats = torch.stack(self._pending).float().cpu().numpy()
        start = self._pending_from
        return np.arange(start, start + len(stats), dtype=np.int64), stats

    def continue_at(self, step: int, elapsed: float, version: int) -> None:
        """Carry on from ``step`` (a restored checkpoint): nothing pending, reports and
        previews numbered from there."""
        self.step = step
        self.elapsed = elapsed
        self.version = version
        self._pending.clear()
        self._pending_from = step + 1
        self._last_report_step = step
        self.reseed_for_rank(step)

    def flush_report(self) -> Report | None:
        """Gather the stats since the last report: ONE host sync. None if nothing is new."""
        if not self._pending:
            return None
        pending = torch.stack(self._pending).float()
        augment_p = None
        if self.ada is not None:  # fetched with the stats: still one sync
            both = torch.cat([pending.flatten(), self.ada.p.float().view(1)]).cpu().numpy()
            stats, augment_p = both[:-1].reshape(pending.shape), float(both[-1])
        else:
            stats = pending.cpu().numpy()  # host sync
        self._pending.clear()
        now = time.perf_counter()
        dt = max(now - self._last_report_time, 1e-9)
        n = len(stats)
        self.elapsed += dt
        if self.failure is None and not np.isfinite(stats[:, :2]).all():
            # The report still goes out (the curves show the blow-up); run() then stops.
            bad = int(np.argmax(~np.isfinite(stats[:, :2]).all(axis=1)))
            col = 0 if not np.isfinite(stats[bad, 0]) else 1
            value = "NaN" if np.isnan(stats[bad, col]) else "infinite"
            self.failure = (
                f"the {('generator', 'discriminator')[col]} loss became {value} at step "
                f"{self._pending_from + bad}: training diverged. Try lower learning rates, "
                "another loss (non-saturating, hinge, WGAN-GP) or an R1 penalty."
            )
        r = self.resolved
        report = Report(
            step=self.step,
            total_steps=r.steps,
            steps=np.arange(self._pending_from, self._pending_from + n, dtype=np.int64),
            g_loss=stats[:, 0].copy(),
            d_loss=stats[:, 1].copy(),
            d_real=stats[:, 2].copy(),
            d_fake=stats[:, 3].copy(),
            g_grad=stats[:, 4].copy(),
            d_grad=stats[:, 5].copy(),
            images_per_s=n * r.batch_size * r.d_steps / dt,
            steps_per_s=n / dt,
            elapsed=self.elapsed,
            memory=memory_in_use(self.device),
            lr_g=r.lr_g,
            lr_d=r.lr_d,
            d_steps=r.d_steps,
            budget_seconds=60.0 * cfg.minutes if (cfg := self.config).minutes else None,
            augment_p=augment_p,
        )
        self._history.append((report.steps, stats))
        self._pending_from += n
        self._last_report_time = now
        return report

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """Every reported step: (steps int64 (n,), stats float32 (n, 6) in STAT_NAMES order)."""
        if len(self._history) != 1:
            steps = [h[0] for h in self._history] or [np.zeros(0, np.int64)]
            stats = [h[1] for h in self._history] or [np.zeros((0, len(STAT_NAMES)), np.float32)]
            self._history = [(np.concatenate(steps), np.concatenate(stats))]
        return self._history[0]

    def set_history(self, steps: np.ndarray, stats: np.ndarray) -> None:
        """Replace the history; older files' fewer columns read back as NaN."""
        stats = np.asarray(stats, np.float32)
        stats = stats.reshape(len(steps), stats.shape[-1] if stats.ndim == 2 else len(STAT_NAMES))
        if stats.shape[1] < len(STAT_NAMES):
            pad = np.full((len(stats), len(STAT_NAMES) - stats.shape[1]), np.nan, np.float32)
            stats = np.concatenate([stats, pad], axis=1)
        self._history = [(np.asarray(steps, np.int64), stats[:, : len(STAT_NAMES)])]

    @torch.no_grad()
    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Generator output for latents z (float, in data units), in batches sized by the
        generator's activations (core.batching: a batch of 1,000 digits ran 3 times slower
        than batches of 256 on the CPU). A conditional generator draws classes y (default:
        cycled, see run_generator)."""
        g = self.sampler()
        if self._sample_batch is None:
            self._sample_batch = generation_batch(g, z.shape[1], self.device)
        batch = self._sample_batch
        if y is None and self.classes:
            y = preview_classes(len(z), self.classes, "cpu", rows=False)
        chunks = z.split(batch)
        ys = [None] * len(chunks) if y is None else y.split(batch)
        was_training = g.training
        g.eval()
        try:
            return torch.cat(
                [
                    run_generator(g, chunk.to(self.device), None if c is None else c).float()
                    for chunk, c in zip(chunks, ys)
                ]
            )
        finally:
            g.train(was_training)

    def preview(self) -> Preview:
        out = self.sample(self.fixed_z, self.fixed_y)
        if self.info.is_image:
            samples = to_uint8(out)
            return Preview(self.step, self.version, make_grid(samples), samples, None)
        points = out.cpu().numpy().astype(np.float32)
        sigma = self.info.mode_sigma  # set wherever modes are (built-in mixtures)
        cov = (
            mode_coverage(points, np.asarray(self.info.modes), sigma)
            if self.info.modes and sigma is not None
            else None
        )
        return Preview(self.step, self.version, np.zeros((0, 0, 3), np.uint8), points, cov)

    def snapshot(self) -> Snapshot:
        state = {
            k: v.detach().float().cpu().numpy().copy()
            for k, v in self.sampler().state_dict().items()
            if v.is_floating_point()
        }
        return Snapshot(self.version, self.step, self.g_spec, state)

    # ---------------------------------------------------------------------------------
    # Live edits

    def apply_edits(self, edits: dict[str, Any]) -> None:
        if not edits:
            return
        self.config = replace(self.config, **edits)
        self._set_learning_rates()
        log.info("applied live edits at step %d: %s", self.step, edits)


def conditional_classes(dataset: Dataset) -> int:
    """The class count a conditional run on ``dataset`` conditions on; ConfigError when the
    data has no labels or only one class."""
    count = dataset.class_count
    if count < 2:
        what = "has no labels" if dataset.labels is None else "has only one class"
        raise ConfigError(
            f"conditional training needs labelled pictures of two classes or more, but "
            f"{dataset.info.name} {what} (labels come from class subfolders, MNIST/CIFAR "
            "label files or .npz labels): turn conditional off"
        )
    return count


def check_labels(dataset: Dataset, classes: int) -> None:
    """ConfigError unless the dataset's labels fit a network of ``classes`` classes."""
    count = conditional_classes(dataset)
    if count > classes:
        raise ConfigError(
            f"{dataset.info.name} has {count} classes, but the class-conditional networks "
            f"were made for {classes}"
        )


def preview_classes(
    n: int, classes: int, device: torch.device | str, rows: bool = True
) -> torch.Tensor | None:
    """Classes for n preview samples: one row of the preview grid per class (cycled), or
    0, 1, 2, ... when not ``rows``; None for an unconditional run."""
    if not classes:
        return None
    index = torch.arange(n, device=device)
    if rows:
        index = index // grid_shape(n)[1]
    return index % classes
