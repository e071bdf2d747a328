"""Vancouver as a stored district whose published grids are its 22 neighbourhoods, and its crime types.

Real data from ``../shared/data/crime_incidents_vancouver_chicago`` (read in place, never copied).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

FOLDER = "crime_incidents_vancouver_chicago"

# the Vancouver police's TYPE values → codes of the default taxonomy
CATEGORIES = {
    "Theft from Vehicle": "public_security.theft.from_vehicle",
    "Other Theft": "public_security.theft.other",
    "Mischief": "public_security.vandalism",
    "Offence Against a Person": "public_security.assault",
    "Break and Enter Commercial": "public_security.theft.burglary",
    "Break and Enter Residential/Other": "public_security.theft.burglary",
    "Theft of Bicycle": "public_security.theft.bicycle",
    "Theft of Vehicle": "public_security.theft.vehicle",
    "Vehicle Collision or Pedestrian Struck (with Injury)": "public_security.traffic",
    "Vehicle Collision or Pedestrian Struck (with Fatality)": "public_security.traffic",
    "Homicide": "public_security.assault",
}
MAPPING = {
    "category": "TYPE",
    "x": "X",
    "y": "Y",
    "year": "YEAR",
    "month": "MONTH",
    "day": "DAY",
    "hour": "HOUR",
    "minute": "MINUTE",
    "description": "HUNDRED_BLOCK",
}


def store_vancouver(conn: Connection, shared_data: Path) -> int:
    """Store the district 'vancouver' and a published plan of its neighbourhoods (grid code = mapid)."""
    hoods = gpd.read_file(shared_data / FOLDER / "vancouver_neighbourhoods.geojson").to_crs(4326)
    boundary = shapely.union_all(hoods.geometry.make_valid())
    did = conn.execute(
        text(
            "INSERT INTO district (name, working_crs, boundary) "
            "VALUES ('vancouver', 'EPSG:26910', ST_Multi(ST_GeomFromText(:b, 4326))) RETURNING id"
        ),
        {"b": boundary.wkt},
    ).scalar_one()
    plan = conn.execute(
        text("INSERT INTO grid_plan (district_id, name, status) VALUES (:d, 'vancouver-v1', 'published') RETURNING id"),
        {"d": did},
    ).scalar_one()
    for code, name, geom in zip(hoods["mapid"], hoods["name"], hoods.geometry, strict=True):
        conn.execute(
            text(
                "INSERT INTO grid (plan_id, code, name, households, population, n_units, status, geom) "
                "VALUES (:p, :c, :n, 0, 0, 0, 'ok', ST_Multi(ST_GeomFromText(:g, 4326)))"
            ),
            {"p": plan, "c": str(code), "n": name, "g": geom.wkt},
        )
    return did
