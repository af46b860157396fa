"""The window's calls into the engine. Each imports core (and so PyTorch) lazily: the window
is on screen before the first of them runs. The ``*_task`` functions run in background
threads and return frozen, Qt-free payloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ganstudio.core.data.dataset import Dataset, DatasetInfo
    from ganstudio.core.modelfile import GeneratorFile
    from ganstudio.core.training.events import Snapshot
    from ganstudio.core.training.init_from import StartNetworks


def load_engine(progress: Callable[[int, int], None]) -> list[tuple[str, str]]:
    """Import the engine; the devices to train on as (name, description), preferred first."""
    import gc

    import ganstudio.core.training.trainer  # noqa: F401  (the heavy import: PyTorch)
    from ganstudio.core.device import available_devices

    # Modules live as long as the program: keep the collector's full passes from walking
    # PyTorch's many objects again and again (each pass would pause the window).
    gc.freeze()

    return [(d.name, d.description) for d in available_devices()]


@dataclass(frozen=True)
class PreparedData:
    spec: str
    dataset: Dataset  # on the CPU
    info: DatasetInfo
    summary: str
    picture: np.ndarray | None  # images: a grid of real samples
    points: np.ndarray | None  # 2-D: real points


def prepare_dataset_task(
    spec: str, largest_auto_size: int | None = None
) -> Callable[[Callable[[int, int], None]], PreparedData]:
    def run(progress: Callable[[int, int], None]) -> PreparedData:
        from ganstudio.core.data import load_dataset
        from ganstudio.core.data.summary import describe, preview

        dataset = load_dataset(spec, seed=0, progress=progress, largest_auto_size=largest_auto_size)
        info = dataset.info
        if info.is_image:
            lines = describe(dataset)
            return PreparedData(spec, dataset, info, "\n".join(lines), preview(dataset, 36), None)
        n = len(dataset)
        summary = f"{info.name}: {n:,} points in 2-D"
        if info.modes:
            summary += f", {len(info.modes)} modes (sigma {info.mode_sigma:g})"
        return PreparedData(spec, dataset, info, summary, None, dataset.data[:2000].numpy())

    return run


def check_settings(
    fields: dict, info: DatasetInfo, accelerator: bool = False
) -> tuple[dict | None, str]:
    """(resolved settings, a sentence) for the set-up panel; (None, reason) when invalid.
    ``accelerator``: the chosen device is a GPU (the automatic choices depend on it)."""
    from ganstudio.core.config import Resolved, TrainConfig, resolve
    from ganstudio.core.errors import UserError
    from ganstudio.core.models import checked_spec, model_specs

    try:
        config = TrainConfig(**fields)
        start = ""
        if config.init_from:
            networks = starting_networks(config.init_from)
            networks.check_fits(info)
            config = networks.settle(config)
            at = f" at step {networks.step:,}" if networks.step is not None else ""
            start = f" Starts from the {networks.kind} {networks.path.name}{at}."
        cfg = resolve(config, info, accelerator=accelerator)
        r = Resolved.of(cfg)
        # The networks these settings make, checked as training will (sizes, weights).
        for spec in model_specs(
            r.arch,
            info.sample_shape,
            r.latent_dim,
            r.width,
            cfg.depth,
            r.d_norm,
            r.pack,
            g_norm=r.g_norm,
        ):
            checked_spec(spec)
    except (UserError, TypeError, ValueError) as exc:
        return None, str(exc)
    d = cfg.to_dict()
    d["_is_image"] = info.is_image
    verdict = (
        f"Ready: {(cfg.arch or '?').upper()} with the {cfg.loss} loss, batch {cfg.batch_size}, "
        f"{cfg.steps:,} steps.{start}"
    )
    return d, verdict


def starting_networks(path: str) -> StartNetworks:
    """What a model file, checkpoint or run folder (its newest checkpoint) to start from
    holds, from its description only: cheap enough to check on every edit."""
    from pathlib import Path

    from ganstudio.core.runs.reader import find_checkpoint
    from ganstudio.core.training.init_from import read_start_networks

    p = Path(path)
    return read_start_networks(find_checkpoint(p) if p.is_dir() else p)


@dataclass(frozen=True)
class OpenedModel:
    path: str
    generator: GeneratorFile
    meta: dict
    picture: np.ndarray | None  # images: an 8x8 grid from seed 0
    points: np.ndarray | None  # 2-D: 2,500 samples from seed 0


def open_model_task(path: str) -> Callable[[Callable[[int, int], None]], OpenedModel]:
    def run(progress: Callable[[int, int], None]) -> OpenedModel:
        from ganstudio.core.explore import sampling
        from ganstudio.core.modelfile import load_generator

        gen = load_generator(path)
        n = 64 if gen.is_image else 2500
        samples = sampling.generate(gen.module, sampling.latents(0, n, gen.latent_dim))
        if gen.is_image:
            return OpenedModel(path, gen, gen.meta, sampling.picture(samples, True, 8, 8), None)
        return OpenedModel(path, gen, gen.meta, None, sampling.samples_array(samples, False))

    return run


def save_snapshot(path: str, snapshot: Snapshot, meta: dict) -> None:
    """Write a model file from a training snapshot (weights already on the CPU)."""
    from ganstudio.core.modelfile import save_generator

    save_generator(path, snapshot.spec, snapshot.state, {**meta, "step": snapshot.step})


def save_opened_model(path: str, opened: OpenedModel) -> None:
    from ganstudio.core.modelfile import save_generator

    gen = opened.generator
    state = {
        k: v.detach().float().cpu().numpy()
        for k, v in gen.module.state_dict().items()
        if v.is_floating_point()
    }
    skip = {"format", "format_version", "app_version", "architecture", "content_hash"}
    save_generator(path, gen.spec, state, {k: v for k, v in opened.meta.items() if k not in skip})


def save_picture(path: str, picture: np.ndarray, provenance: dict[str, str]) -> None:
    from ganstudio.core.render import save_png

    save_png(path, picture, provenance)
