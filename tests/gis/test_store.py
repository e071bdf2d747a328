"""The store: write a district, its communities, units and plans; read grids back.

The district of most tests, in EPSG:3826 metres from (X0, Y0)::

    20 +------+------+------+------+
       |  u1  |  u2  |  u3  |  u4  |     units: 100 households, 250 residents each
       |  c1  |  c1  |  c2  |  c2  |     communities c1 (left half), c2 (right half)
     0 +------+------+------+------+
       0     10     20     30     40
       \\----G1-----/ \\-----G2----/       the plan: two grids of two units
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, pool, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gis.errors import (
    CommgridError,
    ConflictError,
    CountError,
    DatabaseUnavailableError,
    DuplicateIdError,
    InputError,
    MissingCRSError,
    NotFoundError,
)
from gis.plans import (
    GRID_COLUMNS,
    list_plans,
    publish_plan,
    read_grids,
    write_communities,
    write_district,
    write_plan,
    write_units,
)
from gis.store import connect, create_engine
from gis.store.models import AppUser, Community, GridPlan, Unit

CRS = "EPSG:3826"
X0, Y0 = 302_000.0, 2_770_000.0
LONLAT_BOX = shapely.box(121.53, 25.02, 121.55, 25.04)


def rect(x1: float, x2: float, y1: float = 0, y2: float = 20) -> shapely.Polygon:
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "community_id": ["c1", "c2"],
            "name": ["East Gate", "West Gate"],
            "admin_code": ["110101001001", None],
        },
        geometry=[rect(0, 20), rect(20, 40)],
        crs=CRS,
    )


def units() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "unit_id": ["u1", "u2", "u3", "u4"],
            "households": [100, 100, 100, 100],
            "population": [250, 250, 250, 250],
            "community": ["c1", "c1", "c2", "c2"],
            "compound": ["k1", "k1", None, None],
        },
        geometry=[rect(0, 10), rect(10, 20), rect(20, 30), rect(30, 40)],
        crs=CRS,
    )


def grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["G1", "G2"],
            "community": ["c1", "c2"],
            "households": [200, 200],
            "population": [500, 500],
            "units": [2, 2],
            "polsby_popper": [0.70, 0.70],
            "status": ["ok", "out_of_range"],
            "reason": [None, "200 households, below 300"],
        },
        geometry=[rect(0, 20), rect(20, 40)],
        crs=CRS,
    )


def assignment() -> pd.DataFrame:
    return pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "code": ["G1", "G1", "G2", "G2"]})


@pytest.fixture
def district(db_conn: Connection) -> int:
    district_id = write_district(
        db_conn, name="Daan", working_crs=CRS, boundary_geom=gpd.GeoSeries([rect(0, 40)], crs=CRS)
    )
    write_units(db_conn, district_id, units(), write_communities(db_conn, district_id, communities()))
    return district_id


def save(conn: Connection, district_id: int, name: str, *, publish: bool = True, **changes) -> int:
    params = {"seed": np.int64(1), "weights": np.array([0.5, 0.5])}  # numpy values, as solvers make them
    arguments = {"grids": grids(), "assignment": assignment(), "params": params, "report": {}} | changes
    return write_plan(conn, district_id=district_id, name=name, publish=publish, **arguments)


def test_grids_round_trip(db_conn: Connection, district: int) -> None:
    save(db_conn, district, "2025-v1")
    got = read_grids(db_conn)
    expected = grids()
    assert list(got.columns) == [*GRID_COLUMNS, "name", "geometry"]
    assert got.crs == "EPSG:4326"
    pd.testing.assert_frame_equal(
        pd.DataFrame(got[list(GRID_COLUMNS)]), pd.DataFrame(expected[list(GRID_COLUMNS)]), check_dtype=False
    )
    back = got.to_crs(CRS).geometry.to_numpy()
    assert shapely.equals_exact(back, shapely.multipolygons(expected.geometry.to_numpy()[:, None]), 1e-3).all()
    assert (got.attrs["plan"], got.attrs["district_id"], got.attrs["plan_status"]) == (
        "2025-v1",
        district,
        "published",
    )


def test_units_are_stored_in_4326_with_their_community(db_conn: Connection, district: int) -> None:
    rows = db_conn.execute(
        select(Unit.unit_id, Unit.community_id.is_not(None), func.ST_SRID(Unit.geom), Unit.compound)
        .where(Unit.district_id == district)
        .order_by(Unit.unit_id)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("u1", True, 4326, "k1"),
        ("u2", True, 4326, "k1"),
        ("u3", True, 4326, None),
        ("u4", True, 4326, None),
    ]


def test_publishing_archives_the_previous_plan(db_conn: Connection, district: int) -> None:
    save(db_conn, district, "v1")
    save(db_conn, district, "v2")
    old, new = list_plans(db_conn, district)
    assert (old.name, old.status, new.name, new.status) == ("v1", "archived", "v2", "published")
    assert old.valid_to == new.valid_from and new.valid_to is None
    assert (old.version, new.n_grids) == (3, 2)  # written, published, archived
    assert read_grids(db_conn).attrs["plan"] == "v2"
    assert read_grids(db_conn, plan="v1").attrs["plan_status"] == "archived"
    stored = db_conn.execute(select(GridPlan.params).where(GridPlan.name == "v1")).scalar_one()
    assert stored == {"seed": 1, "weights": [0.5, 0.5]}


def test_draft_is_published_later(db_conn: Connection, district: int) -> None:
    save(db_conn, district, "draft-1", publish=False)
    with pytest.raises(NotFoundError, match=r"^no plan is published$"):
        read_grids(db_conn)
    publish_plan(db_conn, plan="draft-1")
    assert read_grids(db_conn).attrs["plan"] == "draft-1"
    with pytest.raises(ConflictError, match="is published already"):
        publish_plan(db_conn, plan="draft-1")


def test_unknown_plan_names_no_other_plan(db_conn: Connection, district: int) -> None:
    save(db_conn, district, "v1")
    with pytest.raises(NotFoundError, match=r"^no plan named 'v9'$"):
        read_grids(db_conn, plan="v9")


def test_failed_plan_leaves_nothing(db_conn: Connection, district: int) -> None:
    bad = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u9"], "code": ["G1", "G1", "G2", "G2"]})
    with pytest.raises(InputError, match=r"feature \[3\], id \[u9\], field 'unit_id': .*not stored"):
        save(db_conn, district, "v1", assignment=bad)
    assert list_plans(db_conn) == []
    save(db_conn, district, "v1")  # the connection is still usable
    assert [p.name for p in list_plans(db_conn)] == ["v1"]


def test_plan_names_are_unique(db_conn: Connection, district: int) -> None:
    save(db_conn, district, "v1")
    with pytest.raises(ConflictError, match="A plan named 'v1' already exists"):
        save(db_conn, district, "v1")


def test_grid_codes_must_match_the_assignment(db_conn: Connection, district: int) -> None:
    odd = assignment().assign(code=["G1", "G1", "G2", "G3"])
    with pytest.raises(InputError, match=r"feature \[3\], id \[u4\], field 'code': .*\['G3'\]"):
        save(db_conn, district, "v1", assignment=odd)


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        (communities().set_crs(None, allow_override=True), MissingCRSError, "has no CRS"),
        (communities().assign(admin_code=["1101", None]), InputError, r"feature \[0\].*not 12 digits"),
        (communities().assign(community_id=["c1", "c1"]), DuplicateIdError, r"id \[c1, c1\].*occurs on more than one"),
        (communities().drop(columns="name"), InputError, r"missing column\(s\) \['name'\]"),
    ],
    ids=["no-crs", "admin-code", "duplicate-id", "no-name"],
)
def test_bad_communities(db_conn: Connection, frame, error, message) -> None:
    boundary = gpd.GeoSeries([rect(0, 40)], crs=CRS)
    district_id = write_district(db_conn, name="Xinyi", working_crs=CRS, boundary_geom=boundary)
    with pytest.raises(error, match=message):
        write_communities(db_conn, district_id, frame)


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        (
            units().assign(households=[100, -1, 100, 100]),
            CountError,
            r"feature \[1\], id \[n2\].*negative value \[-1\]",
        ),
        (units().assign(population=[250, 250, None, 2.5]), CountError, r"feature \[2\], id \[n3\].*blank"),
        (units().assign(population=[250, 250, 250, 2.5]), CountError, r"feature \[3\], id \[n4\].*fractional"),
        (units().assign(community=["c1", "c1", "c2", "c7"]), InputError, r"id \[n4\].*\['c7'\]"),
    ],
    ids=["negative", "missing", "fraction", "unknown-community"],
)
def test_bad_units(db_conn: Connection, district: int, frame, error, message) -> None:
    stored = select(func.count()).select_from(Unit)
    before = db_conn.execute(stored).scalar()
    community_pks = dict(db_conn.execute(select(Community.community_id, Community.id)).all())
    with pytest.raises(error, match=message):
        write_units(db_conn, district, frame.assign(unit_id=["n1", "n2", "n3", "n4"]), community_pks)
    assert db_conn.execute(stored).scalar() == before


def test_units_already_stored(db_conn: Connection, district: int) -> None:
    with pytest.raises(DuplicateIdError, match=r"id \[u1, u2, u3, u4\].*already stored"):
        write_units(db_conn, district, units().drop(columns="community"), {})


def test_district_errors(db_conn: Connection, district: int) -> None:
    with pytest.raises(ConflictError, match="district named 'Daan' is already stored"):
        write_district(db_conn, name="Daan", working_crs=CRS, boundary_geom=LONLAT_BOX)
    with pytest.raises(MissingCRSError, match="must be in longitude/latitude"):
        write_district(db_conn, name="Zhongshan", working_crs=CRS, boundary_geom=rect(0, 40))
    with pytest.raises(InputError, match="'EPSG:4326' is not projected"):
        write_district(db_conn, name="Zhongshan", working_crs="EPSG:4326", boundary_geom=LONLAT_BOX)
    with pytest.raises(NotFoundError, match=r"^no district with id 999999$"):
        write_communities(db_conn, 999_999, communities())


def test_twelve_thousand_units(db_conn: Connection) -> None:
    n = 12_000
    x = np.arange(n) % 120 * 10.0 + X0
    y = np.arange(n) // 120 * 10.0 + Y0
    many = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(n)], "households": 3, "population": 8},
        geometry=shapely.points(x, y),
        crs=CRS,
    )
    district_id = write_district(db_conn, name="Big", working_crs=CRS, boundary_geom=LONLAT_BOX)
    assert write_units(db_conn, district_id, many, {}) == n
    count = select(func.count()).select_from(Unit).where(Unit.district_id == district_id)
    assert db_conn.execute(count).scalar() == n


def test_orm_session_joins_the_test_transaction(db_session: Session) -> None:
    db_session.add(AppUser(name="ops", role="admin"))
    db_session.commit()  # a savepoint, rolled back with the test
    assert db_session.scalars(select(AppUser.name)).all() == ["ops"]


def test_unreachable_database_is_unavailable(unused_port: int) -> None:
    engine = create_engine(f"postgresql://commgrid:s3cret@127.0.0.1:{unused_port}/commgrid", poolclass=pool.NullPool)
    with (
        pytest.raises(DatabaseUnavailableError, match=rf"127\.0\.0\.1:{unused_port}.*server is running") as info,
        connect(engine),
    ):
        pass
    assert "s3cret" not in str(info.value)


def test_other_drivers_are_refused() -> None:
    with pytest.raises(CommgridError, match=re.escape("needs 'postgresql+psycopg'")):
        create_engine("sqlite:///x.db")


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
