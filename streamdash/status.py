"""The one status policy: ``ok``, ``degraded`` or ``down``, and the reasons why.

Every place that shows a status (``/health``, ``/health/ready``, the dashboard's header badge,
the Prometheus ``streamdash_health_status`` gauge) takes it from :func:`judge`, so they can
never disagree. The policy (documented in docs/operations.md and docs/alerts.md):

* ``down`` — a **critical** alert is firing, the source is unreachable (``down_after``
  failed fetches in a row), or the pipeline is not running (stopped, or a thread died);
* ``degraded`` — any other alert is firing (warning or info), a pipeline thread crashed
  recently and is being restarted, the queue is more than ``queue_limit`` full, the last
  fetch failed (but not yet ``down_after`` in a row), the history store cannot write, or the
  shared state store (Redis) cannot be written to (the worker keeps ingesting meanwhile);
* ``ok`` — none of the above: no alert is firing and every component works.

Pure: no clock, no I/O, no lock; the runtime gathers the facts and calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Consecutive failed fetches after which the source counts as unreachable (status ``down``).
DOWN_AFTER_FAILURES = 3
#: Queue fill (depth / capacity) above which the pipeline counts as ``degraded``.
QUEUE_FILL_LIMIT = 0.8
#: HTTP status of ``/health`` and ``/health/ready`` per state.
HTTP_CODES = {"ok": 200, "degraded": 200, "down": 503}


@dataclass(frozen=True)
class Status:
    """A judged status: ``state`` (``ok`` / ``degraded`` / ``down``) and why, worst first."""

    state: str
    reasons: tuple[str, ...] = ()
    firing: tuple[str, ...] = ()

    @property
    def http_code(self) -> int:
        """200 for ``ok`` and ``degraded``, 503 for ``down``."""
        return HTTP_CODES[self.state]

    def hover_text(self) -> str:
        """One line per reason (the badge's tooltip), or a line saying all is well."""
        return "\n".join(self.reasons) if self.reasons else "OK: no alert firing, every " \
                                                            "component works"


def judge(*, running: bool, threads_alive: bool = True, firing: Iterable[Mapping[str, Any]] = (),
          source_failures: int = 0, restarting: Sequence[str] = (),
          queue_fill: float | None = None, storage_error: str | None = None,
          state_error: str | None = None,
          down_after: int = DOWN_AFTER_FAILURES,
          queue_limit: float = QUEUE_FILL_LIMIT) -> Status:
    """The status for these facts (see the module docstring for the policy).

    ``firing`` are the firing alerts (dicts with ``name``, ``severity`` and ``summary``, as
    ``QualityMonitor.active()`` returns them); ``restarting`` names the pipeline threads that
    crashed recently; ``queue_fill`` is depth / capacity (``None`` when unknown: the queue then
    never degrades the status); ``storage_error`` is the history store's error, if any, and
    ``state_error`` the state publisher's (writing to Redis).
    """
    down: list[str] = []
    degraded: list[str] = []
    names: list[str] = []
    if not running:
        down.append("pipeline not running")
    elif not threads_alive:
        down.append("a pipeline thread is not running")
    for alert in firing:
        name = str(alert.get("name", "?"))
        severity = str(alert.get("severity", "warning"))
        names.append(name)
        line = f"{name} ({severity}): {alert.get('summary') or 'firing'}"
        (down if severity == "critical" else degraded).append(line)
    if source_failures >= down_after:
        down.append(f"source unreachable: {source_failures} failed fetches in a row")
    elif source_failures:
        degraded.append(f"source failing: {source_failures} failed fetch"
                        f"{'es' if source_failures != 1 else ''} in a row")
    for thread in restarting:
        degraded.append(f"{thread} restarting after a crash")
    if queue_fill is not None and queue_fill > queue_limit:
        degraded.append(f"queue {queue_fill:.0%} full (above {queue_limit:.0%})")
    if storage_error:
        degraded.append(f"history storage failing: {storage_error}")
    if state_error:
        degraded.append(f"state store failing: {state_error}")
    state = "down" if down else "degraded" if degraded else "ok"
    return Status(state, tuple(down + degraded), tuple(names))
