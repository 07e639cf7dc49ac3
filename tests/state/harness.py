"""A runtime producing state and a reader of it, per backend (the contract tests' fixture).

``memory`` reads the runtime in place; ``redis`` publishes it with a ``StatePublisher`` to a
real redis-server (``redis_url``) and reads it back with a ``RedisStream`` on its own client,
as a web process would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.state import MemoryStream
from streamdash.testing import FakeClock, ListSource

T0 = 1_700_000_000.0
BACKENDS = ["memory", "redis"]


def recs(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "key": f"k{i % 2}", "value": float(i), "ts": T0 + i}
            for i in range(start, start + n)]


def redis_settings(url: str, **state: Any) -> Settings:
    """Settings of a small runtime whose state goes to ``url`` (reads not cached)."""
    return Settings({"buffer.capacity": 10, "source.interval": 1,
                     "state": {"backend": "redis", "url": url, "read_cache": 0,
                               "key_prefix": "t", **state}})


@dataclass
class Harness:
    """``runtime`` produces (tests feed its stores); ``stream`` reads; ``sync()`` makes what
    was produced visible to the reader (the memory backend reads in place: nothing to do)."""

    runtime: Runtime
    stream: Any
    clock: FakeClock
    publisher: Any = None
    closers: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, request: Any, backend: str, **state: Any) -> Harness:
        clock = FakeClock(T0)
        if backend == "memory":
            settings = Settings({"buffer.capacity": 10, "source.interval": 1})
            runtime = Runtime(settings, ListSource([]), clock=clock)
            return cls(runtime, MemoryStream(runtime), clock)
        from streamdash.state.build import attach_publisher, open_store
        from streamdash.state.memory import runtime_info

        url = state.pop("url", None) or request.getfixturevalue("redis_url")
        settings = redis_settings(url, **state)
        runtime = Runtime(settings, ListSource([]), clock=clock)
        publisher = attach_publisher(runtime, settings)
        store = open_store(settings, fallback=lambda name: runtime_info(runtime, name))
        store.stream().clock = clock
        return cls(runtime, store.stream(), clock, publisher,
                   [store.close, lambda: publisher.client.close()])

    def sync(self) -> None:
        """Publish what the runtime holds now (memory: nothing to do)."""
        if self.publisher is not None:
            assert self.publisher.flush(), self.publisher.error

    def close(self) -> None:
        self.runtime.stop()
        for close in self.closers:
            close()
