"""Benchmarks that print tables (never timed assertions in tests).

speed_table: our engine's training step against a plain loop, same networks and batch,
measured alternately in one process: the pytorch/examples DCGAN loop, or for FastGAN a plain
PyTorch loop of the same networks (hinge loss and the reconstruction loss, as the paper
trains them).
quality_table: mode coverage on the 2-D mixtures over several seeds with default settings.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.core.config import MAX_STEPS, TrainConfig
from ganstudio.core.data import load_dataset
from ganstudio.core.device import pick_device, synchronize
from ganstudio.core.models import ModelSpec, build
from ganstudio.core.training.events import Preview
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer

PrintFn = Callable[[str], None]


# ------------------------------------------------------------------------------------------
# The baseline: pytorch/examples dcgan/main.py, its networks and its loop, verbatim in spirit
# (nz=100, ngf=ndf=64, BCELoss on a Sigmoid output, .item() calls each iteration).


def _example_networks(
    nc: int, nz: int = 100, ngf: int = 64, ndf: int = 64
) -> tuple[nn.Module, nn.Module]:
    netG = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    netD = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        nn.Sigmoid(),
    )

    def weights_init(m: nn.Module) -> None:  # the classes whose names the example matches
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    netG.apply(weights_init)
    netD.apply(weights_init)
    return netG, netD


class ExampleLoop:
    """pytorch/examples' DCGAN iteration, with batches pre-made on the device."""

    def __init__(self, data_u8: torch.Tensor, batch: int, device: torch.device) -> None:
        self.device = device
        self.netG, self.netD = (m.to(device) for m in _example_networks(data_u8.shape[1]))
        self.criterion = nn.BCELoss()
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        n = len(data_u8) // batch
        x = data_u8[: n * batch].to(device).float().div(127.5).sub(1.0)
        self.batches = list(x.split(batch))  # the example's DataLoader, minus its cost
        self.batch = batch
        self.i = 0

    def step(self) -> None:
        netD, netG, criterion, device = self.netD, self.netG, self.criterion, self.device
        real = self.batches[self.i % len(self.batches)]
        self.i += 1
        b = real.size(0)
        netD.zero_grad()
        label = torch.full((b,), 1.0, dtype=torch.float, device=device)
        output = netD(real).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()  # noqa: F841  (the example prints these)
        noise = torch.randn(b, 100, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()  # noqa: F841
        errD = errD_real + errD_fake  # noqa: F841
        self.optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()  # noqa: F841
        self.optG.step()


class PlainFastGANLoop:
    """The iteration one writes from the FastGAN paper in plain PyTorch, on the same networks
    as the engine's: D minimises the hinge loss plus its reconstruction loss on real
    pictures, G minimises -D(G(z)); Adam(2e-4, 0.5, 0.999); batches pre-made on the device."""

    def __init__(
        self,
        specs: tuple[ModelSpec, ModelSpec],
        data_u8: torch.Tensor,
        batch: int,
        device: torch.device,
    ) -> None:
        self.device = device
        torch.manual_seed(0)
        self.G, self.D = (build(s).to(device) for s in specs)
        self.latent_dim = int(specs[0].kwargs["latent_dim"])
        self.optD = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        n = len(data_u8) // batch
        x = data_u8[: n * batch].to(device).float().div(127.5).sub(1.0)
        self.batches = list(x.split(batch))
        self.i = 0

    def step(self) -> None:
        real = self.batches[self.i % len(self.batches)]
        self.i += 1
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device)
        fake = self.G(z)
        real_out, recon = self.D(real, recon=True)
        fake_out = self.D(fake.detach())
        d_loss = F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean() + recon
        self.optD.zero_grad()
        d_loss.backward()
        self.optD.step()
        g_loss = -self.D(fake).mean()
        self.optG.zero_grad()
        g_loss.backward()
        self.optG.step()


def speed_table(
    device: str = "auto",
    batch: int = 64,
    steps: int | None = None,
    repeats: int = 3,
    print_fn: PrintFn = print,
    arch: str = "dcgan",
    width: int | None = None,
) -> dict[str, float | str]:
    """Images/s of our engine and of the plain loop, alternating, median of repeats.
    ``arch``: dcgan (against pytorch/examples) or fastgan (against PlainFastGANLoop);
    ``width``: FastGAN's base channels (default 64 on a GPU, 16 on the CPU)."""
    dev = pick_device(device)
    steps = steps or (200 if dev.type == "cuda" else 8)
    size = 64  # the example's networks are built for 64 px
    spec = "builtin:shapes?size=64&n=1024"  # the speed does not depend on the count
    data = load_dataset(spec, seed=0)
    if arch == "fastgan":
        width = width or (64 if dev.type == "cuda" else 16)
        fields: dict[str, Any] = {"arch": "fastgan", "loss": "hinge", "latent_dim": 256}
        fields["width"] = width
        name, plain = f"FastGAN-{size} (width {width}, hinge)", "plain PyTorch FastGAN loop"
    else:
        # the example's objective and networks: non-saturating BCE, batch norm in D
        fields = {"arch": "dcgan", "loss": "nonsaturating", "latent_dim": 100, "width": 64}
        name, plain = f"DCGAN-{size}", "pytorch/examples DCGAN loop"
    engine = Trainer(
        TrainConfig(dataset=spec, batch_size=batch, device=device, steps=MAX_STEPS, **fields),
        data,
    )
    baseline: ExampleLoop | PlainFastGANLoop = (
        PlainFastGANLoop((engine.g_spec, engine.d_spec), data.data, batch, dev)
        if arch == "fastgan"
        else ExampleLoop(data.data, batch, dev)
    )

    def time_engine() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            engine.train_step()
        engine.flush_report()  # our one host sync
        synchronize(dev)
        return steps * batch / (time.perf_counter() - t0)

    def time_baseline() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            baseline.step()
        synchronize(dev)
        return steps * batch / (time.perf_counter() - t0)

    print_fn(
        f"{name}, batch {batch}, {dev} "
        f"({'bf16, ' if engine.amp else ''}{'channels_last, ' if engine.channels_last else ''}"
        f"{torch.get_num_threads()} CPU threads), {steps} steps x {repeats} repeats"
    )
    for _ in range(2):  # warm-up (allocator, kernels)
        engine.train_step()
        baseline.step()
    engine.flush_report()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(time_engine())
        theirs.append(time_baseline())
    a, b = statistics.median(ours), statistics.median(theirs)
    print_fn(f"{'loop':<36}{'images/s (median)':>20}{'min':>10}{'max':>10}")
    print_fn(f"{plain:<36}{b:>20.1f}{min(theirs):>10.1f}{max(theirs):>10.1f}")
    print_fn(f"{'ganstudio engine':<36}{a:>20.1f}{min(ours):>10.1f}{max(ours):>10.1f}")
    print_fn(f"ratio engine / plain loop: {a / b:.2f}")
    return {"engine": a, "example": b, "ratio": a / b, "device": str(dev)}


# ------------------------------------------------------------------------------------------
# Quality: mode coverage on the 2-D mixtures


def _coverage_run(job: tuple[str, int, int | None]) -> tuple[str, int, int, int, float, float]:
    dataset, seed, steps = job
    torch.set_num_threads(1)
    cfg = TrainConfig(dataset=f"builtin:{dataset}", seed=seed, device="cpu")
    if steps:
        cfg = cfg.with_updates(steps=steps)
    trainer = Trainer(cfg)
    t0 = time.perf_counter()
    last: list[Preview] = []
    outcome = run_training(trainer, on_preview=last.append)
    cov = last[-1].coverage
    if not outcome.ok or cov is None:
        return dataset, seed, 0, 0, 0.0, time.perf_counter() - t0
    return dataset, seed, cov.modes_captured, cov.n_modes, cov.hq_fraction, time.perf_counter() - t0


def quality_table(
    seeds: int = 10,
    steps: int | None = None,
    datasets: list[str] | tuple[str, ...] = ("ring8", "grid25"),
    print_fn: PrintFn = print,
    workers: int | None = None,
) -> dict[str, dict[str, float]]:
    """Train each dataset with default settings over `seeds` seeds; print coverage per run."""
    jobs = [(d, s, steps) for d in datasets for s in range(seeds)]
    workers = workers or max(1, min(len(jobs), os.cpu_count() or 1))
    print_fn(
        f"Mode coverage with default settings, {seeds} seeds, 2,500 samples per run, "
        f"{workers} worker process(es)"
    )
    ctx = mp.get_context("spawn")
    results: dict[str, list[tuple[int, int, int, float, float]]] = {d: [] for d in datasets}
    with ctx.Pool(workers) as pool:
        for d, s, got, n, hq, secs in pool.imap_unordered(_coverage_run, jobs):
            results[d].append((s, got, n, hq, secs))
            print_fn(
                f"  {d:<8} seed {s:>2}: {got}/{n} modes, {hq:6.1%} high quality ({secs:.0f} s)"
            )
    summary: dict[str, dict[str, float]] = {}
    print_fn("")
    print_fn(f"{'dataset':<10}{'runs':>6}{'all modes':>11}{'modes (mean)':>14}{'HQ (mean)':>11}")
    for d in datasets:
        rows = results[d]
        n_modes = rows[0][2] if rows else 0
        full = sum(1 for r in rows if r[1] == r[2])
        mean_modes = float(np.mean([r[1] for r in rows]))
        mean_hq = float(np.mean([r[3] for r in rows]))
        summary[d] = {"runs": len(rows), "all_modes": full, "modes": mean_modes, "hq": mean_hq}
        print_fn(
            f"{d:<10}{len(rows):>6}{full:>8}/{len(rows):<2}{mean_modes:>10.2f}/{n_modes:<3}"
            f"{mean_hq:>11.1%}"
        )
    return summary
