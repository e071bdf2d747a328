"""Patrols, stops, visits, coverage and compliance on the tiny district's hand-made walks."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gis.errors import InputError
from gis.patrols.analysis import analyse, coverage_samples, local_days, split_patrols, to_trajectories
from gis.patrols.readers import read_tracks
from gis.patrols.rule import PatrolRule
from tests.gis.patrols import tiny

DAY = date(2026, 11, 2)


def fixes(*parts: pd.DataFrame) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(worker_id=frame["worker"].astype(int))


def run(frame, grids, streets=None, **rule):
    return analyse(
        frame, grids, timezone="Asia/Shanghai", crs=tiny.CRS, rule=PatrolRule(**rule), streets=streets, days=[DAY]
    )


def test_the_rule_kept_and_broken(tiny_grids, tiny_streets):
    result = run(fixes(tiny.a_day({"worker_a": 1, "worker_b": 2})), tiny_grids, tiny_streets)
    rows = result.compliance.set_index("worker_id")
    assert rows.loc[1, "compliant"] and rows.loc[1, "long_visits"] == 2
    assert list(result.visits.loc[result.visits.worker_id == 1, "minutes"]) == [70.0, 65.0]
    assert rows.loc[1, "stops"] == 1 and rows.loc[1, "patrols"] == 2  # the 40 min stay is a stop, not patrol
    assert not rows.loc[2, "compliant"] and (rows.loc[2, "visits"], rows.loc[2, "long_visits"]) == (1, 0)
    assert not rows.loc[3, "compliant"] and rows.loc[3, "patrols"] == 0  # no grid, no tracks: a row all the same
    assert rows.loc[1, "coverage_basis"] == "streets" and 0.25 < rows.loc[1, "coverage"] < 0.4
    assert list(result.compliance["day"]) == [DAY] * 3


def test_a_stop_inside_the_grid_is_no_visit(tiny_grids):
    result = run(fixes(tiny.stay((200, 200), tiny.at(9), 90)), tiny_grids)
    assert result.compliance.set_index("worker_id").loc[1, "visits"] == 0
    stop = result.stops.iloc[0]
    assert stop["minutes"] == pytest.approx(90, abs=0.5) and len(result.tracks) == 0


def test_short_exits_do_not_end_a_visit(tiny_grids):
    inside = tiny.ring(100, 100)
    out_and_back = np.array([[300, 100], [420, 100], [540, 100], [420, 100], [300, 100]])  # 200 s in grid B
    route = np.vstack([inside, out_and_back, inside])
    one = run(fixes(tiny.walk(route, tiny.at(9), 70)), tiny_grids)
    assert one.compliance["visits"].iloc[0] == 1 and one.compliance["long_visits"].iloc[0] == 1
    split = run(fixes(tiny.walk(route, tiny.at(9), 70)), tiny_grids, exit_minutes=1)
    assert split.compliance["visits"].iloc[0] > 1


def test_a_gap_ends_a_patrol(tiny_grids):
    walks = fixes(tiny.walk(tiny.ring(100, 100), tiny.at(9), 30), tiny.walk(tiny.ring(100, 100), tiny.at(9.75), 30))
    split = split_patrols(walks, timezone="Asia/Shanghai", crs=tiny.CRS)
    assert split["session"].nunique() == 2 and split["patrol"].nunique() == 2
    merged = split_patrols(walks, timezone="Asia/Shanghai", crs=tiny.CRS, rule=PatrolRule(gap_minutes=20))
    assert merged["session"].nunique() == 1


def test_days_are_local_dates():
    times = pd.Series(pd.to_datetime(["2026-11-02T15:59:00Z", "2026-11-02T16:01:00Z"]))
    assert [str(d) for d in local_days(times, "Asia/Shanghai")] == ["2026-11-02", "2026-11-03"]
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        local_days(times, "Mars/Olympus")


def test_cells_measure_coverage_without_streets(tiny_grids):
    import shapely

    xy, weight, basis = coverage_samples(shapely.box(0, 0, 400, 400), streets=None)
    assert basis == "cells" and len(xy) == 64 and weight.sum() == 64
    lawnmower = np.array([[25 + 50 * (i // 2), 0 if i % 4 in (0, 3) else 400] for i in range(16)], dtype=float)
    result = run(fixes(tiny.walk(lawnmower, tiny.at(9), 70)), tiny_grids, day_start_hour=9, day_end_hour=10)
    row = result.compliance.set_index("worker_id").loc[1]
    assert row["coverage_basis"] == "cells" and row["coverage"] == 1.0
    assert 0 < row["longest_unvisited_minutes"] < 60


def test_an_unvisited_part_counts_the_whole_window(tiny_grids, tiny_streets):
    result = run(fixes(tiny.walk(tiny.ring(100, 100), tiny.at(9), 70)), tiny_grids, tiny_streets)
    assert result.compliance.set_index("worker_id").loc[1, "longest_unvisited_minutes"] == 24 * 60


def test_tracks_are_simplified_lines_with_lengths(tiny_grids):
    result = run(fixes(tiny.walk(tiny.ring(100, 100), tiny.at(9), 70)), tiny_grids)
    track = result.tracks.iloc[0]
    assert track["points"] == 421 and track["length_m"] == pytest.approx(70 * 60 * 1.2, rel=0.02)  # corners cut
    assert len(track.geometry.coords) < 60 and track["mean_speed_kmh"] == pytest.approx(4.32, rel=0.02)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # movingpandas on pandas 3
def test_gaps_split_tainan_tracks_as_movingpandas_does(tainan_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import movingpandas as mpd
    raw = read_tracks(tainan_csv, timezone="Asia/Taipei")
    frame = raw.assign(worker_id=pd.factorize(raw["device"])[0]).drop_duplicates(["worker_id", "recorded_at"])
    split = split_patrols(frame, timezone="Asia/Taipei", crs="EPSG:3826")
    sessions = split.groupby("session").agg(start=("recorded_at", "min"), n=("recorded_at", "size"))
    ours = {(t.tz_localize(None), n) for t, n in zip(sessions["start"], sessions["n"], strict=True) if n >= 2}
    theirs = set()
    points = gpd.GeoDataFrame(
        frame.assign(t=frame["recorded_at"].dt.tz_localize(None)).set_index("t"),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    )
    for trajectory in mpd.TrajectoryCollection(points, traj_id_col="worker_id").trajectories:
        # one trajectory at a time: split ids of a whole collection ("1_51", "15_1") can collide
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pieces = mpd.ObservationGapSplitter(trajectory).split(gap=timedelta(minutes=10))
        theirs |= {(piece.df.index[0], len(piece.df)) for piece in pieces.trajectories}
    assert len(ours) > 100 and ours == theirs


@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_patrols_go_to_movingpandas(tiny_grids):
    split = split_patrols(fixes(tiny.walk(tiny.ring(100, 100), tiny.at(9), 20)), timezone="Asia/Shanghai", crs=tiny.CRS)
    collection = to_trajectories(split)
    assert len(collection) == 1
    assert collection.trajectories[0].get_length() == pytest.approx(split["step_m"].sum(), rel=0.01)
