"""The incident taxonomy: the default's shape, inheritance, and the errors of custom ones."""

from __future__ import annotations

import json

import pytest

from gis.errors import FormatError, InputError
from gis.incidents import DEFAULT, HANDLING_CLASSES, read_taxonomy, taxonomy_from_dict


def test_the_default_has_two_or_three_levels_labelled_in_chinese_and_english():
    assert {c.level for c in DEFAULT} == {1, 2, 3}
    assert all(c.zh and c.en for c in DEFAULT)
    assert {c.handling_class for c in DEFAULT} == set(HANDLING_CLASSES)
    # the sample generator's categories are top-level codes
    assert {"dispute", "safety_hazard", "fire_hazard", "sanitation", "street_order", "emergency", "request"} <= set(
        DEFAULT.codes
    )


def test_children_inherit_the_class_and_public_flag_unless_they_say_otherwise():
    garbage = DEFAULT.find("sanitation.garbage.household")
    assert (garbage.zh, garbage.handling_class, garbage.public, garbage.parent) == (
        "生活垃圾",
        "on_site",
        True,
        "sanitation.garbage",
    )
    assert DEFAULT.find("sanitation.garbage.construction").handling_class == "coordinated"
    assert DEFAULT.find("public_security.assault").public is False


def test_an_unknown_code_names_the_top_level_codes():
    with pytest.raises(InputError, match=r"unknown category 'rubbish'.*'sanitation'.*'sanitation.garbage'"):
        DEFAULT.find("rubbish")


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"a": {"zh": "甲", "en": "A", "handling_class": "on_site"}}, "1 level"),
        (
            {"a": {"zh": "甲", "en": "A", "handling_class": "on_site", "children": {"b": {"en": "B"}}}},
            r"'a.b' lacks the label\(s\) \['zh'\]",
        ),
        ({"a": {"zh": "甲", "en": "A", "handling_class": "later", "children": {}}}, "handling class 'later'"),
        ({"a.b": {"zh": "甲", "en": "A"}}, "without dots"),
    ],
)
def test_custom_taxonomies_are_checked(tree, message):
    with pytest.raises(InputError, match=message):
        taxonomy_from_dict(tree)


def test_four_levels_are_too_many():
    deep = {"zh": "丁", "en": "D"}
    for key in "cba":
        deep = {"zh": key, "en": key, "handling_class": "on_site", "children": {key * 2: deep}}
    with pytest.raises(InputError, match="level 4; the taxonomy allows at most three"):
        taxonomy_from_dict({"top": deep})


def test_a_taxonomy_file_is_read(tmp_path):
    path = tmp_path / "tax.json"
    tree = {"x": {"zh": "甲", "en": "X", "handling_class": "on_site", "children": {"y": {"zh": "乙", "en": "Y"}}}}
    path.write_text(json.dumps(tree), encoding="utf-8")
    assert read_taxonomy(path).codes == ["x", "x.y"]
    path.write_text("[1]", encoding="utf-8")
    with pytest.raises(FormatError, match="holds a list; expected a JSON object"):
        read_taxonomy(path)
