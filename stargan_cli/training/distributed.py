"""Multi-process training with DistributedDataParallel when launched by ``torchrun``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them training runs in
one process and every helper here is a no-op. NCCL is used on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import StarganError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0


def detect() -> DistInfo:
    """Read the ``torchrun`` environment; a single process when it is absent."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    try:
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise StarganError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (set by torchrun)") from None
    return DistInfo(rank, world, local)


def device_for(info: DistInfo, device: torch.device) -> torch.device:
    """The device this process trains on: ``cuda:LOCAL_RANK`` for CUDA jobs, else ``device``."""
    if info.enabled and device.type == "cuda":
        if info.local_rank >= torch.cuda.device_count():
            raise StarganError(
                f"LOCAL_RANK {info.local_rank} but only {torch.cuda.device_count()} CUDA device(s): "
                "start at most one process per GPU (torchrun --nproc_per_node)"
            )
        return torch.device("cuda", info.local_rank)
    return device


def init(info: DistInfo, device: torch.device) -> None:
    """Join the process group (nccl on CUDA, gloo otherwise) when running under torchrun."""
    if not info.enabled or torch.distributed.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "rank": info.rank, "world_size": info.world_size}
    if device.type == "cuda" and "device_id" in inspect.signature(torch.distributed.init_process_group).parameters:
        kwargs["device_id"] = device  # binds NCCL to this GPU at once (torch >= 2.3)
    torch.distributed.init_process_group(**kwargs)


def shutdown(info: DistInfo, wait: bool = True) -> None:
    """Leave the process group; with ``wait``, once every process got here (tearing gloo down
    while another process still talks to it can abort the process)."""
    if info.enabled and torch.distributed.is_initialized():
        if wait:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def all_reduce_mean(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average of ``tensor`` over the processes (in place); unchanged in one process."""
    if info.enabled:
        torch.distributed.all_reduce(tensor)
        tensor /= info.world_size
    return tensor


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` in one process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not info.enabled:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    """Wait for every process."""
    if info.enabled:
        torch.distributed.barrier()
