"""Training iterations through CUDA graphs, checked against eager and falling back to it.

:class:`TrainStep` runs one iteration for one dataset (batch to the device, random targets,
D step, G step when due) through :func:`.step.run_iteration`. On the CPU, on MPS and on CUDA
without graphs it is exactly that call. With CUDA graphs each kind of iteration (D only, D
then G) is run eagerly a few times on a side stream, then captured whole (batch preparation,
the gradient penalty's double backward, both optimizer steps) and replayed from then on:

* inputs are copied into static device buffers before each replay; losses come back in static
  output tensors, read by the caller before the next replay (stream order);
* the random draws (flips, target permutations, penalty mixing weights) come from a graph-owned
  generator registered with the graph, whose state is synchronised with the trainer's
  generator around every replay (host-side copies of seed and offset, no device sync), so a
  replay draws exactly the numbers an eager iteration would, and checkpoints keep resuming
  exactly;
* Adam is fused and capturable with its learning rate held in a device tensor
  (:func:`.optimizers.make_optimizer`), so learning-rate changes are in-place fills that
  replays see;
* the first replay of each graph is checked against an eager run of the same iteration from the
  same state (losses, weight updates, random draws); a mismatch, or any error while capturing,
  turns graphs off for the rest of the run with a warning, and training continues eagerly.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from ..label_layout import LabelPart
from .networks import Networks
from .step import LossWeights, Losses, run_identity_iteration, run_iteration

WARMUP_ITERATIONS = 3  # eager runs of each kind of iteration before it is captured
MAX_GRAPHS = 6  # e.g. 2 datasets x (D only, D+G), plus a short batch; other shapes run eagerly


class GraphFallbackWarning(RuntimeWarning):
    """CUDA graphs were turned off during a run (capture failed or did not match eager)."""


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
    d_losses: Losses
    g_losses: Losses | None


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
    (host or device tensors) and returns the D losses and the G losses (None without a G
    step), on the device, read by the caller only at log steps. With ``cuda_graphs`` False it
    is exactly :func:`.step.run_iteration` on device copies of the batch. ``say`` receives the
    warning when graphs are turned off mid-run (default: a :class:`GraphFallbackWarning`).
    ``backend`` replaces the CUDA graph machinery (tests).
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
    ):
        self.nets = nets
        self.weights = weights
        self.c_dim = c_dim
        self.device = device
        self.channels_last = channels_last
        self.warmup = max(1, int(warmup))
        self.verify = verify
        self._say = say
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
    ) -> tuple[Losses, Losses | None]:
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
    ) -> Losses:
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
                             self.channels_last)

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
        losses_graph = d_graph.values.clone() if g_graph is None else torch.cat([d_graph.values, g_graph.values])
        rng_graph = generator.get_state()
        update_graph = snap.updates()
        snap.restore()
        generator.set_state(start)
        d_eager, g_eager = self._eager(part, images, labels, generator, train_g)
        losses_eager = d_eager.values if g_eager is None else torch.cat([d_eager.values, g_eager.values])
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
