"""The Taipei basic statistical areas (../shared/data), loaded end to end."""

from __future__ import annotations

import pytest

from gis import columns as col
from gis.errors import CountError
from gis.io import read_communities, read_units

pytestmark = pytest.mark.realdata

FIELDS = {"id_field": "CODEBASE", "households_field": "H_CNT", "population_field": "P_CNT"}


@pytest.fixture
def taipei(shared_data):
    return shared_data / "taipei_min_stat_areas"


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("taipei_min_stat_areas_2017.geojson", {}),
        ("taipei_min_stat_area_points_2017.csv", {"crs": "EPSG:4326"}),
    ],
    ids=["polygons", "points"],
)
def test_taipei_units(taipei, name, options):
    loaded = read_units(taipei / name, **FIELDS, missing_counts="zero", **options)
    assert loaded.report.n_features == 11_490
    assert loaded.report.n_blank_counts_zeroed == 630
    assert loaded.frame[col.HOUSEHOLDS].sum() == 1_048_986
    assert loaded.frame[col.POPULATION].sum() == 2_689_272
    assert loaded.frame[col.UNIT_ID].is_unique


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("taipei_min_stat_areas_2017.geojson", {}),
        ("taipei_min_stat_area_points_2017.csv", {"crs": "EPSG:4326"}),
    ],
    ids=["polygons", "points"],
)
def test_taipei_blank_counts_need_the_flag(taipei, name, options):
    with pytest.raises(CountError, match=r"id \[A6301-0001-00, .* and 620 more\], field 'H_CNT': 630 features"):
        read_units(taipei / name, **FIELDS, **options)


def test_taipei_villages(taipei):
    villages = read_communities(taipei / "taipei_villages.geojson", id_field="CPTVID", name_field="VNAME")
    assert len(villages) == 456
    assert villages[col.COMMUNITY_NAME].notna().all()
