"""A bounded memo for search choices that depend on their key alone (``bounded.bounded_choice``,
``choose.placement_tilings``): B0 repeats layer shapes across calls (each hardware point a process maps, tests,
``simulate`` after ``run``). Least recently used entries are dropped beyond ``kept``. Threads of a Dask worker share
it; the computation runs outside the lock (two threads may compute the same key once each: equal results)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class LruMemo(Generic[T]):
    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``: remembered, or ``compute()`` remembered."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        got = compute()
        with self._lock:
            self._entries[key] = got
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)
        return got

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
