"""Cleaning: duplicates, order, impossible jumps and far-away fixes, counted in the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gis.patrols.cleaning import clean
from gis.patrols.readers import read_tracks
from tests.gis.patrols.conftest import TAINAN


def track(points: list[tuple[float, float, float]], worker: int = 1) -> pd.DataFrame:
    """Fixes from (seconds, east metres, north metres) near 114.06 E 22.55 N; metres turned into degrees."""
    t, east, north = (np.array(v, dtype=float) for v in zip(*points, strict=True))
    return pd.DataFrame(
        {
            "worker_id": worker,
            "recorded_at": pd.Timestamp("2026-11-02T01:00:00Z") + pd.to_timedelta(t, unit="s"),
            "lon": 114.06 + east / 102_800.0,
            "lat": 22.55 + north / 110_700.0,
            "row": np.arange(len(t)),
        }
    )


# Named edge cases: the fixes (s, m east, m north) and the rows the speed rule drops (50 km/h = 13.9 m/s).
SPEED_CASES = {
    "a spike out and back": ([(0, 0, 0), (10, 10, 0), (20, 2000, 0), (30, 20, 0), (40, 30, 0)], [2]),
    "a wrong first fix": ([(0, 5000, 0), (10, 0, 0), (20, 10, 0), (30, 20, 0), (40, 30, 0)], [0]),
    "two wrong fixes together": ([(0, 0, 0), (10, 3000, 0), (20, 3010, 0), (30, 10, 0), (40, 20, 0)], [1, 2]),
    "carried elsewhere while off": ([(0, 0, 0), (10, 10, 0), (1200, 9000, 0), (1210, 9010, 0)], []),
    "a car ride": ([(0, 0, 0), (10, 250, 0), (20, 500, 0), (30, 750, 0)], [1, 2, 3]),
}


@pytest.mark.parametrize("case", SPEED_CASES)
def test_impossible_jumps(case):
    points, dropped = SPEED_CASES[case]
    kept, report = clean(track(points))
    assert sorted(set(range(len(points))) - set(kept["row"])) == dropped
    assert report.too_fast == len(dropped) and report.examples["too_fast"] == dropped


def test_duplicates_and_order_are_counted_and_the_input_kept():
    fixes = track([(20, 20, 0), (0, 0, 0), (10, 10, 0), (10, 11, 0), (30, 30, 0)])
    before = fixes.copy()
    kept, report = clean(fixes)
    pd.testing.assert_frame_equal(fixes, before)
    assert list(kept["row"]) == [1, 2, 0, 4]  # sorted; of the two fixes at 10 s the file's first stays
    assert (report.read, report.kept, report.duplicates, report.out_of_order) == (5, 4, 1, 1)
    assert report.examples["duplicates"] == [3] and report.examples["out_of_order"] == [1]


def test_workers_are_cleaned_apart():
    both = pd.concat([track([(0, 0, 0), (10, 10, 0)], worker=1), track([(0, 5000, 0), (10, 5010, 0)], worker=2)])
    kept, report = clean(both)
    assert report.too_fast == 0 and report.workers == 2 and len(kept) == 4


def test_real_tainan_log(tainan_csv):
    fixes = read_tracks(tainan_csv, timezone="Asia/Taipei").assign(district_id=1)
    kept, report = clean(fixes, areas={1: TAINAN})
    # the README's four fixes far outside Tainan are flagged, and dropped as impossible jumps too
    assert report.outside == 4 and report.examples["outside"] == [122, 4280, 4592, 4593]
    assert set(report.examples["outside"]) <= set(fixes["row"]) - set(kept["row"])
    assert (report.read, report.duplicates, report.out_of_order) == (6502, 0, 0)
    assert report.kept == report.read - report.too_fast and 0 < report.too_fast < 200
    assert kept.groupby("device")["recorded_at"].apply(lambda t: t.is_monotonic_increasing).all()
    assert "4 fixes far outside the district flagged" in report.summary()


def test_real_geolife_log(geolife_csv):
    fixes = read_tracks(geolife_csv, columns={"worker": "tracker", "recorded_at": "t"})
    kept, report = clean(fixes, max_speed_kmh=200)
    assert report.out_of_order == 1 and report.duplicates == 0
    assert report.kept == len(kept) == 5908 - report.too_fast
