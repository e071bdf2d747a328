"""The sample district: deterministic, realistic totals, and geometry that tiles."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from data.sample import INCIDENT_CATEGORIES, SampleDistrict, generate_district, write_district
from gis import columns as col

FRAMES = ("boundary", "communities", "barriers", "blocks", "units", "buildings", "incidents", "tracks")


@pytest.fixture(scope="module")
def district() -> SampleDistrict:
    """The demo's default district."""
    return generate_district(seed=0)


@pytest.fixture(scope="module")
def small() -> SampleDistrict:
    return generate_district(seed=7, households=5_000)


def metric(frame: gpd.GeoDataFrame, district: SampleDistrict) -> np.ndarray:
    return frame.to_crs(district.working_crs).geometry.to_numpy()


def overlap_areas(geoms: np.ndarray) -> np.ndarray:
    """Areas shared by each pair of distinct geometries that touch or overlap."""
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    return shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))


def test_same_seed_gives_identical_frames(small: SampleDistrict) -> None:
    again = generate_district(seed=7, households=5_000)
    assert again.working_crs == small.working_crs
    for name in FRAMES:
        assert_geodataframe_equal(getattr(again, name), getattr(small, name))


def test_other_seed_gives_another_district(small: SampleDistrict) -> None:
    other = generate_district(seed=8, households=5_000)
    assert not other.units.geometry.geom_equals(small.units.geometry.reindex(other.units.index)).all()
    assert len(other.units) != len(small.units) or not other.units["households"].equals(small.units["households"])


def test_every_frame_is_wgs84_and_working_crs_is_metric(district: SampleDistrict) -> None:
    for name in FRAMES:
        assert getattr(district, name).crs.to_epsg() == 4326, name
    assert district.working_crs.axis_info[0].unit_name == "metre"
    lon, lat = district.boundary.union_all().centroid.coords[0]
    assert abs(lon - 114.06) < 0.02 and abs(lat - 22.55) < 0.02


@pytest.mark.parametrize("households", [25_000, 5_000])
def test_households_and_household_size(households: int, district: SampleDistrict, small: SampleDistrict) -> None:
    units = (district if households == 25_000 else small).units
    assert abs(units[col.HOUSEHOLDS].sum() - households) <= 0.03 * households
    assert 2.4 <= units[col.POPULATION].sum() / units[col.HOUSEHOLDS].sum() <= 2.8


def test_buildings_hold_realistic_household_counts(district: SampleDistrict) -> None:
    hh = district.units[col.HOUSEHOLDS]
    assert hh.between(0, 150).all()
    assert (hh == 0).any() and hh.between(1, 10).any()
    assert hh.between(20, 150).mean() > 0.7
    assert (district.units[col.POPULATION] >= hh).all()
    assert district.units[col.UNIT_ID].is_unique and district.units[col.BUILDING].is_unique


def test_compounds_group_two_to_eight_buildings_in_one_community(district: SampleDistrict) -> None:
    units = district.units.dropna(subset=[col.COMPOUND])
    compounds = units.groupby(col.COMPOUND).agg(
        n=(col.UNIT_ID, "size"), hh=(col.HOUSEHOLDS, "sum"), communities=(col.COMMUNITY, "nunique")
    )
    assert compounds["n"].between(2, 8).all()
    assert (compounds["hh"] <= 1200).all()
    assert (compounds["communities"] == 1).all()
    shapes = units.to_crs(district.working_crs).buffer(0.01).groupby(units[col.COMPOUND]).agg(shapely.union_all)
    assert (shapely.get_num_geometries(shapes.values) == 1).all()


def test_units_tile_their_blocks(district: SampleDistrict) -> None:
    parcels = metric(district.units, district)
    blocks = metric(district.blocks, district)
    assert overlap_areas(parcels).max() < 1.0
    assert abs(shapely.area(parcels).sum() - shapely.area(blocks).sum()) < 1.0 * len(blocks)
    inside = shapely.STRtree(blocks).query(shapely.point_on_surface(parcels), predicate="within")
    assert len(np.unique(inside[0])) == len(parcels)


def test_every_unit_lies_in_its_one_community(district: SampleDistrict) -> None:
    parcels = metric(district.units, district)
    areas = metric(district.communities, district)
    own = np.searchsorted(district.communities[col.COMMUNITY_ID], district.units[col.COMMUNITY])
    shared = shapely.area(shapely.intersection(parcels, areas[own]))
    assert np.allclose(shared, shapely.area(parcels), atol=0.01)


def test_communities_tile_the_boundary(district: SampleDistrict) -> None:
    areas = metric(district.communities, district)
    boundary = metric(district.boundary, district)[0]
    assert overlap_areas(areas).max() < 1.0
    assert shapely.area(areas).sum() == pytest.approx(boundary.area, abs=1.0)
    assert shapely.area(shapely.difference(boundary, shapely.union_all(areas))) < 1.0


def test_communities_have_admin_codes_and_realistic_sizes(district: SampleDistrict, small: SampleDistrict) -> None:
    for d in (district, small):
        communities = d.communities
        assert 3 <= len(communities) <= 6
        assert communities[col.ADMIN_CODE].str.fullmatch(r"\d{12}").all()
        assert communities[col.ADMIN_CODE].str[:9].nunique() == 1 and communities[col.ADMIN_CODE].is_unique
        assert communities[col.COMMUNITY_NAME].str.endswith("社区").all()
        totals = d.units.groupby(col.COMMUNITY)[col.HOUSEHOLDS].sum()
        assert totals.reindex(communities[col.COMMUNITY_ID]).tolist() == communities[col.HOUSEHOLDS].tolist()
    assert district.communities[col.HOUSEHOLDS].between(3000, 8000).all()


def test_n_communities_is_honoured() -> None:
    assert len(generate_district(seed=2, households=12_000, n_communities=4).communities) == 4


def test_barriers_have_major_minor_and_a_hard_river(district: SampleDistrict) -> None:
    barriers = district.barriers
    assert set(barriers[col.BARRIER_CLASS]) == {"major", "minor", "river"}
    assert (barriers[col.HARD] == (barriers[col.BARRIER_CLASS] == "river")).all()
    assert barriers["name"].str.len().gt(0).all()


def test_incidents_cluster_in_the_district_during_the_period(district: SampleDistrict) -> None:
    incidents = district.incidents
    assert len(incidents) == pytest.approx(25_000 / 50, rel=0.05)
    assert set(incidents["category"]) <= set(INCIDENT_CATEGORIES)
    area = district.boundary.to_crs(district.working_crs).buffer(10).to_crs(4326).union_all()
    assert incidents.within(area).all()
    start = pd.Timestamp("2024-03-01", tz="Asia/Shanghai")
    assert incidents["reported_at"].between(start, start + timedelta(days=90)).all()
    hours = incidents["reported_at"].dt.hour
    assert hours.between(9, 11).sum() > 3 * hours.between(2, 4).sum()
    # hotspots: the busiest 5% of units draw far more than 5% of the incidents
    per_unit = gpd.sjoin(incidents, district.units, predicate="within").groupby(col.UNIT_ID).size()
    assert per_unit.nlargest(len(district.units) // 20).sum() > 0.25 * len(incidents)


def test_tracks_walk_the_streets_every_ten_seconds(district: SampleDistrict) -> None:
    tracks = district.tracks
    assert tracks["worker_id"].nunique() >= 3
    steps = tracks.groupby("patrol_id")["recorded_at"].diff().dropna()
    assert (steps == pd.Timedelta(seconds=10)).all()
    durations = tracks.groupby("patrol_id")["recorded_at"].agg(lambda t: t.max() - t.min())
    assert durations.between(pd.Timedelta(minutes=45), pd.Timedelta(minutes=75)).all()
    streets = metric(district.barriers[district.barriers[col.BARRIER_CLASS] != "river"], district)
    points = metric(tracks, district)
    distance = shapely.distance(points[:, None], shapely.union_all(streets)).ravel()
    assert np.quantile(distance, 0.95) < 12.0


def test_write_district_writes_geopackages_and_readme(small: SampleDistrict, tmp_path) -> None:
    written = write_district(small, tmp_path / "sample")
    assert {"units", "communities", "barriers", "boundary", "incidents", "tracks", "readme"} <= set(written)
    units = gpd.read_file(written["units"])
    assert len(units) == len(small.units) and units.crs.to_epsg() == 4326
    assert "households" in written["readme"].read_text(encoding="utf-8")
    incidents = gpd.read_file(written["incidents"])
    assert (incidents["reported_at"] == small.incidents["reported_at"]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"households": 10}, "households=10 is too small"),
        ({"n_communities": 0}, "n_communities=0 is outside 1–25 for 25000 households"),
        ({"workers": -1}, "workers=-1"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_district(**kwargs)
