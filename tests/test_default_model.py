"""The default model ships inside the package: it loads strictly, is found with no network and
no cache, translates the bundled example offline, and is in the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from stargan_cli import registry
from stargan_cli.attributes import DEFAULT_ATTRIBUTES
from stargan_cli.checkpoints import build_models
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.loading import load_checkpoint
from stargan_cli.model_store import installed_models, resolve_model

REPO = Path(__file__).resolve().parents[1]
ASSET = registry.ASSETS[registry.DEFAULT_MODEL]


def test_the_default_is_the_bundled_model_and_its_file_is_in_the_package():
    assert registry.DEFAULT_MODEL == "stargan-celeba-mini"
    assert ASSET.is_bundled and ASSET.is_model
    path = ASSET.target()
    assert path.is_file() and path.parent == REPO / "stargan_cli" / "assets" / "models"
    assert path.stat().st_size < 25 * 2**20  # the whole of the package data stays small
    assert (path.parent / "MODEL_CARD.md").is_file()


def test_the_shipped_file_loads_strictly_with_g_and_d():
    checkpoint = load_checkpoint(ASSET.target())
    assert checkpoint.config.attributes == DEFAULT_ATTRIBUTES
    assert checkpoint.config.image_size == ASSET.image_size == 64
    assert checkpoint.config.norm == "concat"
    assert checkpoint.training is None  # weights only
    G, D = build_models(checkpoint)  # strict key and shape checks
    assert D is not None


def test_default_resolution_needs_no_network_and_no_cache(stargan_home):
    assert os.environ["STARGAN_OFFLINE"] == "1"
    assert not any(stargan_home.iterdir())
    assert resolve_model(None) == ASSET.target()
    assert resolve_model("stargan-celeba-mini") == ASSET.target()
    assert ("stargan-celeba-mini", ASSET.target()) in installed_models()
    assert not any(stargan_home.iterdir())  # nothing was written or downloaded


def test_download_list_shows_it_installed_and_remove_refuses():
    result = CliRunner().invoke(app, ["download", "--list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "stargan-celeba-mini" in line)
    assert "yes" in row.lower() or str(ASSET.target().name) in row or "installed" in row.lower()
    result = CliRunner().invoke(app, ["download", "--remove", "stargan-celeba-mini"])
    assert result.exit_code == 1 and "ships with the package" in result.output
    assert ASSET.target().is_file()
    result = CliRunner().invoke(app, ["download", "stargan-celeba-mini"])
    assert result.exit_code == 0 and "already installed" in result.output


def test_official_models_stay_one_flag_away(monkeypatch):
    with pytest.raises(StarganError, match="stargan-celeba-128 is not installed and STARGAN_OFFLINE=1"):
        resolve_model("stargan-celeba-128")


def test_translate_example_offline_in_a_fresh_environment_changes_the_face(tmp_path, stargan_home):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARGAN_", "XDG_"))}
    env.update(STARGAN_HOME=str(stargan_home), STARGAN_OFFLINE="1", HOME=str(tmp_path / "home"),
               OMP_NUM_THREADS="2")
    result = subprocess.run(
        [sys.executable, "-m", "stargan_cli", "translate", "--example", "--to", "Blond_Hair"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "astronaut.Blond_Hair.png"
    source = Image.open(REPO / "stargan_cli" / "assets" / "astronaut.jpg").convert("RGB")
    made = Image.open(out).convert("RGB")
    assert made.size == source.size
    diff = np.abs(np.asarray(made, dtype=np.int16) - np.asarray(source, dtype=np.int16)).max(axis=2)
    changed = diff > 24
    assert 0.02 < changed.mean() < 0.6, changed.mean()  # the face region changed, not the whole photo
    ys, xs = np.nonzero(changed)
    h, w = changed.shape
    assert h * 0.1 < ys.mean() < h * 0.8 and w * 0.2 < xs.mean() < w * 0.8  # around the face


def test_the_wheel_contains_the_weights_and_the_model_card(tmp_path):
    setuptools = pytest.importorskip("setuptools", reason="building the wheel needs setuptools (the test extra installs it)")
    assert setuptools
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "dist").mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "stargan_cli", src / "stargan_cli", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))",
         str(tmp_path / "dist")],
        cwd=src, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = tmp_path / "dist" / result.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = zf.getinfo("stargan_cli/assets/models/stargan-celeba-mini.pt")
    assert "stargan_cli/assets/models/MODEL_CARD.md" in names
    assert info.file_size == ASSET.target().stat().st_size


def test_the_readme_quick_start_says_where_its_output_goes():
    """The file the quick start writes (checked by the test above) is named in the README."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "stargan translate --example --to Blond_Hair" in quick_start
    said = " ".join(quick_start.split())
    assert "`astronaut.Blond_Hair.png`, written in the folder you ran the command from" in said
