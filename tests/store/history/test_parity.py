"""The two backends give the same answers: the same writes into SQLite and PostgreSQL, then
every history endpoint (/api/metrics raw, paged and downsampled, /api/errors, /api/dlq,
/api/alerts, /api/windows), ``streamdash metrics`` and ``streamdash dlq export`` compared
answer by answer; and ``streamdash history copy`` moves a history between them losing
nothing (streamdash.store.history.copy)."""

import io
import json
import random
import time

import pytest
from flask import Flask

from streamdash.cli import build_parser, main
from streamdash.cli.metrics import cmd_metrics
from streamdash.config import Settings
from streamdash.models import utc_iso
from streamdash.runtime import Runtime
from streamdash.server.routes import register_routes
from streamdash.store.history import StorageOptions, open_store
from streamdash.store.history.copy import copy_history
from streamdash.testing import ListSource
from tests.helpers import wait_until
from tests.history_backends import postgres_backend, sqlite_backend

DAY = 86_400.0
#: The writer takes what is queued every 0.2 s; ample room for a loaded machine.
WRITE_TIMEOUT = 30.0
#: Whole seconds, a day ago: ISO times in the URLs are exact.
T0 = float(int(time.time() - DAY))
RANGE = ["--since", utc_iso(T0 - 1), "--until", utc_iso(T0 + DAY)]
SINCE, UNTIL = f"since={RANGE[1]}", f"until={RANGE[3]}"
PATHS = [f"/api/metrics?{SINCE}&{UNTIL}&name=throughput_in,queue_depth,latency_p95&limit=700",
         f"/api/metrics?{SINCE}&{UNTIL}&name=throughput_in,queue_depth,latency_p95,dropped"
         "&step=30m",
         f"/api/metrics?{SINCE}&{UNTIL}&name=latency_p95&step=1m",
         f"/api/errors?{SINCE}&{UNTIL}&limit=7", f"/api/dlq?{SINCE}&{UNTIL}&limit=9",
         f"/api/alerts?{SINCE}&{UNTIL}&limit=5", f"/api/alerts?{SINCE}&{UNTIL}&state=firing",
         f"/api/windows?{SINCE}&{UNTIL}&limit=6", f"/api/windows?{SINCE}&{UNTIL}&key=k1"]


def fill(backend, seed=7):
    """A day of history, hostile parts included, written through the real writer: 2,000
    snapshots (ints, floats, nulls, NaN; several sharing a second), alerts, errors, quarantined
    records and windows."""
    rng = random.Random(seed)
    with backend.history(StorageOptions(queue_size=20_000)) as history:
        for i in range(2000):
            ts = T0 + i * 43.2 - (i % 5 == 1) * 43.2  # every fifth pair shares a time
            history.record_snapshot({
                "throughput_in": round(rng.uniform(0, 500), 3), "queue_depth": rng.randrange(9),
                "latency_p95": None if i % 13 == 0 else rng.random(),
                "dropped": float("nan") if i % 17 == 0 else rng.randrange(3) * 1.0}, ts=ts)
        for i in range(30):
            history.on_alert({"name": f"rule{i % 3}", "state": ["firing", "resolved"][i % 2],
                              "severity": "warning", "ts": T0 + i * 2000})
            history.on_ingest_error({"ts": T0 + i * 2000 + 1, "source": "api", "kind": "http",
                                     "reason": f"HTTP 50{i % 4}\x00", "url": "http://x/\ud800"})
        history.on_rejections([{"at": T0 + i * 600, "source": "sim",
                                "record": {"id": i, "v": float("nan") if i % 4 else "x\x00y",
                                           "név": "é\ud83d"},
                                "reasons": [{"field": "v", "rule": "type"}]} for i in range(40)])
        history.on_windows([{"key": f"k{i % 3}", "ts": T0 + i * 900, "count": i,
                             "mean": i / 3} for i in range(50)])
        wait_until(lambda: history.status()["written"] >= 2151, WRITE_TIMEOUT,
                   "every row written")  # more than stop()'s few seconds on a loaded machine


def answers(backend):
    """Every page of every path (following ``next``), as parsed JSON."""
    runtime = Runtime(Settings(backend.settings()), ListSource([]))
    app = Flask("parity")
    register_routes(app, runtime)
    client = app.test_client()
    out = {}
    for path in PATHS:
        pages, url = [], path
        while url:
            reply = client.get(url)
            body = reply.get_json()
            assert reply.status_code == 200, (url, body)
            pages.append(body)
            url = f"{path}&cursor={body['next']}" if body.get("next") else None
        out[path] = pages
    return out


def same(a, b, where="answer"):
    """``a`` equals ``b``; floats to 1e-9 (a bucket's mean adds in each database's order)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} != {b!r}"


def metrics_output(backend, fmt):
    args = build_parser().parse_args(["metrics", *backend.cli_args(), *RANGE,
                                      "--name", "throughput_in,latency_p95,dropped",
                                      "--format", fmt])
    out = io.StringIO()
    assert cmd_metrics(args, out) == 0
    return out.getvalue()


def dlq_export(backend, capfdbinary):
    assert main(["dlq", "export", *backend.cli_args(), *RANGE]) == 0
    return capfdbinary.readouterr().out


@pytest.fixture
def pair(tmp_path, postgres_dsn):
    """The same day of history in SQLite and in PostgreSQL."""
    backends = sqlite_backend(tmp_path), postgres_backend(postgres_dsn)
    for backend in backends:
        fill(backend)
    return backends


def test_every_endpoint_and_command_answers_alike_from_both_backends(pair, capfdbinary):
    """The API's pages (cursors included), its downsampled series, ``streamdash metrics`` in
    every format and ``dlq export`` are the same from SQLite and PostgreSQL."""
    lite, pg = pair
    got = answers(lite), answers(pg)
    same(*got)
    pages = got[0][PATHS[0]]
    assert len(pages) == 3 and sum(len(p["series"]["queue_depth"]) for p in pages) == 2000
    assert len(got[0][PATHS[1]][0]["series"]["dropped"]) == 48  # a day of half-hour buckets
    csv_lite, csv_pg = metrics_output(lite, "csv"), metrics_output(pg, "csv")
    assert csv_lite == csv_pg and csv_lite.count("\n") == 2001
    assert metrics_output(lite, "table") == metrics_output(pg, "table").replace(
        pg.reader().location, lite.reader().location)
    json_lite, json_pg = (json.loads(metrics_output(b, "json")) for b in pair)
    assert json_lite.pop("history") != json_pg.pop("history")
    same(json_lite, json_pg)
    export = dlq_export(lite, capfdbinary)
    assert export == dlq_export(pg, capfdbinary) and export.count(b"\n") == 40


def test_copy_moves_a_history_to_postgres_and_back_with_the_same_answers(
        pair, postgres_server, tmp_path, capsys):
    """``history copy --from sqlite:DIR --to postgres://…`` fills an empty database with every
    row; the copy answers as the original; a second copy into it is refused; copying back to
    SQLite gives the same answers again."""
    lite, _ = pair
    postgres_server.psql("CREATE DATABASE parity_copy")
    target = postgres_backend(postgres_server.dsn("parity_copy"))
    assert main(["history", "copy", "--from", lite.location, "--to", target.location]) == 0
    out = capsys.readouterr().out
    assert "copied 2151 rows from" in out and "(runs 1, snapshots 2000, alerts 30, dlq 40, " \
        "errors 30, windows 50)\n" in out
    original = answers(lite)
    same(original, answers(target))
    assert main(["history", "copy", "--from", lite.location, "--to", target.location]) == 1
    assert "already holds rows (runs 1, snapshots 2000" in capsys.readouterr().err
    back = sqlite_backend(tmp_path / "back")
    (tmp_path / "back").mkdir()
    assert main(["history", "copy", "--from", target.location, "--to", back.location,
                 "--batch", "333"]) == 0
    same(original, answers(back))
    assert back.reader().runs() == lite.reader().runs()
    postgres_server.psql("DROP DATABASE parity_copy WITH (FORCE)")


def test_rows_the_target_refuses_are_skipped_and_counted(tmp_path, postgres_dsn):
    """A SQLite history holding a snapshot PostgreSQL's jsonb cannot hold (a NUL in a string):
    the copy skips that row alone and says so; every other row arrives."""
    lite = sqlite_backend(tmp_path)
    store = open_store(lite.location)
    store.write([("snapshot", T0, {"x": 1}), ("snapshot", T0 + 1, {"text": "a\x00b"}),
                 ("snapshot", T0 + 2, {"x": 3})], 1000)
    store.disconnect()
    target = open_store(postgres_dsn)
    copied = copy_history(store.reader, target, batch=10)
    target.disconnect()
    assert copied["snapshots"] == 2 and copied["skipped"] == 1
    assert target.reader.metrics(["x"], T0, T0 + 2)["x"] == [(T0, 1), (T0 + 2, 3)]
