"""A bounded in-memory cache of rendered tiles, checked against data versions on every hit."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from threading import Lock

__all__ = ["CachedTile", "TileCache"]


@dataclass(frozen=True)
class CachedTile:
    """A rendered tile with the data versions it was made from."""

    versions: tuple[int, ...]
    etag: str
    body: bytes


class TileCache:
    """Least-recently-used tiles up to a byte budget.

    A hit counts only when the stored versions equal the caller's current ones, so a
    tile made before a change is never returned after it. A mismatch leaves the entry
    alone: concurrent requests may hold different versions, and the newer tile must
    not be dropped by a request that started earlier; the next render overwrites it.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedTile] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, versions: tuple[int, ...]) -> CachedTile | None:
        """The tile under ``key`` if it was made from ``versions``, else ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.versions != versions:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, tile: CachedTile) -> None:
        """Keep ``tile``, evicting the least recently used ones beyond the budget."""
        size = len(tile.body)
        if size > self.max_bytes or self.max_bytes == 0:  # a budget of 0 turns the cache off
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = tile
            self._bytes += size
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: Hashable) -> None:
        self._bytes -= len(self._entries.pop(key).body)
