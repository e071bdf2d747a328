"""Column names of commgrid's normalised frames, shared by every package.

Readers in ``gis.io`` map the user's field names (``--households H_CNT``) onto these,
so ``partition``, ``tiles`` and ``api`` never see a source-specific name.
"""

# units: small areas (polygons) or address/building points
UNIT_ID = "unit_id"
HOUSEHOLDS = "households"
POPULATION = "population"
COMPOUND = "compound"  # residential compound id; units sharing one never split
BUILDING = "building"  # building id (optional)
COMMUNITY = "community"  # community (container) id the unit belongs to

# communities: the containers grids nest in
COMMUNITY_ID = "community_id"
COMMUNITY_NAME = "name"
ADMIN_CODE = "admin_code"  # 12 digits: 6 county + 3 street + 3 community, when known

# barriers: roads, rivers, railways
BARRIER_CLASS = "barrier_class"
HARD = "hard"  # bool: never crossed by a grid

# grids (partition output)
GRID_CODE = "code"
GRID_UNITS = "units"
POLSBY_POPPER = "polsby_popper"
STATUS = "status"
REASON = "reason"

# grid statuses
STATUS_OK = "ok"
STATUS_OUT_OF_RANGE = "out_of_range"
STATUS_OVERSIZED = "oversized_unit"

HARD_BARRIER_CLASSES = frozenset({"river", "railway", "rail", "expressway", "motorway", "canal"})

__all__ = [
    "ADMIN_CODE",
    "BARRIER_CLASS",
    "BUILDING",
    "COMMUNITY",
    "COMMUNITY_ID",
    "COMMUNITY_NAME",
    "COMPOUND",
    "GRID_CODE",
    "GRID_UNITS",
    "HARD",
    "HARD_BARRIER_CLASSES",
    "HOUSEHOLDS",
    "POLSBY_POPPER",
    "POPULATION",
    "REASON",
    "STATUS",
    "STATUS_OK",
    "STATUS_OUT_OF_RANGE",
    "STATUS_OVERSIZED",
    "UNIT_ID",
]
