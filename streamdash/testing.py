"""Test doubles shipped with the package: scripted sources and a controllable clock."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .errors import SourceError
from .sources.base import FieldHints, Source


class ListSource(Source):
    """Returns scripted batches in order, then empty batches (or repeats with ``loop``).

    A batch that is an ``Exception`` instance is raised instead of returned, to script failures.
    """

    kind = "list"
    hints = FieldHints(value_field="value", key_field="key", time_field="ts", required=("id",))

    def __init__(self, batches: Iterable[Any], name: str = "list", loop: bool = False):
        super().__init__(name)
        self.batches = list(batches)
        self.loop = loop
        self.calls = 0
        self._lock = threading.Lock()

    def fetch(self) -> list[dict[str, Any]]:
        with self._lock:
            i = self.calls
            self.calls += 1
        if i >= len(self.batches):
            if not self.loop or not self.batches:
                return []
            i %= len(self.batches)
        item = self.batches[i]
        if isinstance(item, BaseException):
            raise item
        return [dict(r) if isinstance(r, dict) else r for r in item]


class FailingSource(Source):
    """Always fails with a ``SourceError`` (a source that is down)."""

    kind = "failing"

    def fetch(self) -> list[dict[str, Any]]:
        raise SourceError("source unreachable", source=self.name, kind="connection")


class FakeClock:
    """A manual clock: ``clock()`` returns the current time, ``advance(s)`` moves it."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self.now += seconds
            return self.now
