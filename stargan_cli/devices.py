"""Device selection (CUDA > MPS > CPU) and the precision policy per device."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import StarganError, UsageError

if TYPE_CHECKING:
    import torch


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def best_device_name() -> str:
    """The device that would be picked automatically: ``cuda``, ``mps`` or ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


# The device names we accept; any other is a command-line mistake (exit 2), while a known
# device that is not present here is a missing thing (exit 1).
_DEVICE_NAME = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")
DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"


def check_device_name(name: str | None) -> str | None:
    """``name`` when it is a device name we know (whether or not that device is here), else a
    :class:`~stargan_cli.errors.UsageError`; ``None`` (auto) passes."""
    if name is not None and not _DEVICE_NAME.fullmatch(name.strip().lower() or "auto"):
        raise UsageError(f"unknown device {name!r}: use {DEVICE_NAMES}")
    return name


def select_device(name: str | None = None) -> "torch.device":
    """Return the device called ``name`` (``cuda``, ``cuda:1``, ``mps``, ``cpu``), or the best one.

    Asking for a device that is not there is an error, never a silent fallback.
    """
    import torch

    check_device_name(name)
    if name is None or name.strip().lower() in ("", "auto"):
        return torch.device(best_device_name())
    device = torch.device(name.strip().lower())
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise StarganError(
                f"device {name!r} asked for, but CUDA is not available here: use --device cpu "
                "(or install a CUDA build of torch)"
            )
        count = torch.cuda.device_count()
        index = device.index or 0
        if index >= count:
            raise StarganError(
                f"device {name!r} asked for, but only {count} CUDA device(s) exist "
                f"(cuda:0..cuda:{count - 1})"
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise StarganError(
                f"device {name!r} asked for, but Apple MPS is not available here: use --device cpu"
            )
        return device
    raise UsageError(f"unsupported device {name!r}: use {DEVICE_NAMES}")


# x86 flags (Linux /proc/cpuinfo) of CPUs that compute bf16 natively; elsewhere torch emulates
# bf16 convolutions, which is slower than fp32 (benchmarks/RESULTS.md).
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux lists them in ``cpuinfo`` (x86 ``flags``, Arm
    ``Features``); empty where there is no such file (macOS, Windows)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def has_native_bf16(flags: frozenset[str]) -> bool:
    """Whether a CPU with these feature flags computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    return bool(flags & NATIVE_BF16_CPU_FLAGS)


def cpu_has_native_bf16() -> bool:
    """Whether this machine's CPU computes bf16 natively (:func:`has_native_bf16`)."""
    return has_native_bf16(cpu_flags())


def default_precision(device: "torch.device") -> str:
    """The precision used for training when none is given (``--precision auto``).

    bf16 autocast on CUDA and on CPUs with native bf16 (fp32 master weights and optimizer
    state either way); fp32 on other CPUs, where bf16 is emulated and slower than fp32, and on
    MPS, whose autocast support varies by release.
    """
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return "bf16"
    return "fp32"


def inference_dtype(device: "torch.device", half: bool = True) -> "torch.dtype":
    """Dtype for inference: half precision on CUDA/MPS when allowed, fp32 on CPU."""
    import torch

    if half and device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if half and device.type == "mps":
        return torch.float16
    return torch.float32
