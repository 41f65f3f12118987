"""How much memory the machine has, and refusing work that would not fit in it.

Absurd sizes (a 100,000 px cell, a generator a million channels wide) used to go straight to
the allocator: a bare RuntimeError asking for terabytes, or the kernel's out-of-memory killer
with no message at all. Whatever is about to allocate something large estimates it first and
calls :func:`check_fits`, which refuses in one line what the machine cannot hold.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import StarganError

if TYPE_CHECKING:
    import torch


def gigabytes(n: float) -> str:
    """``n`` bytes as "12.3 GB" (GiB, three significant digits)."""
    return f"{n / 2**30:.3g} GB"


def machine_memory() -> int | None:
    """The machine's physical memory in bytes (None where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def device_memory(device: "torch.device | str | None" = None) -> int | None:
    """The memory of ``device``: a CUDA device's own, else the machine's (None: unknown)."""
    import torch

    device = torch.device(device or "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    return machine_memory()


def check_fits(needed: float, what: str, hint: str, available: int | None = None) -> None:
    """Refuse with one line when ``needed`` bytes (``what`` would take them) exceed
    ``available`` (default: the machine's memory); ``hint`` says what to lower."""
    available = machine_memory() if available is None else available
    if available is not None and needed > available:
        raise StarganError(
            f"{what} would need about {gigabytes(needed)} of memory, more than the {gigabytes(available)} "
            f"this machine has: {hint}"
        )


__all__ = ["check_fits", "device_memory", "gigabytes", "machine_memory"]
