"""The optimizers as the trainer uses them: Adam, fused where torch has it, and learning rates
that a captured CUDA graph sees change.

Saving and loading their state (floats for tensor rates, flags kept) is
:mod:`.state`'s job.
"""

from __future__ import annotations

from typing import Any

import torch

TORCH_VERSION = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])


def make_optimizer(params: Any, lr: float, betas: tuple[float, float], device: torch.device,
                   capturable: bool = False) -> torch.optim.Adam:
    """Adam as the trainer uses it: fused on CUDA, and on the CPU where torch has a fused CPU
    Adam (2.4 and later; +9% training iterations per second at batch 16 there,
    benchmarks/RESULTS.md). ``capturable``: the learning rate lives in a device tensor (a float
    would be baked into a captured step) and, on CUDA, the step is capturable in a CUDA graph."""
    rate: float | torch.Tensor = float(lr)
    if capturable:
        rate = torch.tensor(float(lr), dtype=torch.float32, device=device)
    if device.type == "cpu" and TORCH_VERSION >= (2, 4):
        return torch.optim.Adam(params, lr=rate, betas=betas, fused=True)
    if device.type != "cuda":
        return torch.optim.Adam(params, lr=rate, betas=betas)
    optimizer = torch.optim.Adam(params, lr=rate, betas=betas, fused=True, capturable=capturable)
    # The eager steps before a capture (and after a fallback) are intended: without this, torch
    # warns once per optimizer that a capturable optimizer is stepping outside a graph.
    optimizer._warned_capturable_if_run_uncaptured = True
    return optimizer


def set_lr(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every group's learning rate; a tensor rate is filled in place (no host sync, and a
    captured step sees the new value)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(value))
        else:
            group["lr"] = float(value)
