"""CSV that a spreadsheet opens as data: no cell of text starts a formula.

Spreadsheets run a cell beginning with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return before one) as a formula, so a worker named ``=cmd|' /C calc'!A0`` would run a
command on the reader's machine (OWASP, "CSV Injection"). Every CSV commgrid writes for
people goes through :func:`frame_to_csv`, which puts a ``'`` before such text, as OWASP
advises; numbers stay numbers (a negative distance is no formula). CSV written for
``COPY`` into the store is not for people and keeps its values as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "frame_to_csv", "neutralise"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with a ``'`` before it when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def frame_to_csv(frame: pd.DataFrame, **options: Any) -> str:
    """``frame.to_csv(**options)`` with every text cell and column name neutralised (see the module doc).

    Returns
    -------
    str
        The CSV text (``options`` may not name a file: the caller writes it).
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(**options)
