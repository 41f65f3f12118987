"""Shared fixtures: an isolated STARGAN_HOME and tiny models."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def stargan_home(tmp_path_factory, monkeypatch):
    """Every test gets its own STARGAN_HOME, so nothing touches the user's real folders."""
    home = tmp_path_factory.mktemp("stargan_home")
    monkeypatch.setenv("STARGAN_HOME", str(home))
    monkeypatch.setenv("STARGAN_OFFLINE", "1")
    return home


@pytest.fixture
def tiny_config():
    """A 32 px model with a few channels: enough for the mechanics."""
    from stargan_cli.models import ModelConfig

    return ModelConfig(
        attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
        image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2,
    )
