"""The fast path of a training iteration: precision, optimizers, memory format, CUDA graphs.

:class:`TrainStep` runs one iteration for one dataset (batch to the device, random targets,
D step, G step when due) through the plain step functions of :mod:`.step`. On the CPU, on MPS
and on CUDA without graphs it is exactly those calls, in the trainer's order. With CUDA graphs
each kind of iteration (D only, D then G) is run eagerly a few times on a side stream, then
captured whole (batch preparation, the gradient penalty's double backward, both optimizer
steps) and replayed from then on:

* inputs are copied into static device buffers before each replay; losses come back in static
  output tensors, read by the caller before the next replay (stream order);
* the random draws (flips, target permutations, penalty mixing weights) come from a graph-owned
  generator registered with the graph, whose state is synchronised with the trainer's
  generator around every replay (host-side copies of seed and offset, no device sync), so a
  replay draws exactly the numbers an eager iteration would, and checkpoints keep resuming
  exactly;
* Adam is fused and capturable with its learning rate held in a device tensor, so learning-rate
  changes are in-place fills that replays see;
* the first replay of each graph is checked against an eager run of the same iteration from the
  same state (losses, weight updates, random draws); a mismatch, or any error while capturing,
  turns graphs off for the rest of the run with a warning, and training continues eagerly.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..devices import default_precision
from .labels import LabelPart, model_label, random_targets
from .step import (
    LossWeights,
    Networks,
    discriminator_step,
    fake_images,
    generator_step,
    identity_step,
    prepare_images,
)

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
WARMUP_ITERATIONS = 3  # eager runs of each kind of iteration before it is captured
MAX_GRAPHS = 6  # e.g. 2 datasets x (D only, D+G), plus a short batch; other shapes run eagerly
_OPTIMIZER_FLAGS = ("capturable", "fused", "foreach", "differentiable")
_TORCH_VERSION = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])


class GraphFallbackWarning(RuntimeWarning):
    """CUDA graphs were turned off during a run (capture failed or did not match eager)."""


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class SpeedPlan:
    """How a run computes: precision, CUDA graphs, torch.compile, channels-last tensors.

    ``notes`` say why something asked for is off (e.g. CUDA graphs on the CPU).
    """

    precision: str
    cuda_graphs: bool
    compile: bool
    channels_last: bool
    notes: tuple[str, ...] = ()

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

    Defaults (benchmarks/RESULTS.md says why): bf16 autocast on CUDA and fp32 elsewhere
    (:func:`devices.default_precision`; bf16 is about 2x slower than fp32 on CPUs); CUDA graphs
    on wherever they can run (one CUDA process, bf16 or fp32, no torch.compile): capturing the
    whole step took the issue's H200 from 52.8 to 69.8 it/s at batch 16 and was never slower,
    and every capture is checked against eager at run time and falls back with a warning;
    no torch.compile (not yet measured on a GPU); channels-last off (5-10% slower on the CPU we
    measured, unmeasured on GPUs). Graphs asked for where they cannot run (CPU, torchrun, fp16)
    are off, with a note saying why.
    """
    precision = precision or default_precision(device)
    notes: list[str] = []
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
    return SpeedPlan(precision, graphs, bool(compile), bool(channels_last), tuple(notes))


# ----------------------------------------------------------------------------- optimizers
def make_optimizer(params: Any, lr: float, betas: tuple[float, float], device: torch.device,
                   capturable: bool = False) -> torch.optim.Adam:
    """Adam as the trainer uses it: fused on CUDA, and on the CPU where torch has a fused CPU
    Adam (2.4 and later; +9% training iterations per second at batch 16 there,
    benchmarks/RESULTS.md). ``capturable``: the learning rate lives in a device tensor (a float
    would be baked into a captured step) and, on CUDA, the step is capturable in a CUDA graph."""
    rate: float | torch.Tensor = float(lr)
    if capturable:
        rate = torch.tensor(float(lr), dtype=torch.float32, device=device)
    if device.type == "cpu" and _TORCH_VERSION >= (2, 4):
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
        autocast_dtype=AUTOCAST_DTYPES[plan.precision],
    )


def compile_networks(nets: Networks) -> None:
    """torch.compile the modules whose passes are differentiated once (``G_train``,
    ``D_train``); the gradient penalty keeps the plain ``D``, since compiled graphs do not
    support its double backward."""
    nets.G_train = torch.compile(nets.G_train)
    nets.D_train = torch.compile(nets.D_train)


# ----------------------------------------------------------------------------- one iteration
def _real_images(images: torch.Tensor, generator: torch.Generator | None, channels_last: bool) -> torch.Tensor:
    """A device batch of uint8 images as randomly flipped [-1, 1] floats, in the step's layout."""
    x_real = prepare_images(images, generator)
    return x_real.contiguous(memory_format=torch.channels_last) if channels_last else x_real


def run_iteration(
    nets: Networks,
    weights: LossWeights,
    c_dim: int,
    part: LabelPart,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None,
    train_g: bool,
    channels_last: bool = False,
    d_step: Callable[..., torch.Tensor] = discriminator_step,
    g_step: Callable[..., torch.Tensor] = generator_step,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One iteration on a device batch: flips, random targets, a D step, a G step if
    ``train_g``. Returns the D losses and the G losses (None without a G step).
    The fake images are computed once for both steps (:func:`.step.fake_images`).
    ``d_step``/``g_step`` replace the step functions (same signatures)."""
    x_real = _real_images(images, generator, channels_last)
    label_trg = random_targets(labels, part, generator)
    c_org = model_label(labels, part, c_dim)
    c_trg = model_label(label_trg, part, c_dim)
    x_fake = fake_images(nets, x_real, c_trg, for_generator_step=train_g)
    d_losses = d_step(nets, x_real, c_org, c_trg, part, weights, generator, x_fake=x_fake)
    g_losses = g_step(nets, x_real, c_org, c_trg, part, weights, x_fake=x_fake, generator=generator) if train_g else None
    return d_losses, g_losses


def run_identity_iteration(
    nets: Networks,
    c_dim: int,
    part: LabelPart,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None,
    channels_last: bool = False,
) -> torch.Tensor:
    """One warm-up iteration on a device batch (flips, then :func:`.step.identity_step`);
    returns the G losses."""
    return identity_step(nets, _real_images(images, generator, channels_last), model_label(labels, part, c_dim))


class CudaGraphBackend:
    """Capture and replay with ``torch.cuda.CUDAGraph`` (one private memory pool per graph)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device=device)

    @contextmanager
    def side_stream(self) -> Iterator[None]:
        """Run the enclosed eager work on the capture stream (warm-up before capture)."""
        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            yield
        current.wait_stream(self.stream)

    def new_generator(self) -> torch.Generator:
        """A fresh generator on the device, for one graph."""
        return torch.Generator(device=self.device)

    def capture(self, fn: Callable[[], Any], generator: torch.Generator) -> tuple[Any, Any]:
        """Capture ``fn()`` with ``generator`` registered; return (graph, fn's outputs)."""
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(generator)
        current = torch.cuda.current_stream(self.device)
        try:
            # thread_local: the loader's prefetch thread pins memory meanwhile, which "global"
            # capture mode would turn into an error there.
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                outputs = fn()
        except BaseException:
            # A failed capture_end() skips leaving the capture stream: go back to ours.
            torch.cuda.set_stream(current)
            raise
        return graph, outputs


@dataclass
class _Captured:
    graph: Any
    images: torch.Tensor
    labels: torch.Tensor
    generator: torch.Generator
    d_losses: torch.Tensor
    g_losses: torch.Tensor | None


@dataclass
class _Kind:
    """One kind of iteration (dataset, D-only or D+G, batch shape): warm-up count and graph."""

    warm: int = 0
    captured: _Captured | None = None


@dataclass
class _Snapshot:
    """Copies of the weights and optimizer state, to run one iteration twice from one state."""

    live: list[torch.Tensor] = field(default_factory=list)
    saved: list[torch.Tensor] = field(default_factory=list)
    n_params: int = 0

    @classmethod
    def take(cls, nets: Networks) -> "_Snapshot":
        snap = cls()
        params = [p for m in (nets.G, nets.D) for p in m.parameters()]
        snap.n_params = len(params)
        tensors = [p.detach() for p in params]
        for opt in (nets.g_optimizer, nets.d_optimizer):
            for state in opt.state.values():
                tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
        snap.live = tensors
        snap.saved = [t.clone() for t in tensors]
        return snap

    def restore(self) -> None:
        with torch.no_grad():
            for live, saved in zip(self.live, self.saved):
                live.copy_(saved)

    def updates(self) -> torch.Tensor:
        """The weights now minus the saved weights, flattened into one vector."""
        return torch.cat([(live - saved).flatten().float()
                          for live, saved in zip(self.live[: self.n_params], self.saved[: self.n_params])])


class TrainStep:
    """One training iteration for one dataset part, eager or through CUDA graphs.

    ``step(index, part, images, labels, generator, train_g)`` takes the loader's batch
    (host or device tensors) and returns the detached D losses and the G losses (None
    without a G step) as device tensors, read by the caller only at log steps. With
    ``cuda_graphs`` False it is exactly :func:`run_iteration` on device copies of the batch.
    ``say`` receives the warning when graphs are turned off mid-run (default: a
    :class:`GraphFallbackWarning`). ``backend`` replaces the CUDA graph machinery (tests);
    ``d_step``/``g_step`` the step functions.
    """

    def __init__(
        self,
        nets: Networks,
        weights: LossWeights,
        c_dim: int,
        device: torch.device,
        *,
        cuda_graphs: bool = False,
        channels_last: bool = False,
        warmup: int = WARMUP_ITERATIONS,
        verify: bool = True,
        say: Callable[[str], None] | None = None,
        backend: Any | None = None,
        d_step: Callable[..., torch.Tensor] = discriminator_step,
        g_step: Callable[..., torch.Tensor] = generator_step,
    ):
        self.nets = nets
        self.weights = weights
        self.c_dim = c_dim
        self.device = device
        self.channels_last = channels_last
        self.warmup = max(1, int(warmup))
        self.verify = verify
        self._say = say
        self._steps = (d_step, g_step)
        self._buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._kinds: dict[tuple, _Kind] = {}
        self.backend = backend
        if cuda_graphs and backend is None:
            self.backend = CudaGraphBackend(device)
        self.graphs_enabled = bool(cuda_graphs)
        self.fallback_reason: str | None = None

    # ------------------------------------------------------------------------- public
    def __call__(
        self,
        index: int,
        part: LabelPart,
        images: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator | None,
        train_g: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run one iteration of dataset ``index`` (see the class docstring)."""
        images, labels = self._to_device(index, images, labels)
        if not self.graphs_enabled or generator is None:
            return self._eager(part, images, labels, generator, train_g)
        key = (index, bool(train_g), tuple(images.shape), tuple(labels.shape))
        kind = self._kinds.setdefault(key, _Kind())
        if kind.captured is not None:
            return self._replay(kind.captured, images, labels, generator)
        if self.captured_graphs >= MAX_GRAPHS:  # each graph holds its own memory
            return self._eager(part, images, labels, generator, train_g)
        if kind.warm < self.warmup:
            kind.warm += 1
            with self.backend.side_stream():
                return self._eager(part, images, labels, generator, train_g)
        try:
            kind.captured = self._capture(part, images, labels, generator, train_g)
        except Exception as err:  # any failure to capture: carry on eagerly
            cause = _root_cause(err)
            self._fall_back(f"capturing the training step failed ({type(cause).__name__}: {_first_line(cause)})")
            return self._eager(part, images, labels, generator, train_g)
        if not self.verify:
            return self._replay(kind.captured, images, labels, generator)
        return self._verified_replay(kind.captured, part, images, labels, generator, train_g)

    def identity(
        self, index: int, part: LabelPart, images: torch.Tensor, labels: torch.Tensor,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """One eager warm-up iteration of G alone (``--warmup-iters``); returns the G losses."""
        images, labels = self._to_device(index, images, labels)
        return run_identity_iteration(self.nets, self.c_dim, part, images, labels, generator, self.channels_last)

    @property
    def captured_graphs(self) -> int:
        """How many graphs are captured and in use."""
        return sum(k.captured is not None for k in self._kinds.values()) if self.graphs_enabled else 0

    # ------------------------------------------------------------------------- internals
    def _eager(self, part, images, labels, generator, train_g):
        return run_iteration(self.nets, self.weights, self.c_dim, part, images, labels, generator, train_g,
                             self.channels_last, *self._steps)

    def _to_device(self, index: int, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch on the device, in buffers reused from step to step (pinned host tensors
        are copied without blocking)."""
        if self.device.type == "cpu" or images.device.type != "cpu":
            return images.to(self.device), labels.to(self.device, torch.float32)
        bufs = self._buffers.get(index)
        if bufs is None or bufs[0].shape != images.shape or bufs[1].shape != labels.shape:
            bufs = (torch.empty(images.shape, dtype=images.dtype, device=self.device),
                    torch.empty(labels.shape, dtype=torch.float32, device=self.device))
            self._buffers[index] = bufs
        bufs[0].copy_(images, non_blocking=True)
        bufs[1].copy_(labels, non_blocking=True)
        return bufs

    def _capture(self, part, images, labels, generator, train_g) -> _Captured:
        for opt in (self.nets.g_optimizer, self.nets.d_optimizer):
            if not all(isinstance(g["lr"], torch.Tensor) for g in opt.param_groups):
                raise RuntimeError("the optimizers' learning rates must be tensors (make_optimizer(capturable=True))")
        static_images = images.clone()
        static_labels = labels.clone()
        graph_generator = self.backend.new_generator()
        graph_generator.set_state(generator.get_state())

        def iteration():
            return self._eager(part, static_images, static_labels, graph_generator, train_g)

        graph, (d_losses, g_losses) = self.backend.capture(iteration, graph_generator)
        return _Captured(graph, static_images, static_labels, graph_generator, d_losses, g_losses)

    def _replay(self, captured: _Captured, images, labels, generator):
        captured.images.copy_(images, non_blocking=True)
        captured.labels.copy_(labels, non_blocking=True)
        before = generator.get_state()  # seed and offset: host values, no device sync
        captured.generator.set_state(before)
        captured.graph.replay()
        after = captured.generator.get_state()
        generator.set_state(after)
        if torch.equal(after, before):
            self._fall_back("a replay did not advance its random generator (the same random numbers every step)")
        return captured.d_losses, captured.g_losses

    def _verified_replay(self, captured: _Captured, part, images, labels, generator, train_g):
        """Replay once, then run the same iteration eagerly from the same state and compare
        (one host sync per captured graph). Keeps the eager result either way."""
        snap = _Snapshot.take(self.nets)
        start = generator.get_state()
        d_graph, g_graph = self._replay(captured, images, labels, generator)
        losses_graph = d_graph.clone() if g_graph is None else torch.cat([d_graph, g_graph])
        rng_graph = generator.get_state()
        update_graph = snap.updates()
        snap.restore()
        generator.set_state(start)
        d_eager, g_eager = self._eager(part, images, labels, generator, train_g)
        losses_eager = d_eager if g_eager is None else torch.cat([d_eager, g_eager])
        update_eager = snap.updates()
        del snap
        # The same kernels on the same inputs: only non-deterministic reductions may differ.
        losses_ok = torch.isclose(losses_graph, losses_eager, rtol=1e-2, atol=1e-3).all()
        updates_ok = (update_graph - update_eager).norm() <= 0.05 * update_eager.norm() + 1e-12
        losses_ok, updates_ok = torch.stack([losses_ok, updates_ok]).tolist()
        problems = [name for name, ok in (("random draws", torch.equal(rng_graph, generator.get_state())),
                                          ("losses", losses_ok), ("weight updates", updates_ok)) if not ok]
        if problems:
            self._fall_back(f"a captured step did not match the eager step ({', '.join(problems)} differed)")
        return d_eager, g_eager

    def _fall_back(self, reason: str) -> None:
        if self.fallback_reason is not None:
            return
        self.graphs_enabled = False
        self.fallback_reason = reason
        self._kinds.clear()
        message = f"CUDA graphs turned off: {reason}. Training continues without them (slower); " \
                  "--no-cuda-graphs skips them from the start."
        if self._say is not None:
            self._say(message)
        else:
            warnings.warn(message, GraphFallbackWarning, stacklevel=3)


def _root_cause(err: BaseException) -> BaseException:
    """The first error of a chain: an error inside a capture surfaces as capture_end()'s
    "operation failed due to a previous error during capture", with the real one as context."""
    seen = {id(err)}
    while True:
        nxt = err.__cause__ or err.__context__
        if nxt is None or id(nxt) in seen:
            return err
        seen.add(id(nxt))
        err = nxt


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else "no message"


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


__all__ = [
    "AUTOCAST_DTYPES", "GraphFallbackWarning", "SpeedPlan", "TrainStep", "compile_networks",
    "load_optimizer_state", "make_networks", "make_optimizer", "no_sync_context", "optimizer_state",
    "plan_speed", "run_iteration", "set_lr",
]
