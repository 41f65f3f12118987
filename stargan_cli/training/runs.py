"""The run folder: where checkpoints, samples and logs go, and how checkpoints are found.

    RUN/config.json             every setting (TrainConfig, ModelConfig, what was resolved)
    RUN/checkpoints/NNNNNN.pt   training checkpoints, the last --keep of them
    RUN/final.pt                the final checkpoint (a hard link to its checkpoints/ twin)
    RUN/samples/NNNNNN.jpg      sample grids
    RUN/metrics.jsonl           one JSON line per log step
    RUN/tensorboard/            TensorBoard events (when it is installed)
    RUN/.lock                   held by the process training in the folder (see stargan_cli.locks)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from ..checkpoints import Checkpoint
from ..errors import StarganError
from ..fileio import atomic_write
from ..loading import load_checkpoint

CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
FINAL_NAME = "final.pt"
RUN_LOCK_NAME = ".lock"


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """``run_dir/checkpoints/NNNNNN.pt``."""
    return run_dir / CHECKPOINT_DIR / f"{step:06d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the run's periodic checkpoints, oldest first: files only (a folder
    named like one is not a checkpoint, see :func:`not_checkpoints`)."""
    return [(step, path) for step, path in _named_like_checkpoints(run_dir) if path.is_file()]


def not_checkpoints(run_dir: Path) -> list[Path]:
    """Things in ``checkpoints/`` named like a checkpoint that are not files (folders, sockets):
    they are left alone."""
    return [path for _, path in _named_like_checkpoints(run_dir) if not path.is_file()]


def _named_like_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    folder = Path(run_dir) / CHECKPOINT_DIR
    found = []
    if folder.is_dir():
        for path in folder.glob("*.pt"):
            if path.stem.isdigit():
                found.append((int(path.stem), path))
    return sorted(found)


def latest_checkpoint(run_dir: Path, warn: Callable[[str], None] | None = None) -> tuple[Path, Checkpoint]:
    """The newest readable training checkpoint of ``run_dir``; an unreadable one is skipped,
    and ``warn`` is told which and why."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StarganError(f"cannot resume: {run_dir} does not exist")
    errors = []
    for path in not_checkpoints(run_dir):
        if warn is not None:
            warn(f"skipping {path.name}: it is not a file (left alone)")
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            checkpoint = load_checkpoint(path)
            if checkpoint.training is None:
                raise StarganError(f"{path} holds no training state")
        except StarganError as err:
            errors.append(str(err))
            if warn is not None:
                warn(f"skipping {path.name}: {err}")
            continue
        return path, checkpoint
    detail = f" ({errors[0]})" if errors else ""
    raise StarganError(
        f"cannot resume: {run_dir} has no usable checkpoint in {CHECKPOINT_DIR}/{detail}; "
        "pass a run folder that `stargan train` saved checkpoints in"
    )


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source``: a hard link where possible, else a copy; atomic."""
    tmp = target.with_name(f".{target.name}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        atomic_write(target, lambda path: shutil.copyfile(source, path))


def remove_temporaries(run_dir: Path) -> None:
    """Delete the temporary files a killed run can leave behind (atomic writes in progress)."""
    for folder in (run_dir, run_dir / CHECKPOINT_DIR, run_dir / SAMPLES_DIR):
        for path in folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)
        for path in folder.glob(".*.link"):
            path.unlink(missing_ok=True)
