"""The effective poll interval: the one number everything that judges freshness uses.

The producer polls at it; the ``source_down`` and ``pipeline_backlogged`` rules, the
dashboard's stale banner, ``/health`` and the dashboard header measure "late" against it. It is
the largest of

* the configured ``source.interval``,
* the source's ``min_interval`` (presets set it from the API's limits: USGS 60 s),
* what the server currently asks for (the source's ``interval_hint()``): an HTTP source's
  ``Cache-Control: max-age`` (capped by ``source.max_cache_age``).

A ``Retry-After`` pause (429/503) is not part of it: the source skips polls until then, each
one a failed poll, so a rate-limited source is not fresh (see ``HttpSource.interval_hint``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from ..logs import log_event
from .base import Source

log = logging.getLogger("streamdash.sources")

# At most 10 digits: a hostile header cannot make int() work on a megabyte of nines.
_MAX_AGE = re.compile(r'(?:^|[,\s])max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)', re.IGNORECASE)


def cache_max_age(headers: Mapping[str, str], cap: float) -> float:
    """Seconds ``Cache-Control: max-age`` says the response stays fresh, at most ``cap``.

    0 when there is no (valid) max-age, with ``no-cache``/``no-store`` (the server wants to be
    asked every time), or when ``cap`` is 0 (the user turned the hint off). Only the first
    2 KB of the header are read.
    """
    raw = (headers.get("Cache-Control") or "")[:2048]
    if cap <= 0 or not raw:
        return 0.0
    lowered = raw.lower()
    if "no-cache" in lowered or "no-store" in lowered:
        return 0.0
    m = _MAX_AGE.search(raw)
    return min(float(m.group(1)), cap) if m else 0.0


def effective_interval(configured: float, minimum: float = 0.0, server: float = 0.0) -> float:
    """The largest of the configured interval, the source's minimum and the server's hint."""
    return max(float(configured), float(minimum or 0.0), float(server or 0.0))


class Cadence:
    """The effective interval of one source, read live (the server's hint can change).

    ``current()`` is cheap and thread-safe (producer, monitor, dashboard and routes all call
    it); each change the server causes is logged once at INFO with its reason (the start-up
    value is not: ``poll_interval`` already warns when a minimum raises the configured one).
    """

    def __init__(self, configured: float, source: Source):
        self.configured = float(configured)
        self.source = source
        self._lock = threading.Lock()
        self._last = effective_interval(self.configured, self.minimum)

    @property
    def minimum(self) -> float:
        """The source's own floor (``min_interval``; 0 when it has none)."""
        return float(self.source.min_interval or 0.0)

    def server(self) -> float:
        """What the server asks for now (0 when nothing, or the source cannot tell)."""
        return float(self.source.interval_hint() or 0.0)

    def current(self) -> float:
        """The effective interval now, in seconds."""
        server = self.server()
        value = effective_interval(self.configured, self.minimum, server)
        with self._lock:
            changed, self._last = value != self._last, value
        if changed:
            log_event(log, logging.INFO, f"polling every {value:g} s", source=self.source.name,
                      reason=self.reason(server), configured=self.configured)
        return value

    def reason(self, server: float | None = None) -> str:
        """Which input decides the interval: ``server`` (its Cache-Control),
        ``min_interval`` (the source's floor) or ``configured`` (``source.interval``)."""
        server = self.server() if server is None else server
        value = effective_interval(self.configured, self.minimum, server)
        if value == self.configured:
            return "configured"
        return "server" if server >= value else "min_interval"

    def describe(self) -> dict[str, Any]:
        """The effective interval and what it is made of (JSON-ready)."""
        server = self.server()
        return {"effective": effective_interval(self.configured, self.minimum, server),
                "configured": self.configured, "min_interval": self.minimum,
                "server": server, "reason": self.reason(server)}
