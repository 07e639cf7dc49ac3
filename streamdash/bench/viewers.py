"""Simulated dashboard viewers over real HTTP: the load generator of ``bench dashboard``.

Each :class:`Viewer` is one browser tab on its own keep-alive connection (asyncio, so a
thousand viewers cost the load generator little and do not distort the latencies it measures).
Every ``refresh`` s it sends a tick's callbacks with its own client state, like the browser's
``dcc.Store``.

Nothing a server does ends the benchmark: every request ends as one of :data:`OUTCOMES`, counted
in a :class:`Tally`. Like a browser, a viewer opens a new connection after a failure or after
the server asked to close (``Connection: close``), and retries once a request that met a
kept-alive connection the server had closed meanwhile (a browser does the same for a stale
socket: the server never saw that request).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..dashboard.replay import UPDATE_URL, callback_body, decode

#: Outputs identifying the callbacks a browser sends on every tick, with the store holding
#: that callback's client state (``None``: stateless).
TICK_CALLBACKS = (("series-state.data", "series-state.data"),
                  ("client-state.data", "client-state.data"))
BROWSER_VALUES = {"value-field.value": "temperature", "key-field.value": "sensor",
                  "refresh-picker.value": 5}
#: How a request ended: answered (200/204), an HTTP error status, an answer that is not a
#: callback's, the connection closed or reset before the whole answer, no whole answer within
#: the request timeout, no connection at all.
OUTCOMES = ("ok", "http_error", "invalid", "dropped", "timeout", "refused")
#: Longest response head read (the server's answer to a callback has a few short headers).
MAX_HEAD = 64 * 1024


@dataclass
class Tally:
    """What the viewers measured inside the window: latencies of answered requests and of
    whole ticks (every request answered), every failure by outcome, and reconnections."""

    requests: list[float] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    # New connections after the server closed one: "asked" (Connection: close) or "stale"
    # (a kept-alive connection found closed when the next request was sent).
    reconnects: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        """Requests that did not get an answer (any outcome but ``ok``)."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "ok")


class Window:
    """When to measure, in the event loop's clock: ``start`` … ``end`` (infinite until set)."""

    def __init__(self) -> None:
        self.start = self.end = float("inf")

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


class Viewer:
    """One simulated browser tab; ``run()`` until the window ends. ``loaded`` is set after its
    first tick was tried (the page load, which receives the whole figure), failed or not."""

    def __init__(self, app: Any, port: int, refresh: float, timeout: float, window: Window,
                 tally: Tally):
        self.app, self.port, self.refresh, self.timeout = app, port, refresh, timeout
        self.window, self.tally = window, tally
        self.values: dict[str, Any] = {**BROWSER_VALUES, "tick.n_intervals": 0}
        self.loaded = asyncio.Event()
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reused = False  # the connection has served a request before

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # Independent viewers have independent phases: each keeps its own slot in the
        # refresh period (a slot missed while the server was busy is skipped, not
        # stacked), so a slow start cannot synchronise every viewer into one burst.
        next_tick = loop.time() + random.uniform(0, self.refresh)
        try:
            while True:
                await asyncio.sleep(max(0.0, next_tick - loop.time()))
                began = loop.time()
                if began >= self.window.end:
                    return
                measured = self.window.covers(began)
                if await self.tick(measured) and measured:
                    self.tally.ticks.append(loop.time() - began)
                self.loaded.set()
                self.values["tick.n_intervals"] += 1
                next_tick += self.refresh
                while next_tick < loop.time():
                    next_tick += self.refresh
        finally:
            self.loaded.set()
            self.close()

    async def tick(self, measured: bool) -> bool:
        """Send every callback of one tick; True when all were answered."""
        answered = True
        for out, store in TICK_CALLBACKS:
            body = json.dumps(callback_body(self.app, out, self.values)).encode()
            t0 = time.perf_counter()
            outcome, status, data = await self.request(body)
            if outcome == "ok" and status == 200 and store:
                try:
                    self.values[store] = decode(data).get(store, self.values.get(store))
                except (ValueError, KeyError, TypeError, AttributeError):
                    outcome = "invalid"
            if measured:
                self.tally.outcomes[outcome] += 1
                if outcome == "ok":
                    self.tally.requests.append(time.perf_counter() - t0)
            answered &= outcome == "ok"
        return answered

    async def request(self, body: bytes) -> tuple[str, int, bytes]:
        """POST one callback: ``(outcome, status, body)``; never raises for the server's doing."""
        for _ in range(2):
            retry = self.conn is not None and self.reused
            if self.conn is None:
                try:
                    self.conn = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", self.port), self.timeout)
                except (OSError, asyncio.TimeoutError):
                    return "refused", 0, b""
                self.reused = False
            try:
                status, headers, data = await asyncio.wait_for(
                    http_post(*self.conn, UPDATE_URL, body), self.timeout)
            except asyncio.TimeoutError:
                self.close()
                return "timeout", 0, b""
            except NoAnswer:
                self.close()
                if retry:  # a stale kept-alive connection: the server never saw the request
                    self.tally.reconnects["stale"] += 1
                    continue
                return "dropped", 0, b""
            except (OSError, EOFError, ValueError, IndexError, asyncio.LimitOverrunError):
                self.close()
                return "dropped", 0, b""
            self.reused = True
            if headers.get("connection", "").lower() == "close":
                self.close()
                self.tally.reconnects["asked"] += 1
            return ("ok" if status in (200, 204) else "http_error"), status, data
        return "dropped", 0, b""

    def close(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None


class NoAnswer(Exception):
    """The connection ended before the first byte of an answer."""


async def http_post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                    body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 keep-alive POST of a JSON body; returns (status, headers, body).

    Raises :class:`NoAnswer` when the connection ended before any byte of the answer.
    """
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        raise NoAnswer from None
    except ConnectionError:
        raise NoAnswer from None
    if len(head) > MAX_HEAD:
        raise ValueError("response head too long")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]
                                                            if ln)}
    length = int(headers.get("content-length", 0))
    return status, headers, await reader.readexactly(length) if length else b""


async def run_viewers(app: Any, port: int, viewers: int, refresh: float, duration: float,
                      timeout: float, on_measure: Any) -> Tally:
    """Run ``viewers`` viewers; measure ``duration`` s starting one refresh after every page
    load was tried. ``on_measure("start" | "end")`` marks the window (for CPU readings)."""
    loop = asyncio.get_running_loop()
    window, tally = Window(), Tally()
    tabs = [Viewer(app, port, refresh, timeout, window, tally) for _ in range(viewers)]
    tasks = [asyncio.create_task(tab.run()) for tab in tabs]
    await asyncio.gather(*(tab.loaded.wait() for tab in tabs))
    window.start = loop.time() + refresh
    window.end = window.start + duration
    await asyncio.sleep(max(0.0, window.start - loop.time()))
    on_measure("start")
    await asyncio.sleep(max(0.0, window.end - loop.time()))
    on_measure("end")
    await asyncio.gather(*tasks)
    return tally
