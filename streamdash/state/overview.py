"""Several streams at a glance: one status line each, and the probes' answers over all.

:func:`status_line` is the one summary of a stream that ``/api/streams`` serves and the
dashboard's overview shows (name, source, records/s, last update, health, active alerts), so
the two never disagree. :func:`health_all` and :func:`ready_all` are ``/health`` and
``/health/ready`` over every stream: the worst status wins and each reason names its stream.
With a single stream they give exactly that stream's answer (``state.probes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import StateUnavailable
from ..status import HTTP_CODES
from .base import StreamState
from .probes import health_answer, ready_answer

#: Worst first: the status of several streams is the worst of theirs.
SEVERITY = ("down", "degraded", "ok")
#: Reasons one stream contributes to the combined ``/health`` (its own report has them all).
REASONS_PER_STREAM = 3


def status_line(name: str, stream: StreamState) -> dict[str, Any]:
    """One stream's status line (JSON-ready); a state store that does not answer makes it
    ``down`` with the reason, never an exception."""
    info = stream.info()
    line: dict[str, Any] = {"name": name, "title": info.title, "kind": info.kind,
                            "status": "down", "reasons": [], "records_in": None, "rate": None,
                            "last_update": None, "active_alerts": None}
    try:
        status = stream.status()
        quality = stream.quality
        rates = quality.rates() if quality is not None else {}
        line.update(status=status.state, reasons=list(status.reasons[:REASONS_PER_STREAM]),
                    records_in=stream.counts().get("in"), rate=rates.get("throughput"),
                    last_update=stream.metrics.gauge("last_stored_at"),
                    active_alerts=len(quality.active()) if quality is not None else 0)
    except StateUnavailable as exc:
        line["reasons"] = [str(exc)]
    return line


def worst(states: list[str]) -> str:
    """The worst of ``states`` (``ok`` for none)."""
    return min(states, key=SEVERITY.index, default="ok")


def health_all(streams: Mapping[str, StreamState]) -> tuple[int, dict[str, Any]]:
    """``/health`` over every stream: one stream's own answer, or the worst status with each
    stream's first reasons prefixed by its name, every report under ``streams`` (503 when any
    stream is ``down``)."""
    if len(streams) == 1:
        return health_answer(next(iter(streams.values())))
    reports = {name: health_answer(stream)[1] for name, stream in streams.items()}
    status = worst([r["status"] for r in reports.values()])
    reasons = [f"stream '{name}': {reason}" for name, r in reports.items()
               for reason in r.get("reasons", [])[:REASONS_PER_STREAM]]
    down = [name for name, r in reports.items() if r["status"] == "down"]
    return HTTP_CODES[status], {"status": status, "reasons": reasons, "down": down,
                                "streams": reports}


def ready_all(streams: Mapping[str, StreamState]) -> tuple[int, dict[str, Any]]:
    """``/health/ready`` over every stream: ready when each one is; else 503 naming those
    that are not, with their reasons."""
    if len(streams) == 1:
        return ready_answer(next(iter(streams.values())))
    answers = {name: ready_answer(stream) for name, stream in streams.items()}
    bodies = {name: body for name, (_, body) in answers.items()}
    waiting = [name for name, (code, _) in answers.items() if code != 200]
    if waiting:
        reason = "; ".join(f"stream '{name}': {bodies[name].get('reason', 'not ready')}"
                           for name in waiting)
        return 503, {"status": "not ready", "reason": reason, "streams": bodies}
    return 200, {"status": "ready", "streams": bodies}
