"""TrainConfig: every setting of a training run, as stored in the run's ``config.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..attributes import DEFAULT_ATTRIBUTES, parse_attribute_list
from ..checkpoints import CONFIG_LIMITS
from ..choices import (
    ADVERSARIAL_LOSSES, DATASETS, G_OUTPUTS, NORMS, PRECISIONS, RESUMABLE_SETTINGS, SCHEDULES, UPSAMPLES,
)
from ..errors import StarganError, UsageError
from ..models.config import JsonSettings
from .augment import parse_policy

CONFIG_NAME = "config.json"

# Settings a resumed run may change (see choices.RESUMABLE_SETTINGS).
RESUMABLE_OVERRIDES = frozenset(RESUMABLE_SETTINGS)


# Upper bounds of the size settings: the model's from the checkpoint rule (a model past them
# cannot be loaded anyway), the rest far past any real run. Memory is estimated separately.
_UPPER_LIMITS: dict[str, int] = {
    **{name: high for name, (_, high) in CONFIG_LIMITS.items()},
    "batch_size": 4096, "sample_count": 256, "n_critic": 100, "keep": 100_000,
}
MAX_WORKERS = 256


@dataclass
class TrainConfig(JsonSettings):
    """All hyper-parameters and run settings of ``stargan train`` (defaults: the paper's).

    ``data`` is the CelebA folder for ``dataset="celeba"``/``"both"`` (None: the folder that
    ``stargan download celeba`` fills) and the folder dataset for ``dataset="folder"``;
    ``folder_data`` is the folder dataset of ``dataset="both"``. ``batch_size`` is per process
    under torchrun. ``decay_iters`` larger than ``iters`` decays over the whole run.
    ``device``/``num_workers``/``cuda_graphs`` None and ``precision`` ``"auto"`` pick the defaults
    for the machine (bf16 on CUDA and on CPUs with native bf16; CUDA graphs on for one CUDA
    process in bf16/fp32); ``compile`` and
    ``channels_last`` are opt-in (see :func:`.speed.plan_speed`).
    ``out`` None: a new folder under ``paths.runs_dir()``. ``resume``: a run folder to continue.
    ``warmup_iters``: the first iterations train G alone to reproduce its input (an identity
    map) before GAN training starts. ``augment``: comma-separated augmentations of every image
    D sees (``translation``, ``cutout``; see :mod:`.augment`), for small datasets.
    ``g_output``/``upsample``: the generator variant (:class:`~stargan_cli.models.Generator`);
    ``lambda_mask``, ``mask_floor``, ``mask_cap``, ``lambda_mask_tv``: a mask generator's mask
    terms (:func:`.losses.mask_size_loss`). ``g_ema``: the decay of an exponential moving
    average of G's weights (0: none), used for samples and saved beside G. ``init``: a model
    (file or installed name) whose G, D and EMA weights start the run, with fresh optimizers.
    ``time_budget``: stop after this many seconds of training (counted across resumes, setup
    not included), at whatever step that is, as if ``iters`` had been reached (``final.pt``);
    one process only. ``save_every_seconds``: also save a checkpoint every N seconds of training.
    """

    dataset: str = "celeba"
    data: str | None = None
    folder_data: str | None = None
    attrs: tuple[str, ...] = DEFAULT_ATTRIBUTES
    image_size: int = 128
    norm: str = "concat"
    loss: str = "wgan-gp"
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat: int = 6
    d_repeat: int = 6
    batch_size: int = 16
    iters: int = 200_000
    decay_iters: int = 100_000
    lr_schedule: str = "paper"
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 5
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    warmup_iters: int = 0
    augment: str = ""
    g_output: str = "rgb"
    upsample: str = "transposed"
    lambda_mask: float = 2.0
    mask_floor: float = 0.1
    mask_cap: float = 0.4
    lambda_mask_tv: float = 1e-3
    g_ema: float = 0.0
    init: str | None = None
    seed: int = 1234
    device: str | None = None
    precision: str = "auto"
    cuda_graphs: bool | None = None
    compile: bool = False
    channels_last: bool = False
    num_workers: int | None = None
    out: str | None = None
    save_every: int = 10_000
    save_every_seconds: float | None = None
    time_budget: float | None = None
    keep: int = 3
    sample_every: int = 1_000
    sample_count: int = 8
    log_every: int = 10
    tensorboard: bool = True
    quiet: bool = False
    use_cache: bool = True
    resume: str | None = None

    def __post_init__(self) -> None:
        self.attrs = tuple(self.attrs)
        if self.precision is None:  # config.json of runs from before --precision auto
            self.precision = "auto"
        for name in ("data", "folder_data", "out", "resume", "init"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, str(value))

    def validate(self) -> "TrainConfig":
        """Check every setting; raise StarganError naming the flag to fix. Returns self."""
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise UsageError(message)

        need(self.dataset in DATASETS, f"--dataset must be one of {', '.join(DATASETS)}, not {self.dataset!r}")
        need(self.norm in NORMS, f"--norm must be concat or lookup, not {self.norm!r}")
        need(self.loss in ADVERSARIAL_LOSSES, f"--loss must be wgan-gp or hinge, not {self.loss!r}")
        need(self.g_output in G_OUTPUTS, f"--g-output must be rgb or mask, not {self.g_output!r}")
        need(self.upsample in UPSAMPLES, f"--upsample must be transposed or resize, not {self.upsample!r}")
        need(0 <= self.g_ema < 1, f"--g-ema must be in [0, 1) (0: no moving average), not {self.g_ema}")
        need(0 <= self.mask_floor <= self.mask_cap <= 1,
             "--mask-floor and --mask-cap must satisfy 0 <= floor <= cap <= 1")
        need(self.lr_schedule in SCHEDULES, f"--lr-schedule must be paper or official, not {self.lr_schedule!r}")
        need(self.precision in PRECISIONS,
             f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.dataset == "folder":
            need(self.data is not None, "--dataset folder needs --data DIR: a folder with one subfolder of images per domain")
            self.attrs = ()  # the domains are the dataset's subfolders
        else:
            self.attrs = tuple(parse_attribute_list(list(self.attrs)))
        if self.dataset == "both":
            need(self.folder_data is not None,
                 "--dataset both needs --folder-data DIR: a folder with one subfolder of images per domain")
        for name in ("image_size", "g_conv_dim", "d_conv_dim", "g_repeat", "d_repeat", "iters",
                     "n_critic", "save_every", "keep", "sample_every", "log_every", "sample_count"):
            need(int(getattr(self, name)) >= 1, f"--{name.replace('_', '-')} must be at least 1")
        for name, high in _UPPER_LIMITS.items():
            need(int(getattr(self, name)) <= high, f"--{name.replace('_', '-')} must be at most {high:,}, "
                 f"not {getattr(self, name):,}")
        need(self.batch_size >= 2, "--batch-size must be at least 2 (targets are a permutation of the batch's labels)")
        need(self.decay_iters >= 0, "--decay-iters must be 0 or more")
        need(0 <= self.warmup_iters < self.iters, "--warmup-iters must be 0 or more and less than --iters")
        try:
            self.augment = ",".join(parse_policy(self.augment))
        except ValueError as err:
            raise UsageError(f"--augment: {err}") from None
        need(self.image_size % 4 == 0, f"--image-size must be a multiple of 4 (the generator halves it twice), not {self.image_size}")
        need(self.image_size % 2**self.d_repeat == 0,
             f"--image-size {self.image_size} must be divisible by 2**--d-repeat = {2**self.d_repeat}: "
             "lower --d-repeat or change the size")
        for name in ("g_lr", "d_lr", "lambda_cls", "lambda_rec", "lambda_gp", "lambda_mask", "lambda_mask_tv"):
            need(float(getattr(self, name)) >= 0, f"--{name.replace('_', '-')} must not be negative")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "--beta1 and --beta2 must be in [0, 1)")
        need(self.num_workers is None or 0 <= self.num_workers <= MAX_WORKERS,
             f"--num-workers must be between 0 and {MAX_WORKERS}")
        for name in ("time_budget", "save_every_seconds"):
            value = getattr(self, name)
            need(value is None or float(value) > 0, f"{name} must be above 0 seconds")
        return self

    @property
    def effective_decay_iters(self) -> int:
        """``decay_iters``, at most ``iters``."""
        return min(self.decay_iters, self.iters)

    def run_name(self, stamp: str) -> str:
        """Default run folder name, e.g. ``20250101-120000-concat-wgan-gp-5attrs-128px``."""
        if self.dataset == "folder":
            what = "folder"
        else:
            what = f"{len(self.attrs)}attrs" + ("-folder" if self.dataset == "both" else "")
        return f"{stamp}-{self.norm}-{self.loss}-{what}-{self.image_size}px"


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The TrainConfig stored in ``run_dir/config.json``."""
    path = Path(run_dir) / CONFIG_NAME
    if not Path(run_dir).is_dir():
        raise StarganError(f"{run_dir} is not a training run folder: it does not exist")
    if not path.is_file():
        if {p.name for p in Path(run_dir).iterdir()} <= {".lock"}:
            raise StarganError(
                f"{run_dir} holds no training run: one was stopped before it saved its settings; "
                f"start it again with stargan train --out {run_dir} and its flags"
            )
        raise StarganError(f"{run_dir} is not a training run folder (it has no {CONFIG_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        # Checked like a checkpoint's config: absurd sizes must not reach the allocator.
        return TrainConfig.from_dict(data["train"]).validate()
    except (ValueError, KeyError, TypeError, AttributeError, StarganError) as err:
        raise StarganError(f"{path} is damaged ({err}); it cannot be resumed") from None


def resume_config(run_dir: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config to continue ``run_dir`` with: its own, with ``overrides`` applied.

    Only :data:`RESUMABLE_OVERRIDES` may differ from the stored value; asking to change the
    model, data or optimiser of a run raises StarganError.
    """
    stored = read_run_config(run_dir)
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if key not in RESUMABLE_OVERRIDES:
            current = getattr(stored, key)
            if key == "attrs":
                value = tuple(value)
            if value != current:
                flag = "--" + key.replace("_", "-")
                raise UsageError(
                    f"{flag} cannot change when resuming (the run uses {current!r}); "
                    "start a new run instead"
                )
    allowed = {k: v for k, v in overrides.items() if k in RESUMABLE_OVERRIDES}
    return replace(stored, **allowed, resume=str(run_dir), out=str(run_dir))
