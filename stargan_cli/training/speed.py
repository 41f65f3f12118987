"""How a run computes: precision, CUDA graphs, torch.compile, channels-last tensors.

:func:`plan_speed` resolves the speed flags for a device into a :class:`SpeedPlan`;
:func:`apply_speed` sets the process-wide switches that go with it.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from .. import devices
from ..errors import StarganError

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class SpeedPlan:
    """How a run computes: precision, CUDA graphs, torch.compile, channels-last tensors.

    ``notes`` say why something asked for is off (e.g. CUDA graphs on the CPU) and what
    ``--precision auto`` picked on a CPU; ``warnings`` what was asked for but will be slow
    (bf16 on a CPU without native bf16).
    """

    precision: str
    cuda_graphs: bool
    compile: bool
    channels_last: bool
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype of the forward passes (None in fp32)."""
        return AUTOCAST_DTYPES[self.precision]

    def describe(self) -> str:
        """A few words for the run's start line, e.g. ``bf16, CUDA graphs``."""
        parts = [self.precision]
        if self.cuda_graphs:
            parts.append("CUDA graphs")
        if self.compile:
            parts.append("compiled")
        if self.channels_last:
            parts.append("channels-last")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for config.json)."""
        return {"precision": self.precision, "cuda_graphs": self.cuda_graphs, "compile": self.compile,
                "channels_last": self.channels_last}


def plan_speed(
    device: torch.device,
    precision: str | None = None,
    cuda_graphs: bool | None = None,
    compile: bool = False,
    channels_last: bool | None = None,
    distributed: bool = False,
) -> SpeedPlan:
    """Resolve the speed settings for ``device``; None means the default.

    Defaults (benchmarks/RESULTS.md says why): ``precision`` None or ``"auto"`` is bf16 autocast
    on CUDA and on CPUs with native bf16, fp32 elsewhere (:func:`devices.default_precision`;
    emulated bf16 is several times slower than fp32), with a note on a CPU saying what was
    picked, and a warning when bf16 is asked for on a CPU without native bf16; CUDA graphs
    on wherever they can run (one CUDA process, bf16 or fp32, no torch.compile): capturing the
    whole step took the issue's H200 from 52.8 to 69.8 it/s at batch 16 and was never slower,
    and every capture is checked against eager at run time and falls back with a warning;
    no torch.compile (not yet measured on a GPU); channels-last off (5-10% slower on the CPU we
    measured, unmeasured on GPUs). Graphs asked for where they cannot run (CPU, torchrun, fp16)
    are off, with a note saying why.
    """
    notes: list[str] = []
    warnings: list[str] = []
    if precision in (None, "auto"):
        precision = devices.default_precision(device)
        if device.type == "cpu":
            notes.append(f"--precision auto picked {precision}: this CPU "
                         + ("computes bf16 natively (AVX512-BF16 or AMX)" if precision == "bf16"
                            else "has no native bf16 (AVX512-BF16 or AMX), where bf16 is slower than fp32"))
    elif precision == "bf16" and device.type == "cpu" and not devices.cpu_has_native_bf16():
        warnings.append("this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 is emulated here and "
                        "slower than fp32; --precision auto picks fp32")
    reason = None
    if device.type != "cuda":
        reason = f"they need a CUDA device, this run uses {device.type}"
    elif distributed:
        reason = "not supported with several processes (torchrun) yet"
    elif precision == "fp16":
        reason = "fp16's gradient scaler checks for overflow on the host every step; use bf16"
    if cuda_graphs is None:  # the default: on where they can run, but not stacked on torch.compile
        graphs = reason is None and not compile
    else:
        graphs = bool(cuda_graphs) and reason is None
        if cuda_graphs and reason is not None:
            notes.append(f"CUDA graphs are off: {reason}")
    return SpeedPlan(precision, graphs, bool(compile), bool(channels_last), tuple(notes), tuple(warnings))


def apply_speed(plan: SpeedPlan, device: torch.device) -> None:
    """Check that ``device`` can run ``plan`` and set torch's process-wide switches for it
    (cuDNN autotuning and TF32 matmuls on CUDA)."""
    if plan.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise StarganError("this GPU has no bf16 support: use --precision fp16 or fp32")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def no_sync_context(device: torch.device):
    """``torch.cuda.set_sync_debug_mode("error")`` for the enclosed code on CUDA (a no-op
    elsewhere): any host synchronisation raises."""
    if device.type != "cuda":
        return nullcontext()
    return _sync_debug("error")


@contextmanager
def _sync_debug(mode: str) -> Iterator[None]:
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)
