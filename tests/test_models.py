"""Generator/discriminator structure, official names, the lookup norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stargan_cli.models import (
    Discriminator, DomainInstanceNorm, Generator, ModelConfig, build_discriminator, build_generator,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_sizes_match_the_official_release():
    assert n_params(Generator(5)) == 8_430_528
    assert n_params(Discriminator(128, 5)) == 44_762_048


def official_generator_keys(repeat: int = 6) -> set[str]:
    keys = set()
    norm = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    convs = [0, 3, 6, 9 + repeat, 12 + repeat, 15 + repeat]
    for i in convs:
        keys.add(f"main.{i}.weight")
    for i in (1, 4, 7, 10 + repeat, 13 + repeat):
        keys.update(f"main.{i}.{n}" for n in norm)
    for b in range(9, 9 + repeat):
        keys.update({f"main.{b}.main.0.weight", f"main.{b}.main.3.weight"})
        for j in (1, 4):
            keys.update(f"main.{b}.main.{j}.{n}" for n in norm)
    return keys


def test_concat_generator_uses_official_names():
    G = Generator(5)
    assert set(G.state_dict()) == official_generator_keys()
    assert G.state_dict()["main.0.weight"].shape == (64, 8, 7, 7)
    assert G.state_dict()["main.21.weight"].shape == (3, 64, 7, 7)


def test_discriminator_uses_official_names():
    D = Discriminator(128, 5)
    expected = {f"main.{i}.{n}" for i in range(0, 12, 2) for n in ("weight", "bias")}
    expected |= {"conv1.weight", "conv2.weight"}
    assert set(D.state_dict()) == expected
    assert D.state_dict()["conv2.weight"].shape == (5, 2048, 2, 2)


def test_lookup_generator_has_tables_and_no_label_channels():
    G = Generator(5, norm="lookup")
    state = G.state_dict()
    assert state["main.0.weight"].shape == (64, 3, 7, 7)
    assert state["main.1.gain"].shape == (5, 64)
    assert state["main.9.main.4.bias"].shape == (5, 256)
    assert not any("running_mean" in k for k in state)
    # 5 x (64+128+256 + 12x256 + 128+64) x 2 table entries instead of the affine parameters and label channels.
    tables = sum(v.numel() for k, v in state.items() if k.endswith((".gain", ".bias")))
    assert tables == 2 * 5 * (64 + 128 + 256 + 256 * 12 + 128 + 64)


def test_shapes_for_both_variants(tiny_config):
    x = torch.randn(2, 3, 32, 32)
    c = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 1]])
    for norm in ("concat", "lookup"):
        cfg = ModelConfig(**{**tiny_config.to_dict(), "norm": norm})
        out = build_generator(cfg)(x, c)
        assert out.shape == x.shape and out.abs().max() <= 1
    src, cls = build_discriminator(tiny_config)(x)
    assert src.shape == (2, 1, 8, 8) and cls.shape == (2, 5)


def test_one_hot_lookup_equals_an_embedding_lookup():
    torch.manual_seed(0)
    norm = DomainInstanceNorm(6, c_dim=4)
    with torch.no_grad():
        norm.gain.normal_()
        norm.bias.normal_()
    gain, bias = nn.Embedding(4, 6), nn.Embedding(4, 6)
    gain.weight.data.copy_(norm.gain.data)
    bias.weight.data.copy_(norm.bias.data)
    x = torch.randn(3, 6, 5, 5)
    idx = torch.tensor([2, 0, 3])
    one_hot = torch.nn.functional.one_hot(idx, 4).float()
    # The normalisation itself is the norms' own (checked against F.instance_norm below): exact
    # equality is about the lookup.
    from stargan_cli.models.norms import instance_norm

    reference = instance_norm(x) * (1 + gain(idx)[:, :, None, None]) + bias(idx)[:, :, None, None]
    assert torch.equal(norm(x, one_hot), reference)


def test_multi_hot_lookup_mixes_the_rows_that_are_on():
    torch.manual_seed(1)
    norm = DomainInstanceNorm(4, c_dim=3)
    with torch.no_grad():
        norm.gain.normal_()
        norm.bias.normal_()
    x = torch.randn(1, 4, 3, 3)
    out = norm(x, torch.tensor([[1.0, 0.0, 1.0]]))
    g = norm.gain[0] + norm.gain[2]
    b = norm.bias[0] + norm.bias[2]
    expected = nn.functional.instance_norm(x) * (1 + g[None, :, None, None]) + b[None, :, None, None]
    assert torch.allclose(out, expected, atol=1e-6)
    # And it differs from either single row: the attributes really combine.
    assert not torch.allclose(out, norm(x, torch.tensor([[1.0, 0.0, 0.0]])))


def test_eval_mode_keeps_per_image_statistics():
    """The released weights need instance statistics at inference: eval() must not change outputs."""
    torch.manual_seed(0)
    G = Generator(5, conv_dim=8, repeat_num=1)
    for m in G.modules():  # poison the running stats: they must be ignored
        if hasattr(m, "running_mean") and m.running_mean is not None:
            m.running_mean.fill_(5.0)
            m.running_var.fill_(0.01)
    x, c = torch.randn(2, 3, 32, 32), torch.rand(2, 5)
    G.train()
    a = G(x, c)
    G.eval()
    with torch.no_grad():
        b = G(x, c)
    assert torch.allclose(a, b, atol=1e-6)


def test_discriminator_rejects_sizes_it_cannot_cover():
    with pytest.raises(ValueError, match="divisible"):
        Discriminator(100, 5, repeat_num=6)


def test_joint_mode_g_takes_the_mask_but_d_does_not_predict_it(tiny_config):
    cfg = ModelConfig(**{**tiny_config.to_dict(), "attributes": ("Blond_Hair", "Male", "happy", "sad"),
                         "label_mode": "joint", "joint_split": 2})
    assert cfg.c_dim == 6 and cfg.d_cls_dim == 4
    assert build_generator(cfg).state_dict()["main.0.weight"].shape[1] == 3 + 6
    assert build_discriminator(cfg)(torch.randn(1, 3, 32, 32))[1].shape == (1, 4)


def test_describe_names_attributes_and_domains(tiny_config):
    assert tiny_config.describe() == "32px concat wgan-gp 5 attrs"
    folder = ModelConfig(**{**tiny_config.to_dict(), "attributes": ("happy", "sad"), "label_mode": "single"})
    assert folder.describe().endswith("2 domains")
    joint = ModelConfig(**{**tiny_config.to_dict(), "attributes": ("Male", "happy", "sad"),
                           "label_mode": "joint", "joint_split": 1})
    assert joint.describe().endswith("1 attrs + 2 domains")


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_cpu_instance_norm_is_pytorchs_instance_norm(affine, channels_last):
    """On the CPU the norms compute instance norm as a one-group-per-channel group norm (faster
    there): the same values and gradients as F.instance_norm, to rounding."""
    import torch.nn.functional as F

    from stargan_cli.models.norms import instance_norm

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(3, 6, 9, 7, generator=g) * 3 + 1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = (1 + torch.randn(6, generator=g)) if affine else None
    b = torch.randn(6, generator=g) if affine else None
    grad = torch.randn(3, 6, 9, 7, generator=g)
    inputs = [t.clone().requires_grad_(True) for t in (x, *(v for v in (w, b) if v is not None))]
    ref_inputs = [t.clone().requires_grad_(True) for t in inputs]
    ours = instance_norm(inputs[0], *(inputs[1:] or (None, None)), eps=1e-5)
    ref = F.instance_norm(ref_inputs[0], None, None, *(ref_inputs[1:] or (None, None)), True, 0.0, 1e-5)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    for a, r in zip(torch.autograd.grad(ours, inputs, grad), torch.autograd.grad(ref, ref_inputs, grad)):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5)
    # Differs from a batch norm over the whole batch: really per image.
    assert not torch.allclose(ours, F.batch_norm(x, None, None, w, b, True, 0.0, 1e-5), atol=1e-3)
