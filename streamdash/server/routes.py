"""Flask routes beside the dashboard: probes, Prometheus metrics and the JSON query API.

* ``/health`` — status (``streamdash/status.py``: ``ok`` / ``degraded`` / ``down``) and its
  reasons, the effective interval, version, uptime and every component (HTTP 503 when ``down``)
* ``/health/live`` — the process answers (always 200)
* ``/health/ready`` — 200 once the source has been fetched from successfully and while the
  status is not ``down``; 503 before, and while ``down``
* ``/metrics`` — Prometheus text format, from the app's own registry
* ``/api/metrics`` ``/api/errors`` ``/api/dlq`` ``/api/alerts`` ``/api/windows`` — history
  (SQLite when a ``data_dir`` is configured, else the in-memory recent views); bad parameters
  get HTTP 400; every answer is one page of at most ``api.max_limit`` items (values for
  ``/api/metrics``) and ``api.max_bytes`` of items, with ``next`` — the ``cursor`` of the next,
  older page (``null`` on the last); any other ``/api/...`` path gets a JSON 404 (never the
  dashboard page)
* ``/api/late`` — the newest records set aside as late (the in-memory late store), newest first,
  paged the same way
* a state store (Redis) that does not answer: HTTP 503 with the reason, on every route

Every JSON answer passes through the secret filter: no configured secret leaves the process.
The routes read one stream's state only through its
:class:`~streamdash.state.base.StreamState` (this process's runtime, or what a worker published).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..config import Settings
from ..errors import StateUnavailable
from ..metric_catalog import SNAPSHOT_FIELDS
from ..models import finite, utc_iso
from ..redact import Redactor, output_redactor
from ..runtime import Runtime
from ..state import StreamState, as_stream
from ..state.probes import health_answer, ready_answer
from ..store.history import HistoryReader, QueryTooSlow, StorageUnavailable, event_time
from .alerts import register_alert_routes
from .prometheus import build_registry
from .query import Cursor, Query, QueryError, memory_page, page, parse_query


def register_routes(server: Flask, state: StreamState | Runtime, settings: Settings | None = None,
                    redactor: Redactor | None = None) -> None:
    """Add the operational routes for one stream's ``state`` to the Flask ``server``.

    ``settings`` bound the answers (``api``) and ``redactor`` masks every secret; a runtime
    given as ``state`` supplies both (its settings, its source's secrets) and is read in place.
    """
    if isinstance(state, Runtime):
        settings = settings or state.settings
        redactor = redactor or output_redactor(state.settings.as_dict(), state.source)
    settings = settings or Settings()
    redactor = redactor or output_redactor(settings.as_dict())
    stream = as_stream(state)
    registry = build_registry(stream)
    register_alert_routes(server, stream)  # /api/alerts/active, /api/alerts/rules, /api/quality

    def reply(body: Any, status: int = 200) -> Response:
        text = json.dumps(finite(body), default=str, allow_nan=False)
        return Response(redactor.text(text), status=status, mimetype="application/json")

    max_limit = settings.get("api.max_limit", 10_000)
    max_bytes = settings.get("api.max_bytes", 4 * 1024 * 1024)
    max_seconds = settings.get("api.max_seconds", 10.0)
    history = stream.history
    reader = history.limited(max_seconds) if history is not None else None

    def api(default_since: str, default_limit: int, allowed: tuple[str, ...],
            answer: Callable[[Query], dict[str, Any]]) -> Response:
        try:
            query = parse_query(request.args.to_dict(flat=False), stream.clock(),
                                allowed=allowed, default_since=default_since,
                                default_limit=default_limit, max_limit=max_limit)
        except QueryError as exc:
            return reply({"error": str(exc)}, 400)
        try:
            body = answer(query)
        except QueryTooSlow as exc:
            return reply({"error": f"{exc} (api.max_seconds): ask for a shorter range, fewer "
                                   "names or a larger step"}, 503)
        except StorageUnavailable as exc:
            return reply({"error": f"history storage unavailable: {exc}"}, 503)
        return reply({"since": utc_iso(query.since), "until": utc_iso(query.until),
                      "from": "history" if reader is not None else stream.backend, **body})

    @server.errorhandler(StateUnavailable)
    def state_unavailable(exc: StateUnavailable) -> Response:
        # Redis away (a web process): every route (/api/*, /metrics) says so, as /health does.
        return reply({"error": str(exc)}, 503)

    def stored(table: str, q: Query, **where: Any) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a history table (newest first), at most ``limit`` items and
        ``api.max_bytes`` of JSON, and the cursor of the next."""
        assert reader is not None
        before = (q.cursor.ts, q.cursor.tie) if q.cursor is not None else None
        rows = reader.events(table, q.since, q.until, q.limit + 1,
                                             before=before, **where)
        return page(rows, q.limit, lambda r: Cursor(r["ts"], r["id"]), max_bytes=max_bytes,
                    size=_json_size)

    def in_memory(items: list[dict[str, Any]], q: Query, when: Callable[[dict[str, Any]], float]
                  ) -> tuple[list[dict[str, Any]], str | None]:
        return memory_page(items, q, when, max_bytes=max_bytes, size=_json_size)

    @server.get("/health")
    def health() -> Response:
        code, body = health_answer(stream)
        return reply(body, code)

    @server.get("/health/live")
    def live() -> Response:
        return reply({"status": "ok"})

    @server.get("/health/ready")
    def ready() -> Response:
        code, body = ready_answer(stream)
        return reply(body, code)

    @server.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @server.get("/api/", defaults={"rest": ""})
    @server.get("/api/<path:rest>")
    def api_unknown(rest: str) -> Response:
        # Without this, the dashboard's catch-all route answers 200 with the page: a client
        # with a typo in the path would parse HTML. Every known /api path is a more specific
        # rule, so this only ever sees the unknown ones.
        return reply({"error": f"unknown API path /api/{rest}"}, 404)

    @server.get("/api/metrics")
    def api_metrics() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            names = list(q.names or SNAPSHOT_FIELDS)
            if q.step and reader is not None:  # one page of bucket means (as the dashboard)
                series, nxt = reader.metric_buckets(names, q.since, q.until, q.step), None
            else:
                series, nxt = _metric_page(stream, reader, names, q)
            return {"series": {n: [{"ts": utc_iso(t), "t": t, "value": v} for t, v in pts]
                               for n, pts in series.items()}, "next": nxt}
        return api("1h", 10_000, ("name", "step"), answer)

    @server.get("/api/errors")
    def api_errors() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            now = stream.clock()
            if reader is not None:
                items, nxt = stored("errors", q)
                items = _rows(items)
            else:
                items, nxt = in_memory(stream.errors.recent(), q,
                                       lambda i: event_time(i, now))
            return {"count": len(items), "items": items, "next": nxt}
        return api("24h", 100, (), answer)

    @server.get("/api/dlq")
    def api_dlq() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            now = stream.clock()
            if reader is not None:
                items, nxt = stored("dlq", q)
                items = _rows(items)
            else:
                items, nxt = in_memory(stream.quarantine.recent(), q,
                                       lambda i: event_time(i, now))
            return {"count": len(items), "total": stream.quarantine.total, "items": items,
                    "next": nxt}
        return api("24h", 100, (), answer)

    @server.get("/api/late")
    def api_late() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            # The state's bounded late log only (never persisted): newest first.
            now = stream.clock()
            late = stream.late
            items, nxt = in_memory(late.recent(), q, lambda i: event_time(i, now))
            return {"from": stream.backend, "count": len(items), "total": late.total,
                    "capacity": late.capacity, "items": items, "next": nxt}
        return api("24h", 100, (), answer)

    @server.get("/api/windows")
    def api_windows() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            if reader is not None:
                rows, nxt = stored("windows", q, key=q.key)
                items = [{"closed_at": utc_iso(r["ts"]), **r["data"]} for r in rows]
            else:  # the recent windows in memory (they carry no closing time: all in range)
                items, nxt = in_memory([w for w in stream.windows.recent()
                                        if q.key is None or str(w.get("key")) == q.key], q,
                                       lambda i: q.until)
            return {"count": len(items), "items": items, "next": nxt}
        return api("1h", 100, ("key",), answer)

    @server.get("/api/alerts")
    def api_alerts() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            now = stream.clock()
            if reader is not None:
                items, nxt = stored("alerts", q, state=q.state)
                items = _rows(items)
            else:
                monitor = stream.quality
                found = monitor.history(None, q.state, q.since) if monitor is not None else []
                items, nxt = in_memory(found, q, lambda i: event_time(i, now))
            return {"count": len(items), "items": items, "next": nxt}
        return api("24h", 100, ("state",), answer)


def _json_size(item: Any) -> int:
    """Bytes ``item`` takes in an answer (for the ``api.max_bytes`` cut)."""
    return len(json.dumps(item, default=str))


def _metric_page(stream: StreamState, reader: HistoryReader | None, names: list[str], q: Query
                 ) -> tuple[dict[str, list[tuple[float, Any]]], str | None]:
    """The newest ``limit`` snapshots before the cursor as ``name → [(ts, value), …]`` oldest
    first, and the cursor of the next (older) page."""
    if reader is not None:
        before = (q.cursor.ts, q.cursor.tie) if q.cursor is not None else None
        rows = reader.metric_page(names, q.since, q.until, q.limit + 1, before)
        rows, nxt = page(rows, q.limit, lambda r: Cursor(r[0], r[1]))
        rows.reverse()
        return {n: [(r[0], r[2][i]) for r in rows] for i, n in enumerate(names)}, nxt
    # In memory (snapshots have distinct times): strictly before the cursor's time.
    until = math.nextafter(q.cursor.ts, 0.0) if q.cursor is not None else q.until
    series = stream.metric_history(names, q.since, min(until, q.until), q.limit + 1)
    longest = max((len(pts) for pts in series.values()), default=0)
    if longest <= q.limit:
        return series, None
    series = {n: pts[-q.limit:] for n, pts in series.items()}
    return series, Cursor(next(iter(series.values()))[0][0], 0).token


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows with ISO-8601 times."""
    return [{**r, "ts": utc_iso(r["ts"]), "t": r["ts"]} for r in rows]


