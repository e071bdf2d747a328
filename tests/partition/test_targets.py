"""Grid counts a container's totals allow, and the ranges themselves."""

from __future__ import annotations

import json

import pytest

from partition.targets import Targets, assess, parse_range

DEFAULT = Targets()


def test_brief_example_is_infeasible_and_says_why():
    """1,050 households need exactly 3 grids (300–500 each) but 2,966 residents allow only 2."""
    f = assess(1050, 2966, DEFAULT)
    assert not f.feasible
    assert f.k_feasible is None
    assert f.k_households == (3, 3)
    assert f.k_population == (2, 2)
    assert f.k == 3  # households first: 3 grids of 350 keep every grid's households in range
    for text in ("1,050 households", "2,966 residents", "allow 3–3 grids", "allow 2–2", "chose 3 grids"):
        assert text in f.reason
    assert "residents short of range by at least 34" in f.reason  # 3 × 1,000 − 2,966


@pytest.mark.parametrize(
    ("households", "population", "k_feasible", "k"),
    [
        (300, 1000, (1, 1), 1),  # both minimums exactly
        (500, 1500, (1, 1), 1),  # both maximums exactly
        (1200, 3300, (3, 3), 3),
        (3000, 7500, (6, 7), 7),  # 7 grids of 429 / 1,071 sit nearer the middles than 6 of 500 / 1,250
        (4000, 10000, (8, 10), 9),
    ],
)
def test_feasible_counts(households, population, k_feasible, k):
    f = assess(households, population, DEFAULT)
    assert f.feasible
    assert f.k_feasible == k_feasible
    assert f.k == k
    assert f.reason == ""
    assert f.to_dict()["feasible_by_counts"] is True


def test_too_few_households_for_one_grid():
    f = assess(200, 600, DEFAULT)
    assert not f.feasible
    assert f.k == 1
    assert "200 households are fewer than one grid's minimum of 300" in f.reason
    assert "600 residents are fewer than one grid's minimum of 1,000" in f.reason


def test_households_fit_but_residents_cannot():
    """520 households need 2 grids of at most 500, which 520 cannot fill to 300 each."""
    f = assess(520, 1400, DEFAULT)
    assert not f.feasible
    assert f.k_households == (2, 1)
    assert "520 households need at least 2 grids of at most 500 but allow at most 1 of at least 300" in f.reason


def test_report_form_is_json_ready():
    d = assess(1050, 2966, DEFAULT).to_dict()
    assert json.loads(json.dumps(d)) == d
    expected = {
        "households": 1050,
        "population": 2966,
        "k_households": [3, 3],
        "k_population": [2, 2],
        "k_feasible": None,
        "k": 3,
        "feasible_by_counts": False,
    }
    assert {key: d[key] for key in expected} == expected
    assert "2,966 residents" in d["reason"]


def test_custom_targets_change_the_answer():
    """The brief's example fits 3 grids once residents may be 900–1,500."""
    f = assess(1050, 2966, Targets(population_range=(900, 1500)))
    assert f.feasible
    assert f.k == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("300:500", (300, 500)), ("1000:1500", (1000, 1500)), ("300-500", (300, 500)), (" 7:7", (7, 7))],
)
def test_parse_range(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("300", r"households must look like MIN:MAX, e\.g\. 300:500; got '300'"),
        ("a:b", r"households must look like MIN:MAX, e\.g\. 300:500; got 'a:b'"),
        ("1:2:3", r"must look like MIN:MAX.*got '1:2:3'"),
        ("", r"must look like MIN:MAX.*got ''"),
        ("500:300", r"households must have 0 < MIN <= MAX; got '500:300'"),
        ("0:10", r"households must have 0 < MIN <= MAX; got '0:10'"),
    ],
)
def test_parse_range_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_range(text, option="households")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"households_range": (500, 300)}, r"households_range must be .* MIN <= MAX, got 500:300"),
        ({"households_range": (0, 300)}, r"households_range must be two positive numbers .* got 0:300"),
        ({"population_range": (-1, 1500)}, r"population_range must be .* got -1:1500"),
    ],
)
def test_targets_refuse_bad_ranges(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Targets(**kwargs)


@pytest.mark.parametrize(
    ("households", "population", "in_range", "oversized"),
    [
        (300, 1000, True, False),
        (500, 1500, True, False),
        (299, 1200, False, False),
        (400, 999, False, False),
        (501, 1200, False, True),
        (400, 1501, False, True),
    ],
)
def test_range_predicates(households, population, in_range, oversized):
    assert DEFAULT.in_range(households, population) is in_range
    assert DEFAULT.oversized(households, population) is oversized
