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
from .ema import ema_decay, make_ema, update_ema
from .optimizers import make_optimizer
from .speed import SpeedPlan


@dataclass
class Networks:
    """Models, their training wrappers, optimizers, gradient scalers and the precision;
    ``G_ema`` is the moving average of G's weights (None without ``--g-ema``), with decay
    ``ema_beta``."""

    G: nn.Module
    D: nn.Module
    G_train: nn.Module
    D_train: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    g_scaler: Any
    d_scaler: Any
    autocast_dtype: torch.dtype | None = None
    G_ema: nn.Module | None = None
    ema_beta: float = 0.0

    @property
    def G_eval(self) -> nn.Module:
        """The generator to translate with: the moving average where there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    def update_ema(self, step: int) -> None:
        """Fold G's current weights into the average after G update number ``step``."""
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, ema_decay(self.ema_beta, step))

    def autocast(self, device: torch.device):
        """Autocast context for forward passes (a no-op in fp32)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)


def make_networks(G: nn.Module, D: nn.Module, device: torch.device, plan: SpeedPlan, g_lr: float, d_lr: float,
                  betas: tuple[float, float], g_ema: float = 0.0) -> Networks:
    """The :class:`Networks` bundle of the models (already on ``device``) for ``plan``, with a
    moving average of G when ``g_ema`` (its decay) is above 0."""
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
        G_ema=make_ema(G) if g_ema > 0 else None,
        ema_beta=g_ema,
    )


def build_networks(config: ModelConfig, device: torch.device, plan: SpeedPlan, seed: int, g_lr: float,
                   d_lr: float, betas: tuple[float, float], g_ema: float = 0.0) -> Networks:
    """New G and D for ``config``, initialised from ``seed`` (the same weights on every process),
    in their :class:`Networks` bundle."""
    torch.manual_seed(seed)
    G = build_generator(config).to(device)
    D = build_discriminator(config).to(device)
    return make_networks(G, D, device, plan, g_lr, d_lr, betas, g_ema)


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


# Bytes per parameter while training: fp32 weight, gradient and Adam's two moments.
_TRAIN_BYTES_PER_PARAMETER = 16
# Activations kept for backward per image, as multiples of one forward pass's outputs: G runs
# twice (translation and reconstruction), D three times (real, fake, the gradient penalty's
# interpolation, whose double backward keeps about as much again).
_G_PASSES, _D_PASSES = 2, 4


def training_bytes(config: ModelConfig, batch_size: int, g_average: bool = False) -> int:
    """An estimate of the memory a training step of ``config`` takes: the parameters with
    their gradients and optimizer state (and, with ``g_average``, the fp32 copy of G that
    ``--g-ema`` keeps), plus the activations of ``batch_size`` images. Built and run on
    torch's ``meta`` device, which allocates nothing."""
    with torch.device("meta"):
        G, D = build_generator(config), build_discriminator(config)
        x = torch.empty(1, 3, config.image_size, config.image_size)
        c = torch.empty(1, config.c_dim)
        params = sum(p.numel() for p in (*G.parameters(), *D.parameters()))
        per_image = _G_PASSES * _activations(G, x, c) + _D_PASSES * _activations(D, x)
        average = sum(p.numel() for p in G.parameters()) if g_average else 0
    return _TRAIN_BYTES_PER_PARAMETER * params + 4 * average + 4 * batch_size * per_image


def _activations(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Elements output by ``module``'s leaf layers for ``inputs`` (one forward pass)."""
    total = 0

    def count(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        for out in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(out, torch.Tensor):
                total += out.numel()

    hooks = [m.register_forward_hook(count) for m in module.modules() if not list(m.children())]
    try:
        module(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return total
