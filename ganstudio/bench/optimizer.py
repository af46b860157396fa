"""`ganstudio bench --optimizer`: training speed with each of PyTorch's Adam implementations.

PyTorch picks a per-tensor loop for Adam on the CPU unless asked for another; GAN Studio asks
for the fused kernel where PyTorch has one (core.training.trainer.FUSED_ADAM_DEVICES). One
process builds one trainer per implementation (the same settings and seed) and times them in
turns of ``seconds`` each, the order rotating between rounds, so that the machine's slow
spells favour no one; the table gives each one's median steps/s and its ratio to the loop's
in the same round.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from ganstudio.bench.timing import timed_steps

# name -> the options that choose the implementation
IMPLEMENTATIONS: dict[str, dict[str, bool]] = {
    "fused": {"fused": True},
    "foreach": {"foreach": True},
    "loop": {"foreach": False},
}
BASELINE = "loop"


def _trainer(spec: str, device: str, options: dict[str, bool]):
    import torch

    from ganstudio.core.config import TrainConfig
    from ganstudio.core.training.trainer import Trainer

    trainer = Trainer(TrainConfig(dataset=spec, device=device, steps=10**6, seed=0))

    def another(opt: torch.optim.Adam, net: torch.nn.Module) -> torch.optim.Adam:
        group = opt.param_groups[0]  # the same hyper-parameters, another implementation
        return torch.optim.Adam(net.parameters(), lr=group["lr"], betas=group["betas"], **options)

    trainer.opt_g = another(trainer.opt_g, trainer.G)
    trainer.opt_d = another(trainer.opt_d, trainer.D)
    for _ in range(5):  # warm-up: first allocations, kernel choices
        trainer.train_step()
    trainer.drop_pending()
    return trainer


def _rate(trainer, seconds: float) -> float:
    steps, elapsed = timed_steps(trainer, seconds)
    return steps / elapsed


def optimizer_table(
    datasets: Sequence[str] = ("builtin:ring8", "builtin:digits"),
    device: str = "cpu",
    seconds: float = 4.0,
    repeats: int = 5,
) -> str:
    """Median steps/s of each Adam implementation, and the medians of the rounds' ratios to
    the per-tensor loop."""
    import torch

    from ganstudio.core.device import pick_device
    from ganstudio.core.training.trainer import FUSED_ADAM_DEVICES

    dev = pick_device(device)
    lines = [
        f"training steps/s with each Adam implementation on {dev.type}, headless, in one "
        f"process taking turns ({seconds:g} s a turn, {repeats} round(s); "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} cores); the default is fused "
        f"on {', '.join(FUSED_ADAM_DEVICES)}",
    ]
    names = list(IMPLEMENTATIONS)
    for spec in datasets:
        trainers = {n: _trainer(spec, str(dev), IMPLEMENTATIONS[n]) for n in names}
        rates: dict[str, list[float]] = {n: [] for n in names}
        for r in range(repeats):
            for n in names[r % len(names) :] + names[: r % len(names)]:
                rates[n].append(_rate(trainers[n], seconds))
        del trainers
        lines.append(f"\n{spec}")
        lines.append(f"  {'Adam':<8} {'steps/s':>9}  ratio to the {BASELINE} (median; rounds)")
        for n in names:
            ratios = [a / b for a, b in zip(rates[n], rates[BASELINE], strict=True)]
            lines.append(
                f"  {n:<8} {statistics.median(rates[n]):9.2f}  "
                f"{statistics.median(ratios):.3f} ({', '.join(f'{x:.2f}' for x in ratios)})"
            )
    return "\n".join(lines)
