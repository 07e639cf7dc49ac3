"""Fixtures for the quality tests: a webhook receiver on 127.0.0.1 and fake-clock scenarios.

A ``Scenario`` is a started Runtime with its real threads and a fake wall clock. To make every
timestamp exact, the test is the scheduler: the source interval and the monitor interval are
long, and each step advances the clock, fetches through the real producer (``fetch_once``),
waits until the consumer and the monitor's batch listener have handled everything, then
evaluates.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.sources.simulator import FAULTS, SimulatedSource
from streamdash.testing import FakeClock
from tests.helpers import wait_until

T0 = 1_700_000_000.0
CLEAN = {fault: 0.0 for fault in FAULTS}


class Receiver:
    """A local HTTP server recording POSTed JSON; ``mode`` is ``ok``, ``fail`` or ``hang``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.bodies: list[dict] = []
        self.attempts = 0
        self.release = threading.Event()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.attempts += 1
                    receiver._cond.notify_all()
                if receiver.mode == "hang":
                    receiver.release.wait(10)
                    return
                code = 500 if receiver.mode == "fail" else 200
                if code == 200:
                    with receiver._cond:
                        receiver.bodies.append(json.loads(body))
                        receiver._cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/secret-token-123"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked on every request)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A running local webhook receiver, closed after the test."""
    r = Receiver()
    yield r
    r.close()




class Scenario:
    """A started Runtime driven step by step under a fake clock."""

    def __init__(self, source, rules: list[dict], *, window: float = 2.0, processor=None,
                 clock: FakeClock | None = None, settings: dict | None = None):
        self.clock = clock or FakeClock(T0)
        settings = Settings({"source.interval": 3600,
                             "alerts": {"interval": 3600, "window": window, "baseline": 0,
                                        "rules": rules}, **(settings or {})})
        self.rt = Runtime(settings, source, processor, clock=self.clock)
        self.monitor = self.rt.monitor
        self.rt.start()
        # The producer's own first fetch (at start) must be over before the steps' fetches:
        # finishing late, under load, it recorded its success at the start time after theirs
        # (the source looked down one step early).
        wait_until(lambda: self.rt.source_health.snapshot()["last_attempt"] is not None)
        self.settle()

    def settle(self) -> None:
        """Wait until every fetched batch went through the consumer and the batch listener."""
        m = self.rt.metrics
        wait_until(lambda: m.counter("batches_processed") >= m.counter("batches_in")
                   and self.monitor.stats.snapshot()["accepted"] >= m.counter("records_accepted"))

    def step(self, seconds: float = 1.0, fetches: int = 1) -> list[dict]:
        """Advance the clock, fetch ``fetches`` batches, settle, evaluate; returns transitions."""
        self.clock.advance(seconds)
        for _ in range(fetches):
            self.rt.producer.fetch_once()
        self.settle()
        return self.monitor.evaluate()

    def run(self, steps: int, **kw) -> list[dict]:
        """Several steps; all their transitions in order."""
        out = []
        for _ in range(steps):
            out += self.step(**kw)
        return out

    def close(self) -> None:
        self.rt.stop(timeout=1)


@pytest.fixture
def scenarios():
    """Creates scenarios and stops their runtimes after the test."""
    made: list[Scenario] = []

    def make(*a, **kw) -> Scenario:
        made.append(Scenario(*a, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def simulator(clock: FakeClock, **rates: float) -> SimulatedSource:
    """A deterministic simulator on the fake clock with every fault off unless given."""
    return SimulatedSource(seed=7, batch_size=50, spread=1.0, clock=clock,
                           **{**CLEAN, **rates})
