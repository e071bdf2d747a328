"""The one error hierarchy of commgrid.

Every error a user can cause or meet carries what went wrong and where, plus the
HTTP status and command-line exit code the edges translate it to. Only the edges
(``api/errors.py`` and the CLI's ``main()``) translate; everything below raises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ACTIONS",
    "AmbiguousError",
    "BusyError",
    "CommgridError",
    "ConflictError",
    "CountError",
    "DatabaseUnavailableError",
    "DuplicateIdError",
    "FormatError",
    "GeometryError",
    "InputError",
    "MissingCRSError",
    "NotFoundError",
    "OutputError",
    "OutsideBoundaryError",
    "RetryLaterError",
    "feature_positions",
]


# What a user can do next, named neutrally: each edge words it in its own language (a CLI
# command in api/cli/_common.py, an HTTP request in api/errors.py), so the store never names either.
ACTIONS = frozenset(
    {
        "add_district",
        "add_grid_leader",
        "add_user",
        "assign_worker",
        "dump",
        "handoff",
        "incident_taxonomy",
        "list_communities",
        "list_incidents",
        "list_workers",
        "partition",
        "patrol_rule",
        "publish_plan",
        "register_device",
        "upgrade_store",
    }
)


class CommgridError(Exception):
    """Base of every error commgrid raises on purpose.

    Parameters
    ----------
    message
        A sentence for a person: what happened, the value, what was expected and the fix,
        in words that hold for every caller (no command-line flags, no URLs).
    option
        The setting that fixes it (``"crs"``, ``"timezone"``, ``"missing_counts"``): the
        command line names its flag, the API its parameter.
    see
        One of :data:`ACTIONS`, the step to take next; the edge names the command or request.
    """

    option: str | None = None
    see: str | None = None

    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str, *, option: str | None = None, see: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if option is not None:
            self.option = option
        if see is not None:
            if see not in ACTIONS:
                raise ValueError(f"unknown action {see!r}; add it to gis.errors.ACTIONS")  # a bug, not input
            self.see = see

    def __str__(self) -> str:
        return self.message


class InputError(CommgridError):
    """Bad input data: names the file, the feature (index and id) and the field.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    file
        The input file (or a description such as ``"units"`` for in-memory frames).
    index
        Position(s) of the offending feature(s) in the file, 0-based.
    feature_id
        Id value(s) of the offending feature(s), when the data has an id field.
    field
        The offending field (column), if any.
    """

    http_status = 400
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        index: int | list[int] | None = None,
        feature_id: Any = None,
        field: str | None = None,
        option: str | None = None,
        see: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.index = index
        self.feature_id = feature_id
        self.field = field
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if index is not None:
            where.append(f"feature {_short(index)}")
        if feature_id is not None:
            where.append(f"id {_short(feature_id)}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message, option=option, see=see)

    @classmethod
    def of_features(
        cls, frame: Any, mask: Any, message: str, *, file: str | Path, id_field: str | None = None, **where: Any
    ) -> InputError:
        """The error naming the features ``mask`` selects in ``frame``: "N features have <message>".

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"id": ["a", "b", "c"]})
        >>> print(InputError.of_features(frame, frame["id"] != "b", "a bad value", file="u.csv", id_field="id"))
        file 'u.csv', feature [0, 2], id [a, c]: 2 features have a bad value
        """
        positions, ids = feature_positions(frame, mask, id_field)
        have = "1 feature has" if len(positions) == 1 else f"{len(positions)} features have"
        return cls(f"{have} {message}", file=file, index=positions, feature_id=ids, **where)

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data, for API bodies and reports."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "index": self.index,
            "feature_id": self.feature_id,
            "field": self.field,
        }


def feature_positions(frame: Any, mask: Any, id_field: str | None) -> tuple[list[int], list[Any] | None]:
    """Positions (0-based) and ids (when ``frame`` has ``id_field``) of the features ``mask`` selects."""
    import numpy as np

    positions = np.flatnonzero(np.asarray(mask))
    ids = frame[id_field].iloc[positions].tolist() if id_field is not None and id_field in frame.columns else None
    return positions.tolist(), ids


def _short(value: Any, limit: int = 10) -> str:
    """Show a value or the first few of a list, so messages stay readable."""
    if isinstance(value, (list, tuple)):
        shown = ", ".join(str(v) for v in value[:limit])
        more = f" and {len(value) - limit} more" if len(value) > limit else ""
        return f"[{shown}{more}]"
    return str(value)


class FormatError(InputError):
    """A file that cannot be read as the format it claims (truncated, missing parts, empty)."""


class MissingCRSError(InputError):
    """Data without a coordinate reference system, or with one that cannot be right."""


class CountError(InputError):
    """Household or resident counts that are blank, negative, fractional or not numbers."""


class DuplicateIdError(InputError):
    """The same unit or community id on more than one feature."""


class GeometryError(InputError):
    """Empty, missing or irreparable geometries."""


class OutsideBoundaryError(InputError):
    """Units that lie outside the district boundary or their community."""


class AmbiguousError(InputError):
    """A request that leaves a choice open (which district, which plan) the store cannot make.

    ``field`` names what to give (``"district"``, ``"plan"``); the edge that catches the
    error says how in its own language (a command-line option, a query parameter), so the
    message ends where that hint goes ("...; name one").
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(CommgridError):
    """A plan, grid, collection or record that does not exist."""

    http_status = 404
    exit_code = 2


class ConflictError(CommgridError):
    """A change that conflicts with the stored state (stale version, invalid transition)."""

    http_status = 409


class RetryLaterError(CommgridError):
    """The service cannot do this now but will soon: the edges answer 503 with ``Retry-After``."""

    http_status = 503


class DatabaseUnavailableError(RetryLaterError):
    """The store cannot be reached; callers may retry."""


class BusyError(RetryLaterError):
    """The service is doing as much of this work as it takes at once; callers may retry shortly."""


class OutputError(CommgridError):
    """A file commgrid was asked to write cannot be written: a full disk, no permission, not a file."""

    exit_code = 2
