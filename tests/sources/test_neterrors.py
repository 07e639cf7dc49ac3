"""Network errors in a few words, and one console line per failed poll."""

from __future__ import annotations

import io

import pytest
import requests

from streamdash.config import Settings
from streamdash.logs import configure_logging
from streamdash.runtime import Runtime
from streamdash.sources.neterrors import short_reason
from tests.helpers import wait_until
from tests.httpserver import Reply, ScriptedServer

INTERVAL = 0.2
TRIES = 3


def test_refused_connection_is_its_cause_not_the_wrapper_chain(closed_port):
    """A refused connection reads 'Connection refused', without urllib3's pool and objects."""
    with pytest.raises(requests.ConnectionError) as exc:
        requests.get(f"http://127.0.0.1:{closed_port}/x", timeout=2)
    assert "HTTPConnectionPool" in str(exc.value)  # what requests says…
    assert short_reason(exc.value) == "Connection refused"  # …and what we say


def test_read_timeout_keeps_the_timeout():
    """A read timeout keeps its message and the timeout, nothing else."""
    with ScriptedServer() as srv:
        srv.route("/slow", Reply(delay=1.0))
        with pytest.raises(requests.Timeout) as exc:
            requests.get(srv.url("/slow"), timeout=0.2)
    reason = short_reason(exc.value)
    assert "timed out" in reason and "object at 0x" not in reason
    assert "HTTPConnectionPool" not in reason


def test_wrapped_causes_lose_object_reprs():
    """A wrapped urllib3 cause without an errno is unwrapped to its message."""
    text = ("HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: /x "
            "(Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at "
            "0x7f00>, 'Connection to h timed out. (connect timeout=3)'))")
    assert short_reason(Exception(text)) == "Connection to h timed out. (connect timeout=3)"
    assert short_reason(ValueError("")) == "ValueError"


def test_each_failed_poll_is_one_info_line(closed_port):
    """At INFO a failing HTTP source writes one line per failed poll (not one per retry plus
    the give-up), naming the URL and the cause in a few words."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    settings = Settings({"source": {
        "type": "http", "url": f"http://127.0.0.1:{closed_port}/data", "interval": INTERVAL,
        "fields": {"v": "v:float"}, "max_tries": TRIES, "backoff_base": 0.001,
        "backoff_max": 0.005}, "alerts": {"enabled": False}})
    runtime = Runtime(settings)
    try:
        runtime.start()
        wait_until(lambda: runtime.metrics.snapshot()["counters"].get("fetch_errors", 0) >= 2,
                   timeout=30 * INTERVAL, what="two failed polls")
    finally:
        runtime.stop()
    lines = [line for line in stream.getvalue().splitlines() if "runtime st" not in line
             and "pipeline summary" not in line]
    polls = runtime.metrics.snapshot()["counters"]["fetch_errors"]
    assert len(lines) == polls, lines
    assert all("WARNING streamdash.pipeline fetch failed" in line for line in lines)
    assert f"127.0.0.1:{closed_port}/data" in lines[0] and "Connection refused" in lines[0]
    assert "HTTPConnectionPool" not in stream.getvalue() and "object at 0x" not in lines[0]
    assert runtime.ingest_errors.recent()[0]["attempt"] == TRIES  # every attempt still kept
