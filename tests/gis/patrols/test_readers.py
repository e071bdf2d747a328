"""Reading fixes from GPX, CSV, GeoJSON and JSON: one frame shape, and errors naming file, row and field."""

from __future__ import annotations

import json

import gpxpy.gpx
import pandas as pd
import pytest

from gis.errors import FormatError, InputError
from gis.patrols.readers import FIX_COLUMNS, read_json, read_tracks


def gpx_bytes(times: list[str | None]) -> bytes:
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="phone-7")
    segment = gpxpy.gpx.GPXTrackSegment()
    for i, t in enumerate(times):
        point = gpxpy.gpx.GPXTrackPoint(22.55 + i * 1e-4, 114.06)
        point.time = None if t is None else pd.Timestamp(t).to_pydatetime()
        segment.points.append(point)
    track.segments.append(segment)
    gpx.tracks.append(track)
    return gpx.to_xml().encode()


def test_gpx_times_are_utc_and_the_track_name_is_the_device():
    fixes = read_tracks("walk.gpx", data=gpx_bytes(["2026-11-02T09:00:00+08:00", "2026-11-02T01:00:10"]))
    assert list(fixes.columns) == FIX_COLUMNS
    assert list(fixes["recorded_at"].astype(str)) == ["2026-11-02 01:00:00+00:00", "2026-11-02 01:00:10+00:00"]
    assert set(fixes["device"]) == {"phone-7"}


def test_a_gpx_point_without_time_is_named():
    with pytest.raises(InputError, match=r"file 'walk.gpx', feature 1, field 'time': track point 1 .* no <time>"):
        read_tracks("walk.gpx", data=gpx_bytes(["2026-11-02T01:00:00Z", None]))


def test_a_broken_gpx_file_is_a_format_error():
    with pytest.raises(FormatError, match="cannot be read as GPX"):
        read_tracks("walk.gpx", data=b"<gpx><trk>")


def test_real_tainan_times_need_their_zone(tainan_csv):
    with pytest.raises(InputError, match=r"field 'timestamp_local': .* no UTC offset, .*name it"):
        read_tracks(tainan_csv)
    fixes = read_tracks(tainan_csv, timezone="Asia/Taipei")
    assert len(fixes) == 6502  # the README's count
    assert str(fixes["recorded_at"].iloc[0]) == "2015-10-20 06:22:27+00:00"  # 14:22:27 in Taipei
    assert fixes["device"].nunique() == 16 and fixes["worker"].isna().all()


def test_real_geolife_csv_with_named_columns(geolife_csv):
    fixes = read_tracks(geolife_csv, columns={"worker": "tracker", "recorded_at": "t"})
    assert len(fixes) == 5908 and fixes["worker"].nunique() == 3
    assert str(fixes["recorded_at"].iloc[0]) == "2008-12-11 04:42:14+00:00"


CSV_CASES = {
    "latitude out of range": (
        "device,time,lat,lon\nd1,2026-11-02T09:00:00+08:00,22.5,114.0\nd1,2026-11-02T09:00:10+08:00,95,114.0\n",
        r"feature 1, field 'lat': row 1 has lat 95.0, outside ±90°",
    ),
    "not a number": (
        "device,time,lat,lon\nd1,2026-11-02T09:00:00+08:00,north,114.0\n",
        r"feature 0, field 'lat': row 0 has 'north', not a number",
    ),
    "not a time": (
        "device,time,lat,lon\nd1,2026-11-02T09:00:00+08:00,22.5,114\nd1,yesterday,22.5,114\n",
        r"feature 1, field 'time': row 1 has 'yesterday', not a time",
    ),
    "offset on some rows only": (
        "device,time,lat,lon\nd1,2026-11-02T09:00:00+08:00,22.5,114\nd1,2026-11-02 09:00:10,22.5,114\n",
        r"feature 1, field 'time': row 1 has '2026-11-02 09:00:10' without a UTC offset",
    ),
    "no latitude column": ("device,time,lon\nd1,2026-11-02T09:00:00Z,114\n", r"has no column for \['lat'\]"),
    "empty": ("", "is empty"),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_bad_csv_rows_are_named(case):
    text, message = CSV_CASES[case]
    with pytest.raises(InputError, match=message):
        read_tracks("fixes.csv", data=text.encode())


def test_csv_with_semicolons_unix_seconds_and_mixed_offsets():
    text = "worker_id;t;y;x\n7;1793581200;22.5;114.0\n7;1793581210;22.5;114.0\n"
    fixes = read_tracks("f.csv", data=text.encode())
    assert list(fixes["worker"]) == ["7", "7"]
    assert str(fixes["recorded_at"].iloc[0]) == "2026-11-02 01:00:00+00:00"
    mixed = "device,time,lat,lon\nd,2026-11-02T09:00:00+08:00,22.5,114\nd,2026-11-02T02:00:10+01:00,22.5,114\n"
    assert read_tracks("m.csv", data=mixed.encode())["recorded_at"].dt.hour.tolist() == [1, 1]


def test_real_tainan_geojson_tracks_have_no_vertex_times(shared_data):
    path = shared_data / "tainan_tracks_dengue" / "tainan_spray_team_tracks_2015.geojson"
    with pytest.raises(InputError, match=r"feature 0, field 'coordTimes': .* LineString without per-vertex times"):
        read_tracks(path)


def test_geojson_points_and_lines_with_vertex_times():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"time": "2026-11-02T09:00:00+08:00", "worker_id": 4},
                "geometry": {"type": "Point", "coordinates": [114.0, 22.5]},
            },
            {
                "type": "Feature",
                "properties": {"coordTimes": ["2026-11-02T01:00:10Z", "2026-11-02T01:00:20Z"], "device": "x"},
                "geometry": {"type": "LineString", "coordinates": [[114.0, 22.5], [114.001, 22.5]]},
            },
        ],
    }
    fixes = read_tracks("t.geojson", data=json.dumps(doc).encode())
    assert list(fixes["worker"]) == ["4", None, None] and list(fixes["device"]) == [None, "x", "x"]
    assert len(fixes) == 3


def test_json_points_name_the_missing_field():
    body = {"worker_id": 1, "points": [{"time": "2026-11-02T01:00:00Z", "lat": 22.5, "lon": 114.0}, {"lat": 1}]}
    with pytest.raises(InputError, match=r"feature 1, field 'time': point 1 has no time"):
        read_json(body)
    body["points"].pop()
    assert read_json(body)["worker"].tolist() == ["1"]
