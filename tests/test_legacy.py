"""Import of other code's checkpoints (stargan_cli.legacy): the official release and DLIM2020."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from stargan_cli import legacy
from stargan_cli.checkpoints import build_models
from stargan_cli.errors import StarganError
from stargan_cli.legacy import convert_dlim2020, convert_official
from stargan_cli.loading import load_checkpoint
from stargan_cli.models import Discriminator, Generator


def official_pair(tmp_path, conv=8, repeat=2, size=32, d_repeat=3):
    """State dicts laid out as the official release (its own module definitions)."""
    torch.manual_seed(3)

    def IN(n):
        return nn.InstanceNorm2d(n, affine=True, track_running_stats=True)

    class Res(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.main = nn.Sequential(nn.Conv2d(d, d, 3, 1, 1, bias=False), IN(d), nn.ReLU(True),
                                      nn.Conv2d(d, d, 3, 1, 1, bias=False), IN(d))

    layers = [nn.Conv2d(3 + 5, conv, 7, 1, 3, bias=False), IN(conv), nn.ReLU(True)]
    d = conv
    for _ in range(2):
        layers += [nn.Conv2d(d, d * 2, 4, 2, 1, bias=False), IN(d * 2), nn.ReLU(True)]
        d *= 2
    layers += [Res(d) for _ in range(repeat)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(d, d // 2, 4, 2, 1, bias=False), IN(d // 2), nn.ReLU(True)]
        d //= 2
    layers += [nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
    g = nn.Sequential(*layers)
    g_state = {f"main.{k}": v for k, v in g.state_dict().items()}
    for k, v in g_state.items():  # non-trivial affine parameters
        if k.endswith(("weight", "bias")) and v.dim() == 1:
            v.normal_()
    dl = [nn.Conv2d(3, conv, 4, 2, 1), nn.LeakyReLU(0.01)]
    d = conv
    for _ in range(1, d_repeat):
        dl += [nn.Conv2d(d, d * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
        d *= 2
    d_state = {f"main.{k}": v for k, v in nn.Sequential(*dl).state_dict().items()}
    d_state["conv1.weight"] = torch.randn(1, d, 3, 3)
    d_state["conv2.weight"] = torch.randn(5, d, size // 2**d_repeat, size // 2**d_repeat)
    torch.save(g_state, tmp_path / "200000-G.ckpt")
    torch.save(d_state, tmp_path / "200000-D.ckpt")
    return g_state, d_state


def test_official_layout_loads_strictly_and_infers_the_config(tmp_path):
    g_state, d_state = official_pair(tmp_path)
    ckpt = convert_official(tmp_path / "200000-G.ckpt")
    cfg = ckpt.config
    assert cfg.attributes == ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    assert (cfg.image_size, cfg.g_conv_dim, cfg.g_repeat, cfg.d_conv_dim, cfg.d_repeat) == (32, 8, 2, 8, 3)
    assert ckpt.step == 200000 and ckpt.D is not None
    G, D = Generator(5, 8, 2), Discriminator(32, 5, 8, 3)
    G.load_state_dict(g_state, strict=True)
    D.load_state_dict(d_state, strict=True)
    # Loading the G file directly gives the same model (its D picked up beside it).
    direct = load_checkpoint(tmp_path / "200000-G.ckpt")
    assert direct.config == cfg and direct.D is not None


def test_official_inference_matches_the_original_module(tmp_path):
    """Original code runs G in train mode: per-image IN statistics. Ours must match in eval mode."""
    g_state, _ = official_pair(tmp_path)
    ckpt = convert_official(tmp_path / "200000-G.ckpt")
    ours, _ = build_models(ckpt)
    x = torch.randn(2, 3, 32, 32)
    c = torch.tensor([[0.0, 1, 0, 1, 0], [1.0, 0, 0, 0, 1]])
    # Reference: plain torch InstanceNorm2d in training mode, exactly as the original code runs.
    from stargan_cli.models.norms import InstanceNorm

    plain = Generator(5, 8, 2)
    for name, module in list(plain.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, InstanceNorm):
                setattr(module, child_name, nn.InstanceNorm2d(child.num_features, affine=True, track_running_stats=True))
    plain.load_state_dict(g_state, strict=True)
    plain.train()
    with torch.no_grad():
        expected = plain(x, c)
        got = ours(x, c)
    assert torch.allclose(got, expected, atol=1e-6)
    plain.eval()  # and running statistics would have given something else
    with torch.no_grad():
        assert not torch.allclose(plain(x, c), expected, atol=1e-3)


def test_official_with_wrong_attribute_count_is_rejected(tmp_path):
    official_pair(tmp_path)
    with pytest.raises(StarganError, match="5 labels"):
        convert_official(tmp_path / "200000-G.ckpt", attributes=["Male", "Young"])


def test_dlim2020_layout_is_imported_by_shape():
    """A generator laid out as DLIM2020's: L1..L23, Embedding tables gain/bias (one-hot index)."""
    torch.manual_seed(5)
    ours = Generator(4, conv_dim=8, repeat_num=2, norm="lookup")
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.2)
    # Rename ours into github.com/nigalsan1/DLIM2020's StarGAN_new_IN/model.py names: the
    # generator's modules are L1..L23 (residual blocks' own modules L1..L5), each conditional
    # norm ("ccbn") has Embedding tables gain.weight/bias.weight and unused stored_mean/var.
    state = {}
    for key, value in ours.state_dict().items():
        name = re.sub(r"main\.(\d+)", lambda m: f"L{int(m.group(1)) + 1}", key)
        if name.endswith((".gain", ".bias")) and value.dim() == 2:
            state[name + ".weight"] = value.clone()
            norm = name.rsplit(".", 1)[0]
            state[f"{norm}.stored_mean"] = torch.zeros(value.shape[1])
            state[f"{norm}.stored_var"] = torch.ones(value.shape[1])
        else:
            state[name] = value.clone()
    assert {"L1.weight", "L2.gain.weight", "L2.stored_var", "L10.L1.weight", "L10.L5.bias.weight",
            "L12.weight", "L18.weight"} <= set(state)  # repeat_num 2: blocks L10, L11; up L12, L15; out L18
    ckpt = convert_dlim2020(state, attributes=["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"], image_size=32)
    assert ckpt.config.norm == "lookup" and ckpt.config.g_repeat == 2 and ckpt.config.c_dim == 4
    G, _ = build_models(ckpt)
    x = torch.randn(2, 3, 32, 32)
    idx = torch.tensor([1, 3])
    c = torch.nn.functional.one_hot(idx, 4).float()
    with torch.no_grad():
        assert torch.equal(G(x, c), ours.eval()(x, c))


def test_official_file_names(tmp_path):
    g, d = tmp_path / "200000-G.ckpt", tmp_path / "200000-D.ckpt"
    assert legacy.is_official_generator_name(g) and not legacy.is_official_generator_name(d)
    assert legacy.is_official_discriminator_name(d) and not legacy.is_official_discriminator_name(g)
    assert legacy.official_step(g) == 200000 and legacy.official_step(Path("final.pt")) == 0
    assert legacy.official_discriminator_path(g) is None  # not there yet
    d.write_bytes(b"")
    assert legacy.official_discriminator_path(g) == d
    assert legacy.official_discriminator_path(d) is None
    assert legacy.official_discriminator_path(tmp_path / "model-G.ckpt") is None


# --- every layout the official generator was saved in ---------------------------------------------
# The official release was saved by PyTorch 0.4.0: no num_batches_tracked counters. The fixture
# above builds its files from a current torch's state_dict(), which always has them, and its
# inference test goes through convert_official (torch's load_state_dict, which fills missing
# counters in) rather than load_checkpoint (whose config check refused them): so it passed while
# the published files failed.

from official_layouts import (  # noqa: E402
    LAYOUTS, DlimGenerator, save_state, storages_tagged_cuda, write_official_pair,
)

from stargan_cli.checkpoints import save_checkpoint  # noqa: E402


def _original_test_mode(G: nn.Module, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    G.train()  # the original solver's test() never calls eval(): per-image statistics
    with torch.no_grad():
        return G(x, c)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_official_layout_loads_and_translates_as_the_original(tmp_path, layout):
    original, g_path = write_official_pair(tmp_path, layout)
    ckpt = load_checkpoint(g_path)
    assert ckpt.D is not None and ckpt.step == 200000
    assert (ckpt.config.g_conv_dim, ckpt.config.g_repeat, ckpt.config.image_size) == (8, 2, 32)
    ours, D = build_models(ckpt)
    assert D is not None
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    c = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1]])
    with torch.no_grad():
        got = ours(x, c)
    assert torch.allclose(got, _original_test_mode(original, x, c), atol=1e-5)
    # Identical outputs whether or not the file had the counters, the prefix or the CUDA tags.
    _, reference = write_official_pair(tmp_path / "reference", "torch-1.x")
    with torch.no_grad():
        assert torch.equal(got, build_models(load_checkpoint(reference))[0](x, c))


def test_the_torch_040_file_is_what_the_release_holds(tmp_path):
    """The fixture is faithful: no counters, the pre-zip format, storages on CUDA."""
    _, g_path = write_official_pair(tmp_path, "torch-0.4.0")
    assert not g_path.read_bytes().startswith(b"PK")  # not the zip format of torch >= 1.6
    state = torch.load(g_path, map_location="cpu", weights_only=True)
    assert "main.1.running_mean" in state and not any("num_batches_tracked" in k for k in state)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(g_path, weights_only=True)


def test_a_converted_torch_040_checkpoint_saved_in_our_format_loads(tmp_path):
    """An installed official model (`-m stargan-celeba-128`) is the converted file re-saved."""
    original, g_path = write_official_pair(tmp_path, "torch-0.4.0")
    installed = save_checkpoint(convert_official(g_path), tmp_path / "stargan-celeba-128.pt")
    ours, _ = build_models(load_checkpoint(installed))
    x, c = torch.rand(1, 3, 32, 32), torch.tensor([[0.0, 1, 0, 1, 1]])
    with torch.no_grad():
        assert torch.allclose(ours(x, c), _original_test_mode(original, x, c), atol=1e-5)


def test_a_missing_counter_is_the_only_key_that_may_be_missing(tmp_path):
    _, g_path = write_official_pair(tmp_path, "torch-1.x")
    state = torch.load(g_path, weights_only=True)
    del state["main.4.running_var"]
    torch.save(state, g_path)
    with pytest.raises(StarganError, match="missing main.4.running_var"):
        load_checkpoint(g_path)


@pytest.mark.parametrize("layout", ["torch-1.x", "data-parallel", "cuda"])
def test_dlim2020_files_load_and_translate_as_their_network(tmp_path, layout):
    torch.manual_seed(7)
    dlim = DlimGenerator()
    with torch.no_grad():
        for p in dlim.parameters():
            p.normal_(0, 0.2)
    path = save_state(dlim.state_dict(), tmp_path / "200000-G.ckpt", layout)
    ckpt = load_checkpoint(path)
    assert ckpt.config.norm == "lookup" and ckpt.config.c_dim == 4 and ckpt.config.g_repeat == 2
    ours, _ = build_models(ckpt)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    c = torch.eye(4)
    with torch.no_grad():
        assert torch.allclose(ours(x, c), _original_test_mode(dlim, x, c), atol=1e-5)


def test_cuda_tagged_files_need_the_cpu_map_location(tmp_path):
    """The loader reads every file with map_location="cpu": a GPU-saved file loads anywhere."""
    with storages_tagged_cuda():
        torch.save({"w": torch.ones(2)}, tmp_path / "x.pt")
    from stargan_cli.checkpoints import read_state_file

    assert torch.equal(read_state_file(tmp_path / "x.pt")["w"], torch.ones(2))
