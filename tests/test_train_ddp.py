"""Multi-process training with DistributedDataParallel: two CPU processes over gloo, started by
torchrun exactly as a user would (``python -m torch.distributed.run --nproc_per_node 2``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from stargan_cli.loading import load_checkpoint
from train_helpers import TINY, make_celeba, read_metrics

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")


def _torchrun(args: list[str], timeout: float = 150) -> subprocess.CompletedProcess:
    """Run ``torchrun --standalone --nproc_per_node 2 ARGS``; on a timeout kill its whole group."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"torchrun timed out:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_two_processes_train_save_and_resume(tmp_path):
    data = make_celeba(tmp_path / "celeba")
    run = tmp_path / "run"
    common = ["-m", "stargan_cli", "train", "--data", str(data), "--out", str(run), "--log-every", "2",
              "--save-every", "2", "--sample-every", "2", "--n-critic", "2", "-q", *TINY]
    done = _torchrun([*common, "--iters", "4"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "x 2 processes" in done.stdout
    final = load_checkpoint(run / "final.pt")
    assert final.step == 4 and final.meta["world_size"] == 2
    # Each process's data position and random generators are kept, for an exact resume.
    ranks = final.training["ranks"]
    assert len(ranks) == 2 and not torch.equal(ranks[0]["rng"]["device"], ranks[1]["rng"]["device"])
    # Rank 0 alone writes: one metrics line per log step, one sample grid per sample step.
    assert [m["step"] for m in read_metrics(run)] == [2, 4]
    assert read_metrics(run)[-1]["images_per_s"] > 0
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["000002.jpg", "000004.jpg"]
    config = json.loads((run / "config.json").read_text())
    assert config["resolved"]["world_size"] == 2
    # The same flags continue it under torchrun.
    resumed = _torchrun(["-m", "stargan_cli", "train", "--resume", str(run), "--iters", "6", "-q"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert load_checkpoint(run / "final.pt").step == 6
    assert [m["step"] for m in read_metrics(run)] == [2, 4, 6]


GRADIENT_CHECK = textwrap.dedent('''
    """Under DDP, the D and G steps (gradient penalty with double backward, two G passes)
    must leave on every process the average of the per-process gradients."""
    import copy, gc, sys
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from stargan_cli.models import Discriminator, Generator
    from stargan_cli.label_layout import label_parts
    from stargan_cli.training.networks import Networks
    from stargan_cli.training.step import LossWeights, StepBatch, discriminator_step, generator_step

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    G, D = Generator(3, 8, 1), Discriminator(16, 3, 8, 2)
    part = label_parts([(("Black_Hair", "Blond_Hair", "Male"), "multi")])[0]
    weights = LossWeights("wgan-gp", 1.0, 10.0, 10.0)

    def inputs(r):
        g = torch.Generator().manual_seed(100 + r)
        x = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
        c_org = (torch.rand(4, 3, generator=g) > 0.5).float()
        return StepBatch(x, c_org, c_org.flip(0), part)

    def nets_for(g, d, g_train, d_train):
        sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.0)  # keep the weights: look at .grad
        return Networks(g, d, g_train, d_train, sgd(g), sgd(d), None, None)

    def grads(module):
        return [p.grad.clone() for p in module.parameters()]

    # Reference: every process's batch through plain modules, gradients averaged by hand.
    expected_d, expected_g = None, None
    for r in range(world):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        nets = nets_for(g, d, g, d)
        batch = inputs(r)
        discriminator_step(nets, batch, weights, torch.Generator().manual_seed(7 + r))
        generator_step(nets, batch, weights)
        gd, gg = grads(d), grads(g)
        expected_d = gd if expected_d is None else [a + b for a, b in zip(expected_d, gd)]
        expected_g = gg if expected_g is None else [a + b for a, b in zip(expected_g, gg)]
    expected_d = [t / world for t in expected_d]
    expected_g = [t / world for t in expected_g]

    nets = nets_for(G, D, DDP(G), DDP(D))
    batch = inputs(rank)
    discriminator_step(nets, batch, weights, torch.Generator().manual_seed(7 + rank))
    generator_step(nets, batch, weights)
    for name, got, want in (("D", grads(D), expected_d), ("G", grads(G), expected_g)):
        for i, (a, b) in enumerate(zip(got, want)):
            if not torch.allclose(a, b, rtol=1e-4, atol=1e-6):
                print(f"rank {rank}: {name} parameter {i} gradient is not the average", flush=True)
                sys.exit(1)
    print(f"rank {rank}: gradients are the average", flush=True)
    del nets  # DDP's reducers must go before the process group (else gloo may abort at exit)
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
''')


def test_ddp_gradients_are_the_average_of_the_processes(tmp_path):
    script = tmp_path / "gradient_check.py"
    script.write_text(GRADIENT_CHECK)
    done = _torchrun([str(script)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("gradients are the average") == 2


def test_ctrl_c_stops_every_process_and_rank_0_saves(tmp_path):
    data = make_celeba(tmp_path / "celeba")
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "stargan_cli", "train", "--data", str(data), "--out", str(run), "--iters", "100000",
               "--log-every", "2", "--save-every", "100000", "-q", *TINY]
    proc = subprocess.Popen(command, env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text().count("\n") >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "training did not get going"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    # Both processes stop at the same log step; rank 0 alone saves and reports.
    saved = list((run / "checkpoints").glob("*.pt"))
    assert len(saved) == 1, out
    step = load_checkpoint(saved[0]).step
    assert step % 2 == 0 and out.count("Interrupted at step") == 1
    assert f"Interrupted at step {step} (checkpoint" in out
