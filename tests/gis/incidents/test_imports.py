"""Incident files to records: the Vancouver and Chicago crimes, and what the mapping refuses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gis.errors import InputError, MissingCRSError
from gis.incidents.imports import map_incidents, read_incident_table
from tests.gis.incidents.vancouver import CATEGORIES, FOLDER, MAPPING


@pytest.fixture(scope="module")
def vancouver_table(shared_data: Path) -> pd.DataFrame:
    return read_incident_table(shared_data / FOLDER / "vancouver_crimes_2020.csv")[0]


def test_vancouver_crimes_map_to_taxonomy_codes_in_lon_lat_and_utc(vancouver_table):
    mapped = map_incidents(
        vancouver_table,
        MAPPING,
        file="vancouver.csv",
        crs="EPSG:26910",
        timezone="America/Vancouver",
        categories=CATEGORIES,
    )
    frame = mapped.frame
    assert (mapped.read, len(frame), mapped.without_location) == (37_512, 37_511, 1)
    assert frame["category"].str.startswith("public_security.").all()
    assert (frame["status"] == "reported").all()
    placed = frame[frame["lon"] > -125]  # the rows at X = Y = 0 land far away and are left out at storage
    assert placed["lon"].between(-123.3, -123.0).all() and placed["lat"].between(49.19, 49.32).all()
    first = vancouver_table.iloc[0]  # 2020-06-19 03:40 Pacific daylight time
    assert (first["YEAR"], first["MONTH"], first["DAY"], first["HOUR"]) == (2020, 6, 19, 3)
    assert frame["reported_at"].iloc[0] == pd.Timestamp("2020-06-19T10:40:00Z")
    assert not frame.loc[frame["category"] == "public_security.assault", "public"].any()
    assert vancouver_table.columns[0] == "TYPE"  # the caller's table is not changed


def test_chicago_assaults_with_iso_times_and_lon_lat(shared_data):
    table, crs = read_incident_table(shared_data / FOLDER / "chicago_aggravated_assaults_2010_2019.csv")
    mapped = map_incidents(
        table.head(1000).assign(kind="public_security.assault"),
        {"category": "kind", "x": "longitude", "y": "latitude", "reported_at": "date"},
        file="chicago.csv",
        crs=crs or "EPSG:4326",
        timezone="America/Chicago",
    )
    assert mapped.frame["reported_at"].iloc[0] == pd.Timestamp("2010-01-01T06:05:00Z")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"categories": {}}, InputError, r"no taxonomy code: 'Theft from Vehicle' \(10428\).*map each to a code"),
        ({"crs": None}, MissingCRSError, "give the CRS of the coordinates"),
        ({"timezone": None}, InputError, "times have no UTC offset; give their zone"),
        ({"mapping": {**MAPPING, "x": "EAST"}}, InputError, r"column 'EAST' \(mapped to x\) is not in the file"),
        ({"mapping": {**MAPPING, "colour": "TYPE"}}, InputError, r"unknown field\(s\) \['colour'\]"),
        (
            {"categories": {**CATEGORIES, "Homicide": "murder"}},
            InputError,
            r"category values that are no taxonomy code: 'murder' \(19\)",
        ),
    ],
)
def test_nothing_is_guessed(vancouver_table, change, error, message):
    options = {
        "mapping": MAPPING,
        "crs": "EPSG:26910",
        "timezone": "America/Vancouver",
        "categories": CATEGORIES,
        **change,
    }
    with pytest.raises(error, match=message):
        map_incidents(vancouver_table, options.pop("mapping"), file="vancouver.csv", **options)


def test_rows_without_coordinates_are_counted_and_bad_times_named():
    table = pd.DataFrame(
        {"c": ["sanitation", "sanitation"], "x": [114.1, None], "y": [22.5, None], "t": ["2026-11-01T08:00+08", "x"]}
    )
    mapped = map_incidents(table, {"category": "c", "reported_at": "t"}, file="f.csv", crs="EPSG:4326")
    assert (len(mapped.frame), mapped.without_location) == (1, 1)
    table.loc[1, ["x", "y"]] = [114.1, 22.5]
    with pytest.raises(InputError, match="row 1 has the time 'x', which does not parse"):
        map_incidents(table, {"category": "c", "reported_at": "t"}, file="f.csv", crs="EPSG:4326")
