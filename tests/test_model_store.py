"""`--model NAME|PATH` resolution: installed names, registered names, files, clear errors."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from stargan_cli import model_store, paths, registry
from stargan_cli.errors import StarganError

DEFAULT = "stargan-celeba-128"  # the official model: downloaded on first use
BUNDLED = registry.DEFAULT_MODEL  # the default: ships with the package


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    root = tmp_path / "home"
    monkeypatch.setenv("STARGAN_HOME", str(root))
    monkeypatch.setenv("STARGAN_OFFLINE", "1")
    return root


def _save_tiny(path, tiny_config):
    from stargan_cli.checkpoints import Checkpoint, save_checkpoint
    from stargan_cli.models import build_discriminator, build_generator

    ckpt = Checkpoint(config=tiny_config, G=build_generator(tiny_config).state_dict(),
                      D=build_discriminator(tiny_config).state_dict(), step=7)
    return save_checkpoint(ckpt, path)


def test_default_and_installed_names(tiny_config):
    default = _save_tiny(paths.models_dir() / f"{DEFAULT}.pt", tiny_config)
    mine = _save_tiny(paths.models_dir() / "my-run.pt", tiny_config)
    (paths.models_dir() / ".my-run.pt.abc.tmp").write_bytes(b"half-written")
    (paths.models_dir() / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"weights")

    bundled = registry.ASSETS[BUNDLED].target()
    assert model_store.resolve_model(None) == bundled
    assert model_store.resolve_model(DEFAULT) == default
    assert model_store.resolve_model("my-run") == mine
    assert model_store.resolve_model(" My-Run ") == mine  # names are case-insensitive
    # The bundled model first, then the models folder sorted; a same-named file cannot shadow it.
    _save_tiny(paths.models_dir() / f"{BUNDLED}.pt", tiny_config)
    assert model_store.installed_models() == [(BUNDLED, bundled), ("my-run", mine), (DEFAULT, default)]
    assert model_store.resolve_model(BUNDLED) == bundled


def test_file_paths_are_returned_as_is(tmp_path, tiny_config):
    import torch

    from stargan_cli.loading import load_checkpoint
    from stargan_cli.models import Generator

    ours = _save_tiny(tmp_path / "anything.pt", tiny_config)
    assert model_store.resolve_model(str(ours)) == ours
    official = tmp_path / "200000-G.ckpt"
    torch.save(Generator(5, conv_dim=8, repeat_num=1).state_dict(), official)
    assert model_store.resolve_model(str(official)) == official
    assert load_checkpoint(model_store.resolve_model(str(official))).config.norm == "concat"


def test_offline_registered_model_says_how_to_install(home):
    with pytest.raises(StarganError) as err:
        model_store.resolve_model(DEFAULT)
    message = str(err.value)
    assert "STARGAN_OFFLINE=1" in message
    assert f"stargan download {DEFAULT} --from FILE" in message
    assert not paths.models_dir(create=False).exists()
    assert [name for name, _ in model_store.installed_models()] == [BUNDLED]


def test_no_download_allowed(monkeypatch):
    monkeypatch.delenv("STARGAN_OFFLINE")
    with pytest.raises(StarganError, match=f"run `stargan download {DEFAULT}`"):
        model_store.resolve_model(DEFAULT, download=False)


def test_unreachable_download_gives_one_line_with_manual_route(monkeypatch, capsys):
    from stargan_cli import download, transfer

    monkeypatch.delenv("STARGAN_OFFLINE")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    asset = dataclasses.replace(registry.ASSETS[DEFAULT], urls=(f"http://127.0.0.1:{port}/m.zip",))
    monkeypatch.setitem(registry.ASSETS, DEFAULT, asset)
    monkeypatch.setattr(transfer, "DEFAULT_POLICY",
                        download.RetryPolicy(attempts=2, timeout=2, sleep=lambda s: None))

    with pytest.raises(StarganError) as err:
        model_store.resolve_model(DEFAULT, quiet=True)

    message = str(err.value)
    assert "\n" not in message
    assert f"stargan download {DEFAULT} --from FILE" in message and "--url URL" in message
    assert "Downloading" in capsys.readouterr().err  # the torch.hub-like notice came first


def test_unknown_names_and_paths(tiny_config, tmp_path):
    _save_tiny(paths.models_dir() / "my-run.pt", tiny_config)
    with pytest.raises(StarganError) as err:
        model_store.resolve_model("my-rnu")
    message = str(err.value)
    assert "did you mean my-run?" in message
    assert f"installed: {BUNDLED}, my-run" in message and DEFAULT in message and "stargan-celeba-256" in message

    with pytest.raises(StarganError, match="did you mean stargan-celeba-128"):
        model_store.resolve_model("stargan-celeba-12")
    with pytest.raises(StarganError, match="no such checkpoint file"):
        model_store.resolve_model(str(tmp_path / "missing.pt"))
    with pytest.raises(StarganError, match="is a folder"):
        model_store.resolve_model(str(tmp_path))
    with pytest.raises(StarganError, match="is a dataset, not a model"):
        model_store.resolve_model("celeba")
    with pytest.raises(StarganError, match="empty"):
        model_store.resolve_model("  ")


def test_registry_default_attributes_are_known_without_loading():
    from stargan_cli.model_store import known_attributes, needs_download

    assert known_attributes(None) == registry.ASSETS[registry.DEFAULT_MODEL].attributes
    assert known_attributes("runs/x/final.pt") is None
    assert not needs_download(None)  # the default model ships with the package
    assert needs_download("stargan-celeba-128") and not needs_download("runs/x/final.pt")
