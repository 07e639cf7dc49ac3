"""The answers of the probes, from a stream's state: ``/health`` and ``/health/ready``.

One decision for every process that answers them — the Flask routes of the dashboard (one
process, or a web process reading Redis) and the worker's side port (``streamdash/probe.py``) —
so they can never disagree. Pure apart from reading the state; each returns ``(HTTP status,
JSON-ready body)``. A state store that does not answer is ``down`` (503) with the reason.
"""

from __future__ import annotations

from typing import Any

from ..errors import StateUnavailable
from ..models import utc_iso
from ..status import HTTP_CODES
from .base import StreamState


def health_answer(stream: StreamState) -> tuple[int, dict[str, Any]]:
    """``/health``: the state's report (503 when ``down``, or when the store is unreachable)."""
    try:
        report = stream.health()
    except StateUnavailable as exc:
        return 503, {"status": "down", "reasons": [str(exc)], "firing": [],
                     "components": {"state": {"backend": stream.backend, "ok": False,
                                              "error": str(exc)}}}
    return HTTP_CODES[report["status"]], report


def ready_answer(stream: StreamState) -> tuple[int, dict[str, Any]]:
    """``/health/ready``: 200 once the source answered and while the status is not ``down``."""
    try:
        pulse = stream.pulse()
        if not pulse.running:
            return 503, {"status": "not ready", "reason": "not started"}
        if pulse.last_success is None:
            return 503, {"status": "not ready", "reason": "no successful fetch yet"}
        status = stream.status()
    except StateUnavailable as exc:
        return 503, {"status": "not ready", "reason": str(exc)}
    if status.state == "down":
        return 503, {"status": "not ready", "reason": "; ".join(status.reasons),
                     "health": status.state}
    return 200, {"status": "ready", "health": status.state,
                 "last_success": utc_iso(pulse.last_success)}
