"""A thread-safe LRU cache bounded by entry count and by total bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class CacheInfo:
    """Counters of an ``LRUCache``."""

    hits: int
    misses: int
    entries: int
    bytes: int


class LRUCache(Generic[V]):
    """Least-recently-used cache; evicts the oldest entries past either bound.

    Args:
        max_entries: Most entries kept; 0 keeps nothing.
        max_bytes: Most bytes kept, as measured by ``size_of``; an entry larger than
            this on its own is not stored.
        size_of: Size of a value in bytes.
    """

    def __init__(self, max_entries: int, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """Return the value for ``key`` and mark it recently used, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return item[0]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` under ``key``, evicting least-recently-used entries as needed."""
        size = self._size_of(value)
        if self._max_entries == 0 or size > self._max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self._max_entries or self._bytes > self._max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def info(self) -> CacheInfo:
        """Return hit and miss counts and the current size."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._items), self._bytes)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
