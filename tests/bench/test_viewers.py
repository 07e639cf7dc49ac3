"""streamdash.bench.viewers: simulated viewers count whatever a server does to their requests
(errors, drops, hangs, refusals, closes) as figures, and never raise for it."""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from streamdash.bench.viewers import OUTCOMES, run_viewers
from streamdash.bench.web_servers import build_app, free_port

#: Seconds a viewer waits for an answer in these tests (a hung answer costs this much).
TIMEOUT = 0.5
REFRESH = 0.2
DURATION = 2.0


@pytest.fixture(scope="module")
def app():
    return build_app(10)


def answer(status: int, body: bytes = b"", close: bool = False) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def scripted(plan: list[str]):
    """A connection handler answering each request by the next step of ``plan``, in turn."""
    steps = itertools.cycle(plan)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(int(re.search(rb"Content-Length: (\d+)", head)[1]))
                step = next(steps)
                if step == "drop":  # the connection ends in the middle of the answer
                    writer.write(b"HTTP/1.1 200 X\r\nContent-Le")
                    await writer.drain()
                    return
                if step == "hang":
                    await asyncio.sleep(3600)
                writer.write({"ok": answer(204), "error": answer(500, b"boom"),
                              "close": answer(204, close=True), "idle_close": answer(204),
                              "invalid": answer(200, b"not json")}[step])
                await writer.drain()
                if step in ("close", "idle_close"):  # idle_close: closed without saying so
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # the viewer left, or the test ended during a hang
        finally:
            writer.close()
    return handle


def run(app, plan: list[str] | None, viewers: int = 4):
    """Run viewers against a scripted server (``None``: a port nobody listens on)."""
    marks: list[str] = []

    async def scenario():
        if plan is None:
            return await run_viewers(app, free_port(), viewers, REFRESH, DURATION, TIMEOUT,
                                     marks.append)
        server = await asyncio.start_server(scripted(plan), "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await run_viewers(app, port, viewers, REFRESH, DURATION, TIMEOUT,
                                     marks.append)
    tally = asyncio.run(scenario())
    assert marks == ["start", "end"]
    return tally


def test_every_failure_kind_is_counted_not_raised(app):
    """Errors, undecodable answers, drops and hangs are each counted by kind inside the
    window; only answered requests have latencies; a tick with a failure has none."""
    tally = run(app, ["ok", "error", "ok", "invalid", "ok", "drop", "ok", "hang", "close"])
    for outcome in ("ok", "http_error", "invalid", "dropped", "timeout"):
        assert tally.outcomes[outcome] > 0, (outcome, tally.outcomes)
    assert set(tally.outcomes) <= set(OUTCOMES)
    assert tally.failed == sum(tally.outcomes.values()) - tally.outcomes["ok"]
    assert len(tally.requests) == tally.outcomes["ok"]
    assert tally.reconnects["asked"] > 0  # "Connection: close", then a new connection
    assert len(tally.ticks) < sum(tally.outcomes.values()) / 2


def test_a_server_that_is_gone_is_counted_as_refused(app):
    """Nobody listening: every request of the window is refused, none answered."""
    tally = run(app, None, viewers=2)
    assert tally.outcomes["refused"] > 0 and set(tally.outcomes) == {"refused"}
    assert tally.requests == [] and tally.ticks == []


def test_a_kept_alive_connection_closed_meanwhile_is_retried(app):
    """A server closing idle connections without saying so costs a reconnection, not a
    failure: the viewer retries on a new connection, as a browser does."""
    tally = run(app, ["idle_close"])
    assert tally.failed == 0 and tally.outcomes["ok"] > 0
    assert tally.reconnects["stale"] > 0 and tally.reconnects["asked"] == 0
