"""Flask routes for the quality monitor's *current* state (the history is ``/api/alerts``).

* ``/api/alerts/active?state=firing|pending|resolved`` — every rule's alert that is not
  inactive (or only those in ``state``), most recently changed first
* ``/api/alerts/rules`` — the configured rules (thresholds, durations, labels, fingerprints)
* ``/api/quality`` — the latest quality metric values over the sliding window, and the
  thresholds watching each metric

Bad or unknown parameters get HTTP 400 with a message naming the parameter.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from ..models import finite, utc_iso
from ..runtime import Runtime
from ..state import StreamState, as_stream

ACTIVE_STATES = ("pending", "firing", "resolved")


def _reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(finite(body), default=str, allow_nan=False), status=status,
                    mimetype="application/json")


def _bad_params(allowed: tuple[str, ...]) -> str | None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        return f"unknown parameter {unknown[0]!r} (known: {known})"
    return None


def register_alert_routes(server: Flask, state: StreamState | Runtime) -> None:
    """Add the current-alerts and quality routes for one stream's quality view (its monitor's
    read API) to ``server``."""
    stream = as_stream(state)
    monitor = stream.quality

    @server.get("/api/alerts/active")
    def alerts_active() -> Response:
        problem = _bad_params(("state",))
        state = request.args.get("state")
        if problem is None and state is not None and state not in ACTIVE_STATES:
            problem = f"state: must be one of {', '.join(ACTIVE_STATES)}, got {state!r}"
        if problem:
            return _reply({"error": problem}, 400)
        wanted = (state,) if state else ACTIVE_STATES
        items = [a for a in monitor.alerts() if a["state"] in wanted]
        items.sort(key=lambda a: a["ends_at"] or a["starts_at"] or a["active_at"] or "",
                   reverse=True)
        return _reply({"evaluated_at": utc_iso(stream.clock()), "count": len(items),
                       "items": items})

    @server.get("/api/alerts/rules")
    def alerts_rules() -> Response:
        problem = _bad_params(())
        if problem:
            return _reply({"error": problem}, 400)
        return _reply({"enabled": monitor.enabled, "rules": monitor.rules()})

    @server.get("/api/quality")
    def quality() -> Response:
        problem = _bad_params(())
        if problem:
            return _reply({"error": problem}, 400)
        thresholds = {m: [{"rule": n, "op": op, "threshold": t, "severity": s}
                          for n, op, t, s in rules]
                      for m, rules in monitor.thresholds().items()}
        return _reply({"at": utc_iso(stream.clock()), "window": monitor.window_seconds,
                       "metrics": monitor.rates(), "thresholds": thresholds})
