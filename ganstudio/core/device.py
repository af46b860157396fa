"""Hardware chosen in one place: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganstudio.core.errors import UserError


class DeviceError(UserError, ValueError):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # torch device string, e.g. "cuda:0"
    description: str  # e.g. "NVIDIA H100 (79.1 GiB)" or "CPU (2 threads)"
    total_memory: int | None  # bytes, when known


def available_devices() -> list[DeviceInfo]:
    """Every device this machine can train on, the preferred one first."""
    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(
                DeviceInfo(
                    f"cuda:{i}", f"{p.name} ({p.total_memory / 2**30:.1f} GiB)", p.total_memory
                )
            )
    if torch.backends.mps.is_available():
        out.append(DeviceInfo("mps", "Apple GPU (MPS)", None))
    out.append(DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)", None))
    return out


def pick_device(choice: str = "auto") -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; anything else must exist here."""
    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(choice)
    except RuntimeError:
        raise DeviceError(
            f"unknown device {choice!r}; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{choice} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("MPS was requested but Apple's GPU backend is not available here")
    elif dev.type != "cpu":
        raise DeviceError(f"unsupported device {choice!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


def bf16_supported(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def memory_in_use(device: torch.device) -> int | None:
    """Bytes the framework holds on the device (None where not measurable)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    if device.type == "mps":
        try:
            return torch.mps.current_allocated_memory()
        except (AttributeError, RuntimeError):
            return None
    return None


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU): a timing must end here."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
