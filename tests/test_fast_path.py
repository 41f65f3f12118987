"""The fast training path: speed plan, TrainStep (eager pass-through and graph replay with its
checks), learning-rate tensors in checkpoints, precision numerics, the original step, host syncs.

Tiny models (16 px, 8 channels) on CPU. The CUDA graph machinery is exercised through a
stand-in backend that "captures" by recording the iteration and "replays" by running it again,
so everything around the capture (static buffers, the graph generator kept in step with the
trainer's, the first-replay check against eager, the fall-backs) runs here; the real capture
is covered by the CUDA-only tests at the end and by benchmarks/gpu_check.sh.

That the preprocessed cache yields exactly the JPEG pipeline's tensors is tested in
tests/test_data.py (test_cache_gives_exactly_the_jpeg_pipeline_tensors).
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from stargan_cli.models import Discriminator, Generator
from stargan_cli.training import cuda_graphs
from stargan_cli.training.cuda_graphs import GraphFallbackWarning, TrainStep
from stargan_cli.label_layout import label_parts, model_label
from stargan_cli.training.labels import random_targets
from stargan_cli.training.networks import make_networks
from stargan_cli.training.optimizers import TORCH_VERSION, make_optimizer, set_lr
from stargan_cli.training.speed import SpeedPlan, no_sync_context, plan_speed
from stargan_cli.training.state import load_optimizer_state, optimizer_state
from stargan_cli.training.step import G_LOSSES, LossWeights, StepBatch, discriminator_step, generator_step, prepare_images
from train_helpers import one_thread  # noqa: F401  (autouse)

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
PART = label_parts([(("Black_Hair", "Blond_Hair", "Brown_Hair", "Male"), "multi")])[0]
C_DIM = PART.width
WEIGHTS = LossWeights()
SIZE = 16


def nets_for(precision: str = "fp32", capturable: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    G, D = Generator(C_DIM, 8, 1), Discriminator(SIZE, C_DIM, 8, 2)
    plan = SpeedPlan(precision, False, False, False)
    nets = make_networks(G, D, CPU, plan, 1e-3, 1e-3, (0.5, 0.999))
    if capturable:  # tensor learning rates, as a CUDA-graph run has them
        nets.g_optimizer = make_optimizer(G.parameters(), 1e-3, (0.5, 0.999), CPU, capturable=True)
        nets.d_optimizer = make_optimizer(D.parameters(), 1e-3, (0.5, 0.999), CPU, capturable=True)
    return nets


def batches(n: int = 3, batch: int = 4, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        images = (torch.rand(batch, 3, SIZE, SIZE, generator=g) * 255).to(torch.uint8)
        hair = torch.nn.functional.one_hot(torch.randint(0, 3, (batch,), generator=g), 3).float()
        out.append((images, torch.cat([hair, (torch.rand(batch, 1, generator=g) > 0.5).float()], 1)))
    return out


def weights_of(nets) -> list[torch.Tensor]:
    return [p.detach().clone() for m in (nets.G, nets.D) for p in m.parameters()]


def train(stepper, iters: int = 10, n_critic: int = 2, seed: int = 5):
    """Run ``iters`` iterations as the trainer does; return all losses (NaN where no G step)
    and the generator."""
    rng = torch.Generator().manual_seed(seed)
    data = batches()
    rows = []
    for i in range(iters):
        images, labels = data[i % len(data)]
        d, g = stepper(0, PART, images, labels, rng, (i + 1) % n_critic == 0)
        rows.append(torch.cat([d.values, g.values if g is not None else torch.full((len(G_LOSSES),), float("nan"))]).clone())
    return torch.stack(rows), rng


class ReplayBackend:
    """CUDA graphs' stand-in: capture records the iteration (running it once from a snapshot,
    to get output tensors, then undoing it, since a real capture runs nothing); replay runs it
    again into those outputs. ``broken`` makes replays wrong in one way."""

    def __init__(self, nets, broken: str | None = None, fail_capture: bool = False):
        self.nets, self.broken, self.fail_capture = nets, broken, fail_capture
        self.captures = 0
        self.replays = 0

    def side_stream(self):
        return nullcontext()

    def new_generator(self):
        return torch.Generator()

    def capture(self, fn, generator):
        if self.fail_capture:  # as torch reports it: capture_end()'s error, the real one as context
            try:
                raise RuntimeError("operation not permitted when stream is capturing")
            except RuntimeError:
                raise RuntimeError("operation failed due to a previous error during capture")
        self.captures += 1
        snap = cuda_graphs._Snapshot.take(self.nets)
        state = generator.get_state()
        d, g = fn()
        snap.restore()
        generator.set_state(state)
        outputs = (type(d)(d.names, d.values.clone()), None if g is None else type(g)(g.names, g.values.clone()))
        backend = self

        class Graph:
            def replay(self):
                backend.replays += 1
                start = generator.get_state()
                d_now, g_now = fn()
                outputs[0].values.copy_(d_now.values)
                if g_now is not None:
                    outputs[1].values.copy_(g_now.values)
                if backend.broken == "weights":
                    with torch.no_grad():
                        next(backend.nets.D.parameters()).mul_(1.5)
                elif backend.broken == "same-random":
                    generator.set_state(start)

        return Graph(), outputs


# ----------------------------------------------------------------------------- the plan
def test_plan_defaults_per_device():
    cpu = plan_speed(CPU)  # conftest: a CPU without native bf16
    assert (cpu.precision, cpu.cuda_graphs, cpu.compile, cpu.channels_last) == ("fp32", False, False, False)
    assert cpu.warnings == ()
    cuda = plan_speed(torch.device("cuda"))
    assert (cuda.precision, cuda.cuda_graphs, cuda.notes) == ("bf16", True, ())
    assert cuda.describe() == "bf16, CUDA graphs"
    assert plan_speed(torch.device("cuda"), "fp32").cuda_graphs is True
    assert plan_speed(torch.device("cuda"), cuda_graphs=False).cuda_graphs is False  # --no-cuda-graphs
    # Not by default where they cannot run, nor stacked on torch.compile unless asked for.
    assert plan_speed(torch.device("cuda"), "fp16").cuda_graphs is False
    assert plan_speed(torch.device("cuda"), distributed=True).cuda_graphs is False
    assert plan_speed(torch.device("cuda"), compile=True).cuda_graphs is False
    assert plan_speed(torch.device("cuda"), compile=True, cuda_graphs=True).cuda_graphs is True
    assert plan_speed(torch.device("mps")).cuda_graphs is False


@pytest.mark.parametrize("device, kwargs, why", [
    ("cpu", {"precision": "fp32"}, "need a CUDA device"),
    ("cuda", {"distributed": True}, "several processes"),
    ("cuda", {"precision": "fp16"}, "gradient scaler"),
])
def test_graphs_asked_for_where_they_cannot_run_are_off_with_a_note(device, kwargs, why):
    plan = plan_speed(torch.device(device), cuda_graphs=True, **kwargs)
    assert plan.cuda_graphs is False and len(plan.notes) == 1 and why in plan.notes[0]
    # Not asked for: off silently.
    assert plan_speed(torch.device(device), **kwargs).notes == ()


@pytest.mark.parametrize("native", [False, True])
def test_auto_precision_on_a_cpu_is_bf16_only_where_it_is_native(monkeypatch, native):
    monkeypatch.setattr("stargan_cli.devices.cpu_has_native_bf16", lambda: native)
    for precision in (None, "auto"):
        plan = plan_speed(CPU, precision)
        assert plan.precision == ("bf16" if native else "fp32")
        assert plan.warnings == ()
        assert len(plan.notes) == 1 and plan.notes[0].startswith(f"--precision auto picked {plan.precision}")
        assert ("has no native bf16" in plan.notes[0]) is not native
    # Not the CPU's business: bf16 on CUDA, fp32 on MPS; no note there.
    assert plan_speed(torch.device("cuda"), "auto").precision == "bf16"
    assert plan_speed(torch.device("mps"), "auto").precision == "fp32"
    assert plan_speed(torch.device("mps")).notes == ()


@pytest.mark.parametrize("native", [False, True])
def test_bf16_asked_for_on_a_cpu_without_native_bf16_warns_and_runs(monkeypatch, native):
    monkeypatch.setattr("stargan_cli.devices.cpu_has_native_bf16", lambda: native)
    plan = plan_speed(CPU, "bf16")
    assert plan.precision == "bf16" and plan.notes == ()
    if native:
        assert plan.warnings == ()
    else:
        assert len(plan.warnings) == 1 and "no native bf16" in plan.warnings[0]
        assert "--precision auto picks fp32" in plan.warnings[0]
    assert plan_speed(CPU, "fp32").warnings == plan_speed(CPU, "fp32").notes == ()


@pytest.mark.parametrize("text, native", [
    ("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 fsrm\n", True),  # AMD Zen 4
    ("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n", True),  # Intel Sapphire Rapids
    ("flags\t\t: fpu sse avx2 fma vaes\nbugs\t\t: avx512_bf16\n", False),  # only the first flags line counts
    ("Features\t: fp asimd sve\n", False),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, text, native):
    from stargan_cli.devices import cpu_flags, has_native_bf16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert has_native_bf16(cpu_flags(str(cpuinfo))) is native
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


# ----------------------------------------------------------------------------- eager pass-through
def test_train_step_on_cpu_is_exactly_the_step_functions():
    a, b = nets_for(), nets_for()
    stepper = TrainStep(a, WEIGHTS, C_DIM, CPU)
    got, got_rng = train(stepper, iters=6)
    rng = torch.Generator().manual_seed(5)
    data = batches()
    rows = []
    for i in range(6):
        images, labels = data[i % len(data)]
        x_real = prepare_images(images, rng)
        trg = random_targets(labels, PART, rng)
        batch = StepBatch(x_real, model_label(labels, PART, C_DIM), model_label(trg, PART, C_DIM), PART)
        d = discriminator_step(b, batch, WEIGHTS, rng).values
        g = torch.full((len(G_LOSSES),), float("nan"))
        if (i + 1) % 2 == 0:
            g = generator_step(b, batch, WEIGHTS).values
        rows.append(torch.cat([d, g]))
    assert torch.equal(got.nan_to_num(7.0), torch.stack(rows).nan_to_num(7.0))
    assert all(torch.equal(x, y) for x, y in zip(weights_of(a), weights_of(b)))
    assert torch.equal(got_rng.get_state(), rng.get_state())
    assert stepper.captured_graphs == 0


# ----------------------------------------------------------------------------- graph replay
def test_replayed_graphs_give_exactly_the_eager_training():
    eager_nets, graph_nets = nets_for(capturable=True), nets_for(capturable=True)
    eager, eager_rng = train(TrainStep(eager_nets, WEIGHTS, C_DIM, CPU), iters=12)
    backend = ReplayBackend(graph_nets)
    stepper = TrainStep(graph_nets, WEIGHTS, C_DIM, CPU, cuda_graphs=True, backend=backend, warmup=2)
    replayed, graph_rng = train(stepper, iters=12)
    # Two kinds of iteration (D only, D then G), each captured after two warm-up runs.
    assert backend.captures == 2 and stepper.captured_graphs == 2 and stepper.fallback_reason is None
    assert backend.replays == 12 - 2 * 2
    assert torch.equal(replayed.nan_to_num(7.0), eager.nan_to_num(7.0))
    assert all(torch.equal(x, y) for x, y in zip(weights_of(graph_nets), weights_of(eager_nets)))
    # The trainer's generator ends where eager training leaves it: checkpoints resume exactly.
    assert torch.equal(graph_rng.get_state(), eager_rng.get_state())


@pytest.mark.parametrize("broken, problem", [("weights", "weight updates"), ("same-random", "random")])
def test_a_wrong_replay_is_caught_and_training_continues_as_eager(broken, problem):
    eager, _ = train(TrainStep(nets_for(capturable=True), WEIGHTS, C_DIM, CPU), iters=10)
    nets = nets_for(capturable=True)
    said = []
    stepper = TrainStep(nets, WEIGHTS, C_DIM, CPU, cuda_graphs=True, backend=ReplayBackend(nets, broken),
                        warmup=2, say=said.append)
    got, _ = train(stepper, iters=10)
    assert stepper.graphs_enabled is False and stepper.captured_graphs == 0
    assert len(said) == 1 and "CUDA graphs turned off" in said[0] and problem in said[0]
    # The wrong replay was undone: the run is exactly the eager one.
    assert torch.equal(got.nan_to_num(7.0), eager.nan_to_num(7.0))


def test_a_failed_capture_falls_back_with_a_warning():
    eager, _ = train(TrainStep(nets_for(capturable=True), WEIGHTS, C_DIM, CPU), iters=8)
    nets = nets_for(capturable=True)
    stepper = TrainStep(nets, WEIGHTS, C_DIM, CPU, cuda_graphs=True, warmup=2,
                        backend=ReplayBackend(nets, fail_capture=True))
    with pytest.warns(GraphFallbackWarning, match="capturing the training step failed.*not permitted") as caught:
        got, _ = train(stepper, iters=8)
    assert torch.equal(got.nan_to_num(7.0), eager.nan_to_num(7.0))
    assert "previous error" not in str(caught[0].message)  # the first error is the one named


def test_float_learning_rates_are_refused_for_capture():
    nets = nets_for(capturable=False)
    stepper = TrainStep(nets, WEIGHTS, C_DIM, CPU, cuda_graphs=True, warmup=1, backend=ReplayBackend(nets))
    with pytest.warns(GraphFallbackWarning, match="learning rates must be tensors"):
        train(stepper, iters=4)


# ----------------------------------------------------------------------------- learning rates
def test_tensor_learning_rates_change_in_place_and_save_as_floats(tmp_path):
    nets = nets_for(capturable=True)
    rate = nets.d_optimizer.param_groups[0]["lr"]
    set_lr(nets.d_optimizer, 2e-4)
    assert nets.d_optimizer.param_groups[0]["lr"] is rate and float(rate) == pytest.approx(2e-4)
    train(TrainStep(nets, WEIGHTS, C_DIM, CPU), iters=2, n_critic=1)
    saved = optimizer_state(nets.d_optimizer)
    assert isinstance(saved["param_groups"][0]["lr"], float)
    assert isinstance(nets.d_optimizer.param_groups[0]["lr"], torch.Tensor)  # the optimizer's own is kept
    torch.save(saved, tmp_path / "opt.pt")
    saved = torch.load(tmp_path / "opt.pt", weights_only=True)

    # Into a float-rate optimizer (a CPU run) and back into a tensor-rate one (a graph run).
    plain = nets_for().d_optimizer
    load_optimizer_state(plain, saved)
    assert plain.param_groups[0]["lr"] == pytest.approx(2e-4) and isinstance(plain.param_groups[0]["lr"], float)
    again = nets_for(capturable=True).d_optimizer
    kept = again.param_groups[0]["lr"]
    load_optimizer_state(again, optimizer_state(plain))
    assert again.param_groups[0]["lr"] is kept and float(kept) == pytest.approx(2e-4)
    first = next(iter(again.state.values()))
    assert first["step"].device.type == "cpu" and float(first["step"]) == 2
    assert torch.equal(first["exp_avg"], next(iter(nets.d_optimizer.state.values()))["exp_avg"])


def test_moments_take_the_parameters_memory_layout_on_load():
    """A run resumed with --channels-last toggled: fused Adam needs each moment laid out like
    its parameter, while loading keeps the checkpoint's strides."""
    nets = nets_for()
    train(TrainStep(nets, WEIGHTS, C_DIM, CPU), iters=2, n_critic=1)
    state = nets.d_optimizer.state_dict()
    target = nets_for()
    target.D.to(memory_format=torch.channels_last)
    load_optimizer_state(target.d_optimizer, state)
    convs = [p for p in target.D.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    for p in target.D.parameters():
        st = target.d_optimizer.state[p]
        for key in ("exp_avg", "exp_avg_sq"):
            assert st[key].stride() == p.stride(), key
    source = next(iter(nets.d_optimizer.state.values()))["exp_avg"]
    assert torch.equal(next(iter(target.d_optimizer.state.values()))["exp_avg"], source)


def test_optimizer_flags_survive_loading_another_runs_state():
    nets = nets_for()
    train(TrainStep(nets, WEIGHTS, C_DIM, CPU), iters=1, n_critic=1)
    state = nets.g_optimizer.state_dict()
    target = nets_for().g_optimizer
    own = {k: target.param_groups[0][k] for k in ("fused", "capturable")}
    for group in state["param_groups"]:  # as saved by a run with other flags (e.g. a CUDA-graph run)
        group.update({k: not v for k, v in own.items()})
    load_optimizer_state(target, state)
    assert {k: target.param_groups[0][k] for k in own} == own
    target.step()  # and it still steps with its own implementation


def test_cpu_adam_is_fused_where_torch_has_it():
    """torch 2.4+ has a fused CPU Adam (faster, benchmarks/RESULTS.md): the trainer uses it, with the same
    updates as the plain one."""
    fused = nets_for().g_optimizer
    assert fused.param_groups[0]["fused"] is (TORCH_VERSION >= (2, 4))
    torch.manual_seed(3)
    params = [torch.nn.Parameter(torch.randn(5, 4)) for _ in range(2)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    start = [p.detach().clone() for p in params]
    a = make_optimizer(params, 1e-2, (0.5, 0.999), CPU)
    b = torch.optim.Adam(twins, lr=1e-2, betas=(0.5, 0.999))
    for _ in range(3):
        grads = [torch.randn(5, 4) for _ in params]
        for p, q, g in zip(params, twins, grads):
            p.grad, q.grad = g.clone(), g.clone()
        a.step()
        b.step()
    for p, q, p0 in zip(params, twins, start):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        assert (p - p0).abs().mean() > 2e-3  # the weights moved (3 steps of up to lr each)


# ----------------------------------------------------------------------------- numerics
def test_bf16_autocast_losses_track_fp32():
    fp32, _ = train(TrainStep(nets_for("fp32"), WEIGHTS, C_DIM, CPU), iters=4)
    bf16, _ = train(TrainStep(nets_for("bf16"), WEIGHTS, C_DIM, CPU), iters=4)
    assert torch.isfinite(bf16.nan_to_num(0.0)).all()
    assert not torch.equal(fp32, bf16)  # the autocast path really ran in bf16
    # bf16 keeps 8 bits of mantissa: a few parts in a thousand per op, more after updates.
    torch.testing.assert_close(bf16, fp32, rtol=5e-2, atol=2e-2, equal_nan=True)


def _train_speed_module():
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "benchmarks" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("train_speed", module)
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_original_step_computes_what_ours_computes(monkeypatch):
    """The re-created original solver step (separate real/fake passes, stock instance norms)
    and our step (one D pass, frozen D in the G step) give the same losses and updates."""
    # Our norms' CPU form (a group norm, equal to rounding: test_models) would let Adam turn
    # rounding differences into sign flips over the steps; the same kernel keeps this about the step.
    from stargan_cli.models import norms

    monkeypatch.setattr(norms, "instance_norm", lambda x, weight=None, bias=None, eps=1e-5: torch.nn.functional
                        .instance_norm(x, None, None, weight, bias, True, 0.0, eps))
    bench = _train_speed_module()
    ours = nets_for()
    torch.manual_seed(0)
    G, D = Generator(C_DIM, 8, 1), Discriminator(SIZE, C_DIM, 8, 2)
    original = bench.OriginalStep(G, D, CPU, lr=1e-3)
    images, labels = batches(1)[0]
    x = bench.normalize_u8(images)
    order = torch.tensor([2, 0, 3, 1])
    for i in range(3):
        torch.manual_seed(10 + i)  # the original draws the penalty's mixing weights globally
        original(x, labels, True, rand_idx=order)
        c_trg = labels[order]
        batch = StepBatch(x, labels, c_trg, PART)
        d = discriminator_step(ours, batch, WEIGHTS, torch.Generator().manual_seed(10 + i))
        g = generator_step(ours, batch, WEIGHTS)
        log = original.log
        want = torch.tensor([log["D/loss_real"], log["D/loss_fake"], log["D/loss_cls"], log["D/loss_gp"],
                             log["G/loss_fake"], log["G/loss_rec"], log["G/loss_cls"]])
        got = [d.get(n) for n in ("d_real", "d_fake", "d_cls", "d_gp")] + [g.get(n) for n in ("g_fake", "g_rec", "g_cls")]
        torch.testing.assert_close(torch.stack(got), want, rtol=1e-4, atol=1e-5)
    # Adam turns rounding-level differences of near-zero gradients into sign flips of a few
    # single updates (up to 2 * lr), so weights are compared as tensors, not elementwise.
    for a, b in zip(weights_of(ours), [p.detach() for m in (G, D) for p in m.parameters()]):
        assert (a - b).norm() <= 1e-2 * b.norm()


# ----------------------------------------------------------------------------- CUDA only
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def cuda_nets(graphs: bool, seed: int = 0):
    device = torch.device("cuda")
    torch.manual_seed(seed)
    G, D = Generator(C_DIM, 8, 1).to(device), Discriminator(SIZE, C_DIM, 8, 2).to(device)
    plan = plan_speed(device, "fp32", graphs)
    return make_networks(G, D, device, plan, 1e-3, 1e-3, (0.5, 0.999)), plan


@cuda_only
def test_cuda_graphs_match_eager_on_the_gpu():
    device = torch.device("cuda")
    eager_nets, _ = cuda_nets(False)
    graph_nets, _ = cuda_nets(True)
    rng_a = torch.Generator(device=device).manual_seed(5)
    rng_b = torch.Generator(device=device).manual_seed(5)
    a = TrainStep(eager_nets, WEIGHTS, C_DIM, device)
    b = TrainStep(graph_nets, WEIGHTS, C_DIM, device, cuda_graphs=True, warmup=2)
    data = [(x.pin_memory(), y.pin_memory()) for x, y in batches()]
    for i in range(14):
        images, labels = data[i % 3]
        da, ga = a(0, PART, images, labels, rng_a, (i + 1) % 2 == 0)
        db, gb = b(0, PART, images, labels, rng_b, (i + 1) % 2 == 0)
        torch.testing.assert_close(db.values, da.values, rtol=1e-3, atol=1e-4)
        if ga is not None:
            torch.testing.assert_close(gb.values, ga.values, rtol=1e-3, atol=1e-4)
    assert b.captured_graphs == 2 and b.fallback_reason is None
    assert torch.equal(rng_a.get_state(), rng_b.get_state())
    for wa, wb in zip(weights_of(eager_nets), weights_of(graph_nets)):
        assert (wa - wb).norm() <= 1e-2 * wa.norm() + 1e-6


@cuda_only
def test_no_host_sync_in_captured_steps():
    device = torch.device("cuda")
    nets, _ = cuda_nets(True)
    stepper = TrainStep(nets, WEIGHTS, C_DIM, device, cuda_graphs=True, warmup=2)
    rng = torch.Generator(device=device).manual_seed(5)
    data = [(x.pin_memory(), y.pin_memory()) for x, y in batches()]
    for i in range(8):
        stepper(0, PART, *data[i % 3], rng, (i + 1) % 2 == 0)
    assert stepper.captured_graphs == 2 and stepper.fallback_reason is None  # replays from here on
    with no_sync_context(device):
        for i in range(8, 16):
            stepper(0, PART, *data[i % 3], rng, (i + 1) % 2 == 0)
    torch.cuda.synchronize()
    assert stepper.captured_graphs == 2 and stepper.fallback_reason is None


# ----------------------------------------------------------------------------- host syncs
# Reading a tensor on the host: each of these waits for the device on CUDA.
HOST_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "__repr__",
              "__format__")


def test_the_training_loop_reads_no_tensor_between_log_steps(tmp_path, monkeypatch):
    """Record every host read of a tensor made by our code (not torch's: the CPU optimizer
    reads its own step counter, which lives on the host) on the main thread, by phase of the
    loop: the iteration body, and the after-step work of ordinary and of log/save steps."""
    import threading

    from stargan_cli.training import loop
    from train_helpers import make_celeba, tiny

    phase = {"now": None}
    reads: list[tuple[str, int | None, str]] = []
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if (phase["now"] is not None and caller.startswith("stargan_cli")
                    and threading.current_thread() is threading.main_thread()):
                reads.append((phase["now"][0], phase["now"][1], f"{_name} in {caller}"))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)

    real_fetch, real_after, real_loop = loop.TrainingLoop._fetch, loop.TrainingLoop._after_step, loop.TrainingLoop.run

    def fetch(self):
        phase["now"] = ("body", self.step + 1)
        return real_fetch(self)

    def after_step(self):
        cfg = self.config
        special = self.step % cfg.log_every == 0 or self.step % cfg.save_every == 0 or \
            self.step % cfg.sample_every == 0 or self.step >= cfg.iters
        phase["now"] = ("log step" if special else "after", self.step)
        try:
            return real_after(self)
        finally:
            phase["now"] = ("body", self.step + 1)

    def run_loop(self):
        try:
            return real_loop(self)
        finally:
            phase["now"] = None

    monkeypatch.setattr(loop.TrainingLoop, "_fetch", fetch)
    monkeypatch.setattr(loop.TrainingLoop, "_after_step", after_step)
    monkeypatch.setattr(loop.TrainingLoop, "run", run_loop)
    data = make_celeba(tmp_path / "celeba")
    # On the CPU: on CUDA the first replay of each graph is checked against eager, one read by
    # design (test_no_host_sync_in_captured_steps covers CUDA, after the capture).
    loop.train(tiny(data, tmp_path / "run", iters=8, n_critic=2, log_every=4, save_every=100, sample_every=100,
                    device="cpu"))
    hot = [r for r in reads if r[0] != "log step"]
    assert hot == [], hot
    # The spy does see reads: the log steps read the accumulated losses, once each.
    assert {step for kind, step, _ in reads if kind == "log step"} == {4, 8}


def test_cli_speed_flags_reach_the_run(tmp_path):
    import json

    from typer.testing import CliRunner

    from stargan_cli.cli import app
    from train_helpers import TINY, make_celeba

    data = make_celeba(tmp_path / "celeba")
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(run), "--iters", "2",
                                      "--log-every", "1", "--channels-last", "--cuda-graphs", "--device", "cpu", "-q", *TINY])
    assert result.exit_code == 0, result.output
    assert "Note: CUDA graphs are off: they need a CUDA device" in result.output
    assert "(fp32, channels-last)" in result.output
    assert "Note: --precision auto picked fp32: this CPU has no native bf16" in result.output
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["precision"] == "auto" and config["resolved"]["precision"] == "fp32"
    assert config["train"]["cuda_graphs"] is True and config["train"]["channels_last"] is True
    assert config["resolved"]["speed"] == {"precision": "fp32", "cuda_graphs": False, "compile": False,
                                           "channels_last": True}
    # How a run computes may change when it is resumed.
    resumed = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", "3", "--no-cuda-graphs", "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "config.json").read_text())["train"]["cuda_graphs"] is False
