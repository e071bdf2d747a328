"""CSV for people: text a spreadsheet would run as a formula comes out as text; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from gis.csv_safety import FORMULA_STARTS, frame_to_csv, neutralise


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "+1+1", "-2+3", "\t=1", "\r=1"])
def test_formulas_get_a_quote_before_them(value):
    assert neutralise(value) == "'" + value
    assert value.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("value", ["王晓梅", "a=b", "", "1+1", None, -2.5, 7])
def test_other_values_are_unchanged(value):
    assert neutralise(value) == value


def test_frames_keep_numbers_and_neutralise_text_and_headers():
    frame = pd.DataFrame({"worker": ['=HYPERLINK("x")', "乙"], "distance_m": [-12.5, 3.0], "=bad": ["ok", "-1"]})
    rows = list(csv.reader(io.StringIO(frame_to_csv(frame, index=False))))
    assert rows == [
        ["worker", "distance_m", "'=bad"],
        ['\'=HYPERLINK("x")', "-12.5", "ok"],
        ["乙", "3.0", "'-1"],
    ]
    assert frame.loc[0, "worker"] == '=HYPERLINK("x")'  # the caller's frame is not changed
