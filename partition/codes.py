"""Grid codes: numbered north to south, west to east inside each community.

With a 12-digit community admin code (6 county + 3 street + 3 community) a grid's
code is that plus a 3-digit sequence, the 15-digit form grid-management practice
uses; otherwise it is the community id, a dash and the sequence.
"""

from __future__ import annotations

import re

import numpy as np
import shapely

__all__ = ["grid_codes", "reading_order"]

_ADMIN = re.compile(r"^\d{12}$")


def reading_order(anchors: np.ndarray, band: float) -> np.ndarray:
    """Order points in rows of height ``band`` from north to south, west to east in a row.

    Examples
    --------
    >>> pts = shapely.points([(0, 0), (10, 0), (0, 100)])
    >>> reading_order(pts, 50.0).tolist()
    [2, 0, 1]
    """
    xy = shapely.get_coordinates(anchors)
    if len(xy) == 0:
        return np.array([], dtype=np.int64)
    top = xy[:, 1].max()
    row = np.floor((top - xy[:, 1]) / max(band, 1e-9)).astype(np.int64)
    return np.lexsort((xy[:, 1] * -1, xy[:, 0], row))


def grid_codes(community_id: str, admin_code: str | None, n: int) -> list[str]:
    """Codes for the ``n`` grids of one community in reading order.

    Examples
    --------
    >>> grid_codes("X", "440304001002", 2)
    ['440304001002001', '440304001002002']
    >>> grid_codes("6300100-001", None, 1)
    ['6300100-001-001']
    """
    if n > 999:
        raise ValueError(f"community {community_id!r} would get {n} grids; codes allow at most 999")
    if admin_code is not None and _ADMIN.match(str(admin_code)):
        return [f"{admin_code}{i:03d}" for i in range(1, n + 1)]
    return [f"{community_id}-{i:03d}" for i in range(1, n + 1)]
