"""Writing a file whole or not at all: one helper for every output commgrid writes.

The content goes to a hidden temporary file beside the target (same folder, so the
rename never crosses file systems; same suffix, so writers that pick a format by the
name still do), which is renamed over the target only once the writer returns. A writer
that fails leaves the target as it was and no temporary file behind, and a failure of the
file system (disk full, no permission, GDAL's own write errors) is an
:class:`~gis.errors.OutputError` naming the file, not a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gis.errors import OutputError

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
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError

    path = Path(path)
    if path.exists() and not path.is_file():
        # renaming over it would replace a device or a folder's entry (as root, even /dev/full)
        raise OutputError(f"cannot write {path}: it exists and is not a regular file; give a file path")
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except (OSError, DataSourceError, DataLayerError, FeatureError, FieldError, GeometryError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
        raise OutputError(
            f"cannot write {path}: {reason}. Nothing was left half-written; free some space or choose another "
            "folder, and run the command again"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
