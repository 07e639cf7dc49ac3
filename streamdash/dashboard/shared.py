"""What every viewer of a dashboard shares: one value per name, built once per data version.

A thousand browsers ask every refresh period for the same things (the KPI texts, the tables,
the overview). :class:`SharedValues` keeps, per name, the value built for the newest version
key; every request carrying that key gets the same object, built once under a lock (many
concurrent viewers → one computation, no pile-up). The least recently used names are dropped
past ``size``: that bound, not the callers, is what stops names derived from a browser's
request from growing memory (issue 13: 150 requests, +1.2 GB).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any


class SharedValues:
    """A bounded map name → (version key, value); see the module docstring.

    Keys are compared with ``==`` (a snapshot object of the current version is the cheapest
    key: equal to itself at once). The lock is reentrant, so a value built under it may read
    other shared values.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"SharedValues needs room for at least one value, got {size}")
        self.size = size
        self._lock = threading.RLock()
        self._values: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()

    def get(self, name: Hashable, key: Any, build: Callable[[], Any]) -> Any:
        """The value kept under ``name`` for ``key``; built by ``build()`` (once, under the
        lock) when the name is new or its key changed."""
        with self._lock:
            hit = self._values.get(name)
            if hit is not None and hit[0] == key:
                self._values.move_to_end(name)
                return hit[1]
            value = build()
            self._values[name] = (key, value)
            self._values.move_to_end(name)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            return value

    @property
    def lock(self) -> threading.RLock:
        """The lock builds run under (callers holding it may read several values at once)."""
        return self._lock

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Hashable]:
        """The names kept now (a copy: safe while others add)."""
        with self._lock:
            return iter(list(self._values))
