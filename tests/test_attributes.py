"""Attribute names, did-you-mean, target labels."""

from __future__ import annotations

import pytest
import torch

from stargan_cli.attributes import (
    CELEBA_ATTRIBUTES, apply_targets, exclusive_hair, parse_attribute_list, parse_targets,
    resolve_attribute, single_domain_targets,
)
from stargan_cli.errors import StarganError

FIVE = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def test_forty_attributes_in_file_order():
    assert len(CELEBA_ATTRIBUTES) == 40 and len(set(CELEBA_ATTRIBUTES)) == 40
    assert CELEBA_ATTRIBUTES[0] == "5_o_Clock_Shadow" and CELEBA_ATTRIBUTES[-1] == "Young"
    assert CELEBA_ATTRIBUTES.index("Male") == 20


def test_names_are_case_insensitive():
    assert resolve_attribute("blond_hair") == "Blond_Hair"
    assert resolve_attribute("BLOND-HAIR") == "Blond_Hair"
    assert resolve_attribute("wearing hat") == "Wearing_Hat"


def test_typo_suggests_the_right_name():
    with pytest.raises(StarganError, match="did you mean Blond_Hair"):
        resolve_attribute("Blonde_Hair")
    with pytest.raises(StarganError, match="choose from"):
        resolve_attribute("zzzz")


def test_lists_are_split_and_checked():
    assert parse_attribute_list(["Black_Hair,blond_hair", "Male"]) == ["Black_Hair", "Blond_Hair", "Male"]
    with pytest.raises(StarganError, match="twice"):
        parse_attribute_list("Male,male")
    with pytest.raises(StarganError, match="no attributes"):
        parse_attribute_list(" , ")


def test_targets_parse_on_and_off():
    assert parse_targets(["Blond_Hair", "male=0"], FIVE) == {"Blond_Hair": 1.0, "Male": 0.0}
    with pytest.raises(StarganError, match="not trained on Smiling"):
        parse_targets("Smiling", FIVE)
    with pytest.raises(StarganError, match="did you mean Blond_Hair"):
        parse_targets("Blonde_Hair", FIVE)
    with pytest.raises(StarganError, match="bad target"):
        parse_targets("Male=yes", FIVE)
    assert parse_targets("Male=0.5", FIVE) == {"Male": 0.5}
    for value in ("2", "-1", "nan", "inf"):
        with pytest.raises(StarganError, match="values go from 0"):
            parse_targets(f"Male={value}", FIVE)


def test_hair_colours_stay_exclusive():
    source = [1.0, 0.0, 0.0, 1.0, 1.0]  # black hair, male, young
    assert apply_targets(source, FIVE, {"Blond_Hair": 1.0}) == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert apply_targets(source, FIVE, {"Male": 0.0}) == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert apply_targets(source, FIVE, {"Black_Hair": 0.0}) == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_single_domain_targets_as_the_original():
    source = torch.tensor([[1.0, 0, 0, 1, 0]])
    targets = [t[0].tolist() for t in single_domain_targets(source, FIVE)]
    assert targets == [
        [1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0],  # hair colours: one on
        [1, 0, 0, 0, 0], [1, 0, 0, 1, 1],  # others flipped
    ]


def test_exclusive_hair_keeps_one_colour():
    labels = torch.tensor([[1.0, 1, 0, 1, 0], [0.0, 0, 0, 0, 1], [0.0, 0, 1, 0, 0]])
    out = exclusive_hair(labels, FIVE)
    assert out.tolist() == [[1, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 1, 0, 0]]
