"""The networks a run trains, with what trains them: the :class:`Networks` bundle (models,
their DistributedDataParallel or compiled wrappers, optimizers, gradient scalers, precision)
and how it is built for a :class:`~.speed.SpeedPlan`."""

from __future__ import annotations

import gc
import inspect
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..models import ModelConfig, build_discriminator, build_generator
from .optimizers import make_optimizer
from .speed import SpeedPlan


@dataclass
class Networks:
    """Models, their training wrappers, optimizers, gradient scalers and the precision."""

    G: nn.Module
    D: nn.Module
    G_train: nn.Module
    D_train: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    g_scaler: Any
    d_scaler: Any
    autocast_dtype: torch.dtype | None = None

    def autocast(self, device: torch.device):
        """Autocast context for forward passes (a no-op in fp32)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)


def make_networks(G: nn.Module, D: nn.Module, device: torch.device, plan: SpeedPlan, g_lr: float, d_lr: float,
                  betas: tuple[float, float]) -> Networks:
    """The :class:`Networks` bundle of the models (already on ``device``) for ``plan``."""
    if plan.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    fp16 = plan.precision == "fp16"
    return Networks(
        G=G, D=D, G_train=G, D_train=D,
        g_optimizer=make_optimizer(G.parameters(), g_lr, betas, device, plan.cuda_graphs),
        d_optimizer=make_optimizer(D.parameters(), d_lr, betas, device, plan.cuda_graphs),
        g_scaler=torch.amp.GradScaler(device.type, enabled=fp16),
        d_scaler=torch.amp.GradScaler(device.type, enabled=fp16),
        autocast_dtype=plan.autocast_dtype,
    )


def build_networks(config: ModelConfig, device: torch.device, plan: SpeedPlan, seed: int, g_lr: float,
                   d_lr: float, betas: tuple[float, float]) -> Networks:
    """New G and D for ``config``, initialised from ``seed`` (the same weights on every process),
    in their :class:`Networks` bundle."""
    torch.manual_seed(seed)
    G = build_generator(config).to(device)
    D = build_discriminator(config).to(device)
    return make_networks(G, D, device, plan, g_lr, d_lr, betas)


def compile_networks(nets: Networks) -> None:
    """torch.compile the modules whose passes are differentiated once (``G_train``,
    ``D_train``); the gradient penalty keeps the plain ``D``, since compiled graphs do not
    support its double backward."""
    nets.G_train = torch.compile(nets.G_train)
    nets.D_train = torch.compile(nets.D_train)


def wrap_ddp(nets: Networks, device: torch.device) -> None:
    """Train through DistributedDataParallel wrappers (``G_train``, ``D_train``); see :mod:`.step`
    for which passes use them."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # The norms' running-statistics buffers are never used: no need to sync them each forward.
    no_sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters else "broadcast_buffers"
    options = {"device_ids": ids, no_sync: False, "gradient_as_bucket_view": True}
    nets.G_train = DDP(nets.G, **options)
    nets.D_train = DDP(nets.D, **options)


def unwrap_ddp(nets: Networks) -> None:
    """Drop the DDP wrappers: their reducers must go before the process group does (else
    gloo may abort the process at exit)."""
    if nets.G_train is not nets.G:
        nets.G_train, nets.D_train = nets.G, nets.D
        gc.collect()
