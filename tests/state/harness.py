"""A runtime producing state and a reader of it, per backend (the contract tests' fixture)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.state import MemoryStream
from streamdash.testing import FakeClock, ListSource

T0 = 1_700_000_000.0
BACKENDS = ["memory"]


def recs(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "key": f"k{i % 2}", "value": float(i), "ts": T0 + i}
            for i in range(start, start + n)]


@dataclass
class Harness:
    """``runtime`` produces (tests feed its stores); ``stream`` reads; ``sync()`` makes what
    was produced visible to the reader (the memory backend reads in place: nothing to do)."""

    runtime: Runtime
    stream: Any
    clock: FakeClock
    closers: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, request: Any, backend: str) -> Harness:
        clock = FakeClock(T0)
        settings = Settings({"buffer.capacity": 10, "source.interval": 1})
        runtime = Runtime(settings, ListSource([]), clock=clock)
        return cls(runtime, MemoryStream(runtime), clock)

    def sync(self) -> None:
        """Nothing to do in memory."""

    def close(self) -> None:
        for close in self.closers:
            close()
        self.runtime.stop()
