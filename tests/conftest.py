"""Shared fixtures: an isolated STARGAN_HOME and tiny models, and the session's isolation guard
(see isolation.py: no test writes to the user's real folders or reaches the network)."""

from __future__ import annotations

import os

import pytest

import isolation

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
isolation.install()  # before any test module imports stargan_cli, torch or platformdirs


@pytest.fixture(autouse=True)
def stargan_home(tmp_path_factory, monkeypatch):
    """Every test gets its own STARGAN_HOME, so nothing touches the user's real folders."""
    home = tmp_path_factory.mktemp("stargan_home")
    monkeypatch.setenv("STARGAN_HOME", str(home))
    monkeypatch.setenv("STARGAN_OFFLINE", "1")
    return home


@pytest.fixture(autouse=True)
def cpu_without_native_bf16(monkeypatch):
    """Every test sees a CPU without native bf16, so that ``--precision auto`` is fp32 on every
    machine; the tests of the precision choice say otherwise where they need to."""
    monkeypatch.setattr("stargan_cli.devices.cpu_has_native_bf16", lambda: False)


@pytest.fixture(autouse=True)
def isolation_guard():
    """Fails the test that wrote to a real user folder or reached the network, even where the
    code under test caught the IsolationError."""
    before = len(isolation.violations)
    yield
    new = isolation.violations[before:]
    if new:
        pytest.fail("test isolation broken: " + "; ".join(new), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if anything (also outside a test) broke isolation; drop the fake home."""
    if isolation.violations:
        print("\ntest isolation broken:\n  " + "\n  ".join(isolation.violations))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    isolation.remove_fake_home()


@pytest.fixture
def tiny_config():
    """A 32 px model with a few channels: enough for the mechanics."""
    from stargan_cli.models import ModelConfig

    return ModelConfig(
        attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
        image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2,
    )
