"""Checkpoint format, loading and their errors."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from stargan_cli.checkpoints import Checkpoint, build_models, save_checkpoint
from stargan_cli.errors import StarganError
from stargan_cli.loading import load_checkpoint
from stargan_cli.models import ModelConfig, build_discriminator, build_generator


def make_checkpoint(config: ModelConfig, seed: int = 0) -> Checkpoint:
    torch.manual_seed(seed)
    G, D = build_generator(config), build_discriminator(config)
    return Checkpoint(config=config, G=G.state_dict(), D=D.state_dict(), step=7, meta={"note": "x"})


def outputs(ckpt: Checkpoint, x, c):
    G, D = build_models(ckpt)
    with torch.no_grad():
        return G(x, c), D(x)[1]


@pytest.mark.parametrize("norm", ["concat", "lookup"])
def test_round_trip_gives_identical_outputs(tmp_path, tiny_config, norm):
    cfg = ModelConfig(**{**tiny_config.to_dict(), "norm": norm})
    ckpt = make_checkpoint(cfg)
    if norm == "lookup":  # tables start at zero; give them values so the test means something
        ckpt.G = {k: (torch.randn_like(v) if k.endswith((".gain", ".bias")) else v) for k, v in ckpt.G.items()}
    path = save_checkpoint(ckpt, tmp_path / "m.pt")
    loaded = load_checkpoint(path)
    assert loaded.config == cfg and loaded.step == 7 and loaded.meta["note"] == "x"
    x, c = torch.randn(2, 3, 32, 32), torch.tensor([[1.0, 0, 0, 1, 1], [0, 0, 1, 0, 0]])
    for a, b in zip(outputs(ckpt, x, c), outputs(loaded, x, c)):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left


def test_save_is_atomic_when_writing_fails(tmp_path, tiny_config, monkeypatch):
    target = tmp_path / "m.pt"
    save_checkpoint(make_checkpoint(tiny_config, seed=1), target)
    before = target.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"half")  # save_checkpoint hands torch its open temporary file
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(make_checkpoint(tiny_config, seed=2), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path, tiny_config):
    path = save_checkpoint(make_checkpoint(tiny_config), tmp_path / "m.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StarganError, match=r"m\.pt.*(truncated|corrupt)"):
        load_checkpoint(path)


def test_foreign_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("hello")
    with pytest.raises(StarganError, match="notes.ckpt"):
        load_checkpoint(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(StarganError, match="not a StarGAN checkpoint"):
        load_checkpoint(other)
    with pytest.raises(StarganError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_never_executed(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"G": Boom()}, path)
    with pytest.raises(StarganError, match="refusing to load"):
        load_checkpoint(path)
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(StarganError):
        load_checkpoint(raw)


def test_mismatched_weights_are_a_clear_error(tmp_path, tiny_config):
    ckpt = make_checkpoint(tiny_config)
    ckpt.config = ModelConfig(**{**tiny_config.to_dict(), "g_conv_dim": 16})
    path = save_checkpoint(ckpt, tmp_path / "m.pt")
    with pytest.raises(StarganError, match="do not match"):
        build_models(load_checkpoint(path))


def test_garbage_bytes_are_called_damaged_not_code(tmp_path):
    # torch words this "Weights only load failed" too; it is damage, not pickled code.
    path = tmp_path / "broken.pt"
    path.write_bytes(b"garbage")
    with pytest.raises(StarganError, match="not a valid checkpoint") as info:
        load_checkpoint(path)
    assert "refusing" not in str(info.value)
