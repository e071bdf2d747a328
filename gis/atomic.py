"""Writing a file whole or not at all: one helper for every output commgrid writes.

The content goes to a hidden temporary file beside the target (same folder, so the
rename never crosses file systems; same suffix, so writers that pick a format by the
name still do), which is renamed over the target only once the writer returns. A writer
that fails leaves the target as it was and no temporary file behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` with a temporary path, then rename it onto ``path``; return ``path``.

    Parameters
    ----------
    path
        The target; its folder is created when missing, an existing file is replaced.
    write
        Writes the whole content to the path it is given (which does not exist yet).

    Examples
    --------
    >>> write_atomically(tmp / "a.txt", lambda p: p.write_text("hello"))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
