"""How long a study will take, said before it starts (and by ``--dry-run``).

Training: with a time budget, the budget itself; with an iteration budget, iterations times
the seconds per iteration measured on the device in a short probe of each variant (its own
networks and batch size, on random images: no data is read). Judging: the generator passes
eval makes (two per image and target, for the final model and each curve point), timed on
the device likewise. Setup (data loading, the first preprocessing) is not included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .plan import StudyPlan

PROBE_ITERATIONS = 2  # timed D+G iterations per variant after one untimed warm-up
# Training settings the time of an iteration depends on (besides the model).
_STEP_FIELDS = ("batch_size", "loss", "n_critic", "precision", "channels_last", "augment")


@dataclass
class RunEstimate:
    """Estimated seconds of one run of a variant: training and judging."""

    variant: str
    train_seconds: float
    judge_seconds: float
    seconds_per_iter: float | None = None

    @property
    def total(self) -> float:  # noqa: D102
        return self.train_seconds + self.judge_seconds


def _model_config(config: Any) -> Any:
    from ..training.session import model_config_of

    return model_config_of(config, config.attrs)


def seconds_per_iteration(config: Any, device: Any) -> float:
    """Seconds per training iteration of ``config`` on ``device`` (a D step, and a G step
    every ``n_critic``): a few iterations on random images, after a warm-up."""
    import torch

    from ..label_layout import label_parts
    from ..training.cuda_graphs import TrainStep
    from ..training.networks import build_networks
    from ..training.session import loss_weights_of
    from ..training.speed import apply_speed, plan_speed

    model = _model_config(config)
    plan = plan_speed(device, config.precision, False, False, config.channels_last)
    apply_speed(plan, device)
    nets = build_networks(model, device, plan, config.seed, config.g_lr, config.d_lr, (config.beta1, config.beta2),
                          config.g_ema)
    weights = loss_weights_of(config)
    step = TrainStep(nets, weights, model.c_dim, device, channels_last=plan.channels_last)
    part = label_parts([(model.attributes, model.label_mode)])[0]
    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (config.batch_size, 3, config.image_size, config.image_size), dtype=torch.uint8)
    labels = (torch.rand(config.batch_size, len(model.attributes)) < 0.5).float()
    # Warm-up iterations of both kinds (D only, D and G), then n_critic iterations (capped).
    step(0, part, images, labels, generator, False)
    step(0, part, images, labels, generator, True)
    count = max(PROBE_ITERATIONS, min(config.n_critic, 5))
    started = time.perf_counter()
    for i in range(count):
        step(0, part, images, labels, generator, (i + 1) % config.n_critic == 0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / count


def seconds_per_translation(config: Any, device: Any, batch_size: int) -> float:
    """Seconds per image of one generator pass of ``config``'s model, in batches of ``batch_size``."""
    import torch

    from ..models import build_generator

    model = _model_config(config)
    G = build_generator(model).to(device).eval()
    x = torch.zeros(batch_size, 3, config.image_size, config.image_size, device=device)
    c = torch.zeros(batch_size, model.c_dim, device=device)
    with torch.no_grad():
        G(x, c)
        started = time.perf_counter()
        G(x, c)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / batch_size


def estimate(plan: StudyPlan, device: Any) -> list[RunEstimate]:
    """One estimate per variant (each of its seeds takes about as long); variants with the
    same generator (or the same training step) share one probe."""
    translation: dict[str, float] = {}
    iteration: dict[str, float] = {}
    out = []
    for variant in plan.variants:
        config = variant.config
        model = json.dumps(_model_config(config).to_dict(), sort_keys=True)
        if model not in translation:
            translation[model] = seconds_per_translation(config, device, plan.judge.batch_size)
        images = plan.judge.n + (plan.judge.curve_points + 1) * plan.judge.curve_n * (plan.judge.curve_points > 0)
        # Two generator passes per image and target; the classifier reads the outputs too
        # (about half a pass more).
        judge = 2.5 * images * len(config.attrs) * translation[model]
        if plan.budget.seconds is not None:
            out.append(RunEstimate(variant.name, float(plan.budget.seconds), judge))
            continue
        step = json.dumps({k: v for k, v in config.to_dict().items() if k in _STEP_FIELDS}, sort_keys=True) + model
        if step not in iteration:
            iteration[step] = seconds_per_iteration(config, device)
        out.append(RunEstimate(variant.name, iteration[step] * plan.budget.iters, judge, iteration[step]))
    return out


def total_seconds(plan: StudyPlan, estimates: list[RunEstimate]) -> float:
    """The whole study: every variant's estimate times the number of seeds."""
    return len(plan.seeds) * sum(e.total for e in estimates)
