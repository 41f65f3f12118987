"""`stargan download` at the terminal: progress lines in a log, --from a folder, --list sizes."""

from __future__ import annotations

import hashlib
import re

from stargan_cli import paths, progress, registry
from test_download import (  # noqa: F401  (fixtures: home is autouse here too)
    OFFICIAL, _cli, _dead_url, _error_line, _patch_asset, _torch_bytes, home, official_pair, server,
)


def test_download_into_a_log_file_prints_progress_lines(server, monkeypatch):
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    data = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256(data).hexdigest()
    url = server.serve("/inception.pth", data)
    _patch_asset(monkeypatch, "inception", urls=(url,), sha256=digest[:8], filename=f"inception-{digest[:8]}.pth")
    result = _cli(["download", "inception"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if re.match(r"inception: \d", line)]
    assert lines[0].startswith("inception: 0 B"), result.stderr
    assert lines[-1].startswith("inception: 1.0 MiB of 1.0 MiB (100%), "), lines
    assert "\x1b" not in result.stderr and "━" not in result.stderr  # no bar drawn into a file


def test_from_an_unpacked_official_folder(tmp_path, monkeypatch, official_pair):
    g, d = official_pair
    folder = tmp_path / "celeba_128" / "models"
    folder.mkdir(parents=True)
    (folder / "200000-G.ckpt").write_bytes(_torch_bytes(g))
    (folder / "200000-D.ckpt").write_bytes(_torch_bytes(d))
    _patch_asset(monkeypatch, OFFICIAL, urls=(_dead_url(),), image_size=32)
    result = _cli(["download", OFFICIAL, "--from", str(tmp_path / "celeba_128")], STARGAN_OFFLINE="1")
    assert result.exit_code == 0, result.output
    assert (paths.models_dir() / f"{OFFICIAL}.pt").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli(["download", OFFICIAL, "--from", str(empty), "--force"], STARGAN_OFFLINE="1")
    assert result.exit_code == 1 and "without an official NNNNNN-G.ckpt" in _error_line(result)


def test_celeba_from_a_folder_points_to_data(tmp_path):
    from train_helpers import make_celeba

    unpacked = make_celeba(tmp_path / "celeba", n=3)
    result = _cli(["download", "celeba", "--from", str(unpacked)])
    line = _error_line(result)
    assert result.exit_code == 1 and "holds an unpacked CelebA" in line
    assert f"stargan train --data {unpacked}" in line and "no such file" not in line
    (tmp_path / "other").mkdir()
    result = _cli(["download", "celeba", "--from", str(tmp_path / "other")])
    assert "other is a folder: an unpacked CelebA" in _error_line(result)


def test_list_shows_known_and_installed_sizes(monkeypatch):
    target = registry.ASSETS[OFFICIAL].target(create=True)
    target.write_bytes(b"x" * 3000)
    result = _cli(["download", "--list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.split() and line.split()[0] in registry.ASSETS}
    assert "2.9 KiB" in rows[OFFICIAL]  # installed: its size on disk
    assert "not published" in rows["inception"]  # not installed, no published size
    assert "(bundled)" in rows["stargan-celeba-mini"] and "MiB" in rows["stargan-celeba-mini"]
    assert "not published" in rows["celeba"] and "unknown" not in result.output


def test_list_reads_at_80_columns():
    """No line is wider than the terminal, and each path is whole on its own line."""
    from stargan_cli.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["download", "--list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, asset in registry.ASSETS.items():
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{name} "))
        assert lines[at + 1].strip() == str(asset.installed_paths()[0] if asset.is_bundled else asset.target())
    short = [line for line in lines if not line.startswith("  /")]  # the paths are as long as they are
    assert max(len(line) for line in short) <= 80, result.output
