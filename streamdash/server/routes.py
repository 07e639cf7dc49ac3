"""Flask routes beside the dashboard: probes, Prometheus metrics and the JSON query API.

* ``/health`` — status (``streamdash/status.py``: ``ok`` / ``degraded`` / ``down``) and its
  reasons, the effective interval, version, uptime and every component (HTTP 503 when ``down``)
* ``/health/live`` — the process answers (always 200)
* ``/health/ready`` — 200 once the source has been fetched from successfully and while the
  status is not ``down``; 503 before, and while ``down``
* ``/metrics`` — Prometheus text format, from the app's own registry
* ``/api/metrics`` ``/api/errors`` ``/api/dlq`` ``/api/alerts`` ``/api/windows`` — history
  (SQLite when a ``data_dir`` is configured, else the in-memory recent views); bad parameters
  get HTTP 400; any other ``/api/...`` path gets a JSON 404 (never the dashboard page)
* ``/api/late`` — the newest records set aside as late (the in-memory late store), newest first

Every JSON answer passes through the secret filter: no configured secret leaves the process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..logs import redact, secret_values
from ..models import utc_iso
from ..reporter import SNAPSHOT_FIELDS
from ..runtime import Runtime
from ..status import HTTP_CODES
from ..store.history import StorageUnavailable, event_time
from .alerts import register_alert_routes
from .prometheus import build_registry
from .query import Query, QueryError, parse_query


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def register_routes(server: Flask, runtime: Runtime) -> None:
    """Add the operational routes for ``runtime`` to the Flask ``server``."""
    secrets = secret_values(runtime.settings.as_dict())
    registry = build_registry(runtime)
    register_alert_routes(server, runtime)  # /api/alerts/active, /api/alerts/rules, /api/quality

    def reply(body: Any, status: int = 200) -> Response:
        text = json.dumps(_finite(body), default=str, allow_nan=False)
        return Response(redact(text, secrets), status=status, mimetype="application/json")

    def api(default_since: str, default_limit: int, max_limit: int, allowed: tuple[str, ...],
            answer: Callable[[Query], dict[str, Any]]) -> Response:
        try:
            query = parse_query(request.args.to_dict(flat=False), runtime.clock(),
                                allowed=allowed, default_since=default_since,
                                default_limit=default_limit, max_limit=max_limit)
        except QueryError as exc:
            return reply({"error": str(exc)}, 400)
        try:
            body = answer(query)
        except StorageUnavailable as exc:
            return reply({"error": f"history storage unavailable: {exc}"}, 503)
        return reply({"since": utc_iso(query.since), "until": utc_iso(query.until),
                      "from": "history" if runtime.history is not None else "memory", **body})

    @server.get("/health")
    def health() -> Response:
        report = runtime.health()
        return reply(report, HTTP_CODES[report["status"]])

    @server.get("/health/live")
    def live() -> Response:
        return reply({"status": "ok"})

    @server.get("/health/ready")
    def ready() -> Response:
        last = runtime.source_health.snapshot()["last_success"]
        if not runtime.running:
            return reply({"status": "not ready", "reason": "not started"}, 503)
        if last is None:
            return reply({"status": "not ready", "reason": "no successful fetch yet"}, 503)
        status = runtime.status()
        if status.state == "down":
            return reply({"status": "not ready", "reason": "; ".join(status.reasons),
                          "health": status.state}, 503)
        return reply({"status": "ready", "health": status.state, "last_success": utc_iso(last)})

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
            series = runtime.metric_history(list(q.names or SNAPSHOT_FIELDS), q.since, q.until,
                                            q.limit)
            return {"series": {n: [{"ts": utc_iso(t), "t": t, "value": v} for t, v in pts]
                               for n, pts in series.items()}}
        return api("1h", 10_000, 100_000, ("name",), answer)

    @server.get("/api/errors")
    def api_errors() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            if runtime.history is not None:
                items = _rows(runtime.history.reader.events("errors", q.since, q.until, q.limit))
            else:
                items = _recent(runtime.ingest_errors.recent(), q, runtime.clock())
            return {"count": len(items), "items": items}
        return api("24h", 100, 10_000, (), answer)

    @server.get("/api/dlq")
    def api_dlq() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            if runtime.history is not None:
                items = _rows(runtime.history.reader.events("dlq", q.since, q.until, q.limit))
            else:
                items = _recent(runtime.quarantine.to_dicts(), q, runtime.clock())
            return {"count": len(items), "total": runtime.quarantine.total, "items": items}
        return api("24h", 100, 10_000, (), answer)

    @server.get("/api/late")
    def api_late() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            # In memory only (the runtime's bounded late store): newest first.
            items = _recent(runtime.late.recent(), q, runtime.clock())
            return {"from": "memory", "count": len(items), "total": runtime.late.total,
                    "capacity": runtime.late.capacity, "items": items}
        return api("24h", 100, 10_000, (), answer)

    @server.get("/api/windows")
    def api_windows() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            if runtime.history is not None:
                rows = runtime.history.reader.events("windows", q.since, q.until, q.limit,
                                                     key=q.key)
                items = [{"closed_at": utc_iso(r["ts"]), **r["data"]} for r in rows]
            else:  # the recent windows in memory (they carry no closing time)
                items = [w for w in runtime.windows.recent()
                         if q.key is None or str(w.get("key")) == q.key][:q.limit]
            return {"count": len(items), "items": items}
        return api("1h", 100, 10_000, ("key",), answer)

    @server.get("/api/alerts")
    def api_alerts() -> Response:
        def answer(q: Query) -> dict[str, Any]:
            if runtime.history is not None:
                rows = runtime.history.reader.events("alerts", q.since, q.until,
                                                     q.limit if q.state is None else 100_000)
                items = [r for r in _rows(rows) if q.state is None or r["state"] == q.state]
            else:
                monitor = getattr(runtime, "monitor", None)
                found = monitor.history(None, q.state, q.since) if monitor is not None else []
                items = _recent(found, q, runtime.clock())
            return {"count": len(items[:q.limit]), "items": items[:q.limit]}
        return api("24h", 100, 10_000, ("state",), answer)


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows with ISO-8601 times."""
    return [{**r, "ts": utc_iso(r["ts"]), "t": r["ts"]} for r in rows]


def _recent(items: list[dict[str, Any]], q: Query, now: float) -> list[dict[str, Any]]:
    """In-memory items (newest first) inside the query's time range, at most ``limit``."""
    out = [i for i in items if q.since <= event_time(i, now) <= q.until]
    return out[:q.limit]
