"""``streamdash bench history --postgres URL``: the SQLite history against the PostgreSQL one.

For each backend: a day of metrics snapshots (every ``interval`` s, all ``SNAPSHOT_FIELDS``,
ending now) is queued at once and timed until the writer thread has them all in the database
(snapshot writes/s, batched as the product batches them), then ``/api/metrics`` over those 24 h
is timed through the real routes (Flask's test client, a runtime that is not started, so every
answer comes from the database): downsampled as the dashboard asks (``step``, every name) and
raw (two names, one page). PostgreSQL runs in a schema of its own (``storage.schema``), dropped
afterwards. Nothing is asserted: timings belong in docs/benchmarks.md.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from typing import Any

from ..config import Settings
from ..reporter import SNAPSHOT_FIELDS
from ..store.history import StorageOptions, open_history

DAY = 86_400.0
#: The 24 h queries: every name downsampled to 5 min buckets (288 points each, within the
#: API's 10,000 values a page), and two names raw; each also timed as the reader's call alone
#: (the database's share of the answer).
QUERIES = {"24h step=5m, all names": "/api/metrics?since=24h&step=5m",
           "24h raw, 2 names": "/api/metrics?since=24h&name=throughput_in,latency_p95"
                               "&limit=5000"}
READS = {"24h step=5m, all names":
         lambda r, now: r.metric_buckets(SNAPSHOT_FIELDS, now - DAY, now, 300.0),
         "24h raw, 2 names":
         lambda r, now: r.metric_page(["throughput_in", "latency_p95"], now - DAY, now, 5001)}


def snapshots(count: int, interval: float, seed: int = 1) -> list[tuple[float, dict[str, Any]]]:
    """``count`` snapshots ``interval`` s apart ending now, random values for every field."""
    rng, now = random.Random(seed), time.time()
    return [(now - (count - i) * interval,
             {f: round(rng.random() * 100, 6) for f in SNAPSHOT_FIELDS}) for i in range(count)]


def write(location: str, options: StorageOptions, rows: list[tuple[float, dict]]) -> float:
    """Seconds from queueing ``rows`` to all of them being in the database."""
    history = open_history(location, options)
    history.start()
    try:
        while history.status()["written"] < 1:  # the run row: the schema is there
            time.sleep(0.005)
        began = time.perf_counter()
        for ts, values in rows:
            history.record_snapshot(values, ts=ts)
        while history.status()["written"] < len(rows) + 1:
            if history.status()["dropped"]:
                raise RuntimeError(f"the writer dropped rows: {history.status()}")
            time.sleep(0.002)
        return time.perf_counter() - began
    finally:
        history.stop()


def timed(call: Any, repeat: int) -> tuple[list[float], Any]:
    """Seconds of ``repeat`` calls after one that warms caches (and the connection), and the
    last call's result."""
    result = call()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return times, result


def query_ms(settings: dict[str, Any], repeat: int) -> dict[str, dict[str, float]]:
    """Median and best milliseconds of each of :data:`QUERIES` (and of its reader call
    alone), and its answer's size."""
    from flask import Flask

    from ..runtime import Runtime
    from ..server.routes import register_routes
    from ..testing import ListSource

    runtime = Runtime(Settings(settings), ListSource([], name="bench"))
    app = Flask("bench-history")
    register_routes(app, runtime)
    client = app.test_client()
    out = {}
    for label, path in QUERIES.items():
        times, reply = timed(lambda p=path: client.get(p), repeat)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {reply.status_code} {reply.get_data()[:200]}")
        now = time.time()
        sql, _ = timed(lambda f=READS[label], t=now: f(runtime.history.reader, t), repeat)
        out[label] = {"median_ms": statistics.median(times) * 1e3, "best_ms": min(times) * 1e3,
                      "bytes": len(reply.get_data()), "sql_ms": statistics.median(sql) * 1e3}
    return out


def measure(backend: str, settings: dict[str, Any], location: str, count: int,
            interval: float, repeat: int) -> dict[str, Any]:
    """The figures of one backend."""
    options = StorageOptions(**{"queue_size": count + 10, **settings.get("storage", {}),
                                "backend": backend})
    seconds = write(location, options, snapshots(count, interval))
    return {"backend": backend, "snapshots": count, "write_s": seconds,
            "snapshots_per_s": count / seconds, "queries": query_ms(settings, repeat)}


def compare(postgres_url: str | None, count: int = 8640, interval: float = 10.0,
            repeat: int = 5) -> list[dict[str, Any]]:
    """SQLite (a temporary data dir), then PostgreSQL at ``postgres_url`` when given."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        out.append(measure("sqlite", {"data_dir": tmp}, f"sqlite:{tmp}", count, interval,
                           repeat))
    if postgres_url:
        schema = f"streamdash_bench_{int(time.time() * 1000) % 10**9}"
        storage = {"backend": "postgres", "url": postgres_url, "schema": schema}
        try:
            out.append(measure("postgres", {"storage": storage}, postgres_url, count,
                               interval, repeat))
        finally:
            drop_schema(postgres_url, schema)
    return out


def drop_schema(url: str, schema: str) -> None:
    """Remove the benchmark's schema and its tables."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def report(results: list[dict[str, Any]]) -> str:
    """One line per backend: write rate, then each query's median (best) and size."""
    lines = []
    for r in results:
        queries = "; ".join(f"{label} {q['median_ms']:.1f} ms median ({q['best_ms']:.1f} best, "
                            f"{q['bytes'] / 1024:.0f} KB; the reader's query "
                            f"{q['sql_ms']:.1f} ms)" for label, q in r["queries"].items())
        lines.append(f"history {r['backend']}: {r['snapshots']:,} snapshots written in "
                     f"{r['write_s']:.2f} s = {r['snapshots_per_s']:,.0f} snapshots/s; "
                     f"/api/metrics {queries}")
    return "\n".join(lines)
