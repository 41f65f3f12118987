"""Training checkpoints: what a run saves besides the weights, and how it is restored.

A training checkpoint (``checkpoints/NNNNNN.pt``, in the format of :mod:`stargan_cli.checkpoints`)
carries everything needed to continue exactly: weights, both optimizers and gradient scalers,
the schedule, the step, and per process every data position and every random generator.
Optimizer states load across CPU, CUDA and CUDA-graph runs (:func:`load_optimizer_state`).
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import torch

from .. import __version__
from ..checkpoints import Checkpoint, save_checkpoint
from ..errors import StarganError
from . import distributed
from .distributed import DistInfo
from .networks import Networks
from .runs import FINAL_NAME, checkpoint_path, link_or_copy, list_checkpoints
from .schedule import LRSchedule

if TYPE_CHECKING:
    from ..models import ModelConfig
    from .config import TrainConfig

TRAINING_STATE_VERSION = 1


class SavedRun(Protocol):
    """What saving a run needs of it (a :class:`~.session.Session` is one); described here so
    that this module does not import the session that imports it."""

    config: "TrainConfig"
    dist: DistInfo
    device: torch.device
    run_dir: Path
    model_config: "ModelConfig"
    parts: Sequence[Any]  # each with a ``loader`` whose state_dict() is its data position
    nets: Networks
    schedule: LRSchedule
    rng: torch.Generator
_OPTIMIZER_FLAGS = ("capturable", "fused", "foreach", "differentiable")


# ----------------------------------------------------------------------------- optimizers
def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``optimizer.state_dict()`` with tensor learning rates as floats, so that a checkpoint
    loads into any optimizer (CPU, non-capturable). Reads the rate from the device: call it
    only when saving."""
    state = optimizer.state_dict()
    for group in state["param_groups"]:
        if isinstance(group.get("lr"), torch.Tensor):
            group["lr"] = float(group["lr"])
    return state


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load ``state`` but keep this optimizer's implementation flags (fused, capturable, ...)
    and learning-rate storage (a tensor rate keeps its address, for captured steps), and move
    each ``step`` counter where that implementation wants it (device for fused/capturable,
    else host), so checkpoints move freely between CPU, CUDA and CUDA-graph runs."""
    flags = [{k: g[k] for k in _OPTIMIZER_FLAGS if k in g} for g in optimizer.param_groups]
    rates = [g["lr"] for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kept, rate in zip(optimizer.param_groups, flags, rates):
        group.update(kept)
        loaded = group["lr"]
        value = float(loaded) if isinstance(loaded, torch.Tensor) else loaded
        if isinstance(rate, torch.Tensor):
            rate.fill_(value)
            group["lr"] = rate
        else:
            group["lr"] = value
        on_device = bool(group.get("capturable") or group.get("fused"))
        for p in group["params"]:
            st = optimizer.state.get(p)
            if not st:
                continue
            for key, value in st.items():
                # Moments keep the checkpoint's strides on load; fused Adam wants the
                # parameter's (they differ when --channels-last changes on --resume).
                if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                    st[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
            if not isinstance(st.get("step"), torch.Tensor):
                continue
            where = p.device if on_device else torch.device("cpu")
            if st["step"].device != where:
                st["step"] = st["step"].to(where, torch.float32)


# ----------------------------------------------------------------------------- random generators
def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_rng_state(state: list) -> None:
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def _rank_state(rng: torch.Generator, device: torch.device, data: list[dict]) -> dict[str, Any]:
    """This process's data positions and random generators."""
    generators = {"device": rng.get_state(), "torch": torch.get_rng_state(), "python": _python_rng_state()}
    if device.type == "cuda":
        generators["cuda"] = torch.cuda.get_rng_state(device)
    return {"data": data, "rng": generators}


# ----------------------------------------------------------------------------- save
def training_state(session: SavedRun, data_states: list[dict] | None = None,
                   seconds: float | None = None) -> dict[str, Any]:
    """Everything besides the weights; a collective call under DDP (all ranks).
    ``data_states``: the loaders' positions to record (default: where they are now);
    ``seconds``: training wall-clock so far, over every session of the run."""
    nets = session.nets
    data = data_states if data_states is not None else [p.loader.state_dict() for p in session.parts]
    return {
        "version": TRAINING_STATE_VERSION,
        "g_optimizer": optimizer_state(nets.g_optimizer),
        "d_optimizer": optimizer_state(nets.d_optimizer),
        "g_scaler": nets.g_scaler.state_dict(),
        "d_scaler": nets.d_scaler.state_dict(),
        "schedule": session.schedule.state_dict(),
        "world_size": session.dist.world_size,
        "ranks": distributed.gather_objects(_rank_state(session.rng, session.device, data), session.dist),
        "train_config": session.config.to_dict(),
        "seconds": seconds,
    }


def weights_finite(nets: Networks) -> bool:
    """Whether every weight of G and D is finite (one host sync)."""
    flags = [torch.isfinite(p).all() for m in (nets.G, nets.D) for p in m.parameters()]
    return bool(torch.stack(flags).all())


def _weights_fingerprint(nets: Networks) -> torch.Tensor:
    """Three float64 sums over every weight; equal on all processes while DDP keeps them in sync."""
    flat = torch.cat([p.detach().flatten() for m in (nets.G, nets.D) for p in m.parameters()]).double()
    ramp = torch.arange(flat.numel(), device=flat.device, dtype=torch.float64).remainder_(7919)
    return torch.stack([flat.sum(), flat.square().sum(), (flat * ramp).sum()]).cpu()


def _check_in_sync(nets: Networks, dist: DistInfo, step: int) -> None:
    fingerprints = distributed.gather_objects(_weights_fingerprint(nets), dist)
    if any(not torch.equal(f, fingerprints[0]) for f in fingerprints[1:]):
        raise StarganError(
            f"the {dist.world_size} training processes hold different weights at step {step} "
            "(a DistributedDataParallel bug?): stopping without saving"
        )


def _cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def save(session: SavedRun, step: int, final: bool = False, data_states: list[dict] | None = None,
         seconds: float | None = None) -> Path | None:
    """Save the training checkpoint of ``step`` (``seconds`` of training so far) in the run
    folder, link ``final.pt`` to it when ``final``, and drop the periodic checkpoints beyond
    the newest ``--keep``. Every rank must
    call (rank 0 writes; the others return None). The caller checks that the weights are
    finite; under DDP this checks that every process holds the same ones."""
    if session.dist.enabled:
        _check_in_sync(session.nets, session.dist, step)
    training = training_state(session, data_states, seconds)
    if not session.dist.is_main:
        return None
    run_dir = session.run_dir
    checkpoint = Checkpoint(
        config=session.model_config, G=_cpu_state_dict(session.nets.G), D=_cpu_state_dict(session.nets.D),
        G_ema=_cpu_state_dict(session.nets.G_ema) if session.nets.G_ema is not None else None,
        step=step, training=training,
        meta={"source": str(run_dir), "final": final, "stargan_version": __version__,
              "world_size": session.dist.world_size,
              "saved": datetime.now().isoformat(timespec="seconds")},
    )
    path = checkpoint_path(run_dir, step)
    if path.exists() and not path.is_file():  # not ours: leave it alone
        session.messages.warn(f"{path} is not a file: left alone, the checkpoint of step {step} "
                              + ("goes to final.pt only" if final else "is not saved"))
        return save_checkpoint(checkpoint, run_dir / FINAL_NAME) if final else None
    path = save_checkpoint(checkpoint, path)
    if final:
        link_or_copy(path, run_dir / FINAL_NAME)
    for _, old in list_checkpoints(run_dir)[: -session.config.keep]:
        old.unlink(missing_ok=True)
    return path


# ----------------------------------------------------------------------------- restore
def trained_seconds(checkpoint: Checkpoint) -> float:
    """Training wall-clock a checkpoint records (0 for checkpoints saved before it was kept)."""
    value = (checkpoint.training or {}).get("seconds")
    return float(value) if isinstance(value, (int, float)) else 0.0


def restore(
    checkpoint: Checkpoint,
    nets: Networks,
    schedule: LRSchedule,
    rng: torch.Generator,
    loaders: Sequence[Any],
    dist: DistInfo,
    device: torch.device,
    seed: int,
    say: Callable[[str], None],
) -> int:
    """Load ``checkpoint`` into the networks, optimizers, scalers, random generators and data
    loaders of a run; return its step. ``say`` gets the notes on what cannot continue exactly
    (another schedule; another number of processes: fresh data order and random draws)."""
    nets.G.load_state_dict(checkpoint.G)
    nets.D.load_state_dict(checkpoint.D)
    if nets.G_ema is not None:  # a run that had no average starts it from G
        nets.G_ema.load_state_dict(checkpoint.G_ema if checkpoint.G_ema is not None else checkpoint.G)
    state = checkpoint.training
    load_optimizer_state(nets.g_optimizer, state["g_optimizer"])
    load_optimizer_state(nets.d_optimizer, state["d_optimizer"])
    if state.get("g_scaler"):
        nets.g_scaler.load_state_dict(state["g_scaler"])
    if state.get("d_scaler"):
        nets.d_scaler.load_state_dict(state["d_scaler"])
    step = int(checkpoint.step)
    if state.get("schedule") != schedule.state_dict():
        say("Note: the learning-rate schedule differs from the run's (e.g. --iters changed); "
            "the rates follow the new one from here")
    ranks = state.get("ranks") or []
    if len(ranks) != dist.world_size:
        say(
            f"Note: the run was saved by {len(ranks)} process(es), now {dist.world_size}: data order "
            "and random draws restart from fresh seeds (the weights and optimizers continue exactly)"
        )
        rng.manual_seed(seed + 7919 * step + dist.rank)
        for loader in loaders:
            loader.set_epoch(step + 1000)
        return step
    mine = ranks[dist.rank]
    generators = mine["rng"]
    rng.set_state(generators["device"])
    torch.set_rng_state(generators["torch"])
    _set_python_rng_state(generators["python"])
    if "cuda" in generators and device.type == "cuda":
        torch.cuda.set_rng_state(generators["cuda"], device)
    for loader, data_state in zip(loaders, mine["data"]):
        loader.load_state_dict(data_state)
    return step
