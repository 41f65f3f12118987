"""The model's label layout (blocks, joint mask) and the label algebra on it; training's labels."""

from __future__ import annotations

import pytest
import torch

from stargan_cli.attributes import exclusive_hair, keep_first_hair_colour
from stargan_cli.errors import StarganError, UsageError
from stargan_cli.label_layout import LabelLayout, label_parts, model_label
from stargan_cli.models import ModelConfig
from stargan_cli.training.labels import grid_targets, hair_mask, random_targets

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
JOINT = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Male", "angry", "happy"), label_mode="joint", joint_split=3)
SINGLE = ModelConfig(attributes=("happy", "sad", "angry"), label_mode="single")


# ------------------------------------------------------------------------------- the layout, once
@pytest.mark.parametrize("config", [ModelConfig(attributes=ATTRS), SINGLE, JOINT], ids=["multi", "single", "joint"])
def test_layout_of_a_model_is_the_layout_it_was_trained_with(config):
    layout = LabelLayout.of(config)
    assert layout.c_dim == config.c_dim
    split = layout.exclusive_start
    blocks = [(config.attributes[:split], "multi"), (config.attributes[split:], "single")]
    assert list(layout.parts) == label_parts([b for b in blocks if b[0]])


def test_joint_layout_is_attributes_then_domains_then_the_mask():
    layout = LabelLayout.of(JOINT)
    multi, domains = layout.multi, layout.domains
    assert (multi.start, multi.stop, multi.mask_index, multi.names) == (0, 3, 5, ("Black_Hair", "Blond_Hair", "Male"))
    assert (domains.start, domains.stop, domains.mask_index, domains.names) == (3, 5, 6, ("angry", "happy"))
    assert layout.joint and layout.exclusive_start == 3 and layout.c_dim == 7
    assert layout.place([1, 0, 1], multi) == [1, 0, 1, 0, 0, 1, 0]
    assert layout.place([0, 1], domains) == [0, 0, 0, 0, 1, 0, 1]
    # The list form and the tensor form put values in the same places.
    assert model_label(torch.tensor([[1.0, 0.0, 1.0]]), multi, 7).tolist()[0] == layout.place([1, 0, 1], multi)
    with pytest.raises(ValueError):
        layout.place([1, 0], multi)


def test_multi_and_single_layouts_have_one_block_and_no_mask():
    multi = LabelLayout.of(ModelConfig(attributes=ATTRS))
    assert (multi.multi.names, multi.domains, multi.joint, multi.exclusive_start) == (ATTRS, None, False, 5)
    assert multi.place([1, 0, 0, 1, 0], multi.multi) == [1, 0, 0, 1, 0]
    single = LabelLayout.of(SINGLE)
    assert (single.multi, single.domains.names, single.exclusive_start, single.c_dim) == (None, SINGLE.attributes, 0, 3)


# ------------------------------------------------------------------------------- the algebra
def test_targets_apply_on_the_face_own_label_with_exclusive_hair():
    layout = LabelLayout.of(ModelConfig(attributes=ATTRS))
    source = [1.0, 0.0, 0.0, 1.0, 1.0]
    assert layout.target_label(source, layout.parse_targets("Blond_Hair")) == [0, 1, 0, 1, 1]
    assert layout.target_label(source, layout.parse_targets({"Male": 0})) == [1, 0, 0, 0, 1]
    assert layout.start_label(source) == source
    assert layout.label_from_scores([0.7, 0.9, 0.2, 0.6, 0.4]) == [0, 1, 0, 1, 0]
    assert layout.parse_source("Black_Hair,Male") == [1, 0, 0, 1, 0]
    assert layout.parse_source({"Young": 0.8}) == [0, 0, 0, 0, 1]
    labels = dict(layout.domain_targets(source))
    assert list(labels) == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip"]
    assert labels["Brown_Hair"] == [0, 0, 1, 1, 1] and labels["Young=flip"] == [1, 0, 0, 1, 0]
    assert layout.domain_attributes == ATTRS


def test_joint_targets_carry_the_mask_of_their_block():
    layout = LabelLayout.of(JOINT)
    source = [1.0, 0.0, 1.0, 0.0, 1.0]
    assert layout.target_label(source, {"Blond_Hair": 1.0}) == [0, 1, 1, 0, 0, 1, 0]
    assert layout.target_label(source, {"angry": 1.0}) == [0, 0, 0, 1, 0, 0, 1]
    assert layout.start_label(source) == [1, 0, 1, 0, 0, 1, 0]
    assert layout.label_from_scores([0.9, 0.8, 0.2, 0.3, 0.7]) == [1, 0, 0, 0, 1]
    assert [label for _, label in layout.domain_targets(source)] == [
        [1, 0, 1, 0, 0, 1, 0], [0, 1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 1, 0],  # hair set, Male flipped
        [0, 0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 1, 0, 1],
    ]


def test_single_domain_model_starts_from_its_own_domain():
    layout = LabelLayout.of(SINGLE)
    assert layout.start_label([0.0, 1.0, 0.0]) == [0, 1, 0]
    assert layout.target_label([0.0, 1.0, 0.0], {}) == [0, 1, 0]  # no change asked: the face as it is
    assert layout.target_label([0.0, 1.0, 0.0], {"angry": 1.0}) == [0, 0, 1]
    assert layout.label_from_scores([0.2, 0.45, 0.35]) == [0, 1, 0]


def test_contradictory_targets_are_refused():
    layout = LabelLayout.of(JOINT)
    with pytest.raises(UsageError, match="angry, happy are exclusive domains of this model: name exactly one"):
        layout.parse_targets("angry,Male")
    with pytest.raises(UsageError, match="exactly one"):
        layout.parse_targets("happy=0")
    with pytest.raises(StarganError, match="hair colours are exclusive"):
        layout.parse_targets("Black_Hair,Blond_Hair")


# ------------------------------------------------------------------------------- labels
def test_random_targets_are_a_permutation_of_the_batch():
    part = label_parts([(("Male", "Young"), "multi")])[0]
    labels = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    gen = torch.Generator().manual_seed(3)
    targets = random_targets(labels, part, gen)
    assert sorted(map(tuple, targets.tolist())) == sorted(map(tuple, labels.tolist()))
    # Seeded: the same generator state gives the same targets, another seed another order.
    assert torch.equal(targets, random_targets(labels, part, torch.Generator().manual_seed(3)))
    orders = {tuple(map(tuple, random_targets(labels, part, torch.Generator().manual_seed(s)).tolist())) for s in range(10)}
    assert len(orders) > 1


def test_random_targets_make_hair_colours_exclusive():
    part = label_parts([(ATTRS, "multi")])[0]
    labels = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0, 1.0]])
    targets = random_targets(labels, part, torch.Generator().manual_seed(0))
    assert (targets[:, :3].sum(1) <= 1).all()
    assert targets[:, 3:].sum() == labels[:, 3:].sum()  # other attributes untouched
    # Single-domain (one-hot) labels stay as they are.
    domains = label_parts([(("happy", "sad", "angry"), "single")])[0]
    one_hot = torch.eye(3)
    assert (random_targets(one_hot, domains, torch.Generator().manual_seed(0)).sum(1) == 1).all()


def test_hair_exclusivity_matches_the_attributes_module():
    names = ("Male", "Black_Hair", "Young", "Gray_Hair", "Blond_Hair")  # hair columns not adjacent
    labels = (torch.rand(200, 5, generator=torch.Generator().manual_seed(1)) > 0.4).float()
    mine = keep_first_hair_colour(labels, hair_mask(names))
    assert torch.equal(mine, exclusive_hair(labels, names))
    assert (mine[:, [1, 3, 4]].sum(1) <= 1).all() and ((labels[:, [1, 3, 4]].sum(1) > 1)).any()


def test_joint_labels_carry_the_mask_vector():
    celeba, folder = label_parts([(("Blond_Hair", "Male"), "multi"), (("happy", "sad", "angry"), "single")])
    assert (celeba.start, celeba.stop, celeba.mask_index) == (0, 2, 5)
    assert (folder.start, folder.stop, folder.mask_index) == (2, 5, 6)
    c = model_label(torch.tensor([[1.0, 0.0]]), celeba, 7)
    assert c.tolist() == [[1, 0, 0, 0, 0, 1, 0]]
    f = model_label(torch.tensor([[0.0, 0.0, 1.0]]), folder, 7)
    assert f.tolist() == [[0, 0, 0, 0, 1, 0, 1]]
    single = label_parts([(ATTRS, "multi")])[0]
    assert single.mask_index is None
    labels = torch.ones(2, 5)
    assert model_label(labels, single, 5) is labels
    with pytest.raises(ValueError):
        model_label(torch.ones(1, 3), celeba, 7)


def test_grid_targets_follow_the_original_test_images():
    part = label_parts([(ATTRS, "multi")])[0]
    source = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0]])
    cols = grid_targets(source, [part], part, 5)
    assert [c.tolist()[0] for c in cols] == [
        [1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0],  # hair colours, exclusive
        [1, 0, 0, 0, 0], [1, 0, 0, 1, 1],  # Male, Young flipped
    ]
    celeba, folder = label_parts([(("Blond_Hair", "Male"), "multi"), (("happy", "sad"), "single")])
    cols = grid_targets(torch.tensor([[0.0, 1.0]]), [celeba, folder], celeba, 6)
    assert [c.tolist()[0] for c in cols] == [
        [1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0],  # CelebA targets with the CelebA mask
        [0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 0, 1],  # each folder domain with the folder mask
    ]
