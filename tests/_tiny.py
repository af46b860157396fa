"""Tiny trained models for tests, made through the command line (a few steps on the CPU)."""

import torch

from ganstudio.cli import main


def run_cli(*args):
    return main([str(a) for a in args])


def train_tiny(folder, *args):
    """Train with the given `ganstudio train` options into ``folder``; its model file. No
    quality measurement (its feature extractor would take longer than the run)."""
    torch.set_num_threads(1)
    more = ("--out", folder, "-q", "--device", "cpu", "--seed", 0, "--metrics-every", 0)
    assert run_cli("train", *args, *more) == 0
    return folder / "generator.safetensors"
