"""The quality monitor of a stream as a worker published it: its read API, from Redis.

The current state (enabled, window, rates, every rule's alert, thresholds, rules) comes with
the pulse (``state/channels.quality_state``); the transitions and the evaluations (the quality
chart's points) are capped Redis streams read on demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..models import utc_iso
from .layout import number

if TYPE_CHECKING:
    from .redis_reader import RedisStream


class RedisQuality:
    """The worker's quality monitor as a ``QualityView`` (its read API, from Redis)."""

    def __init__(self, stream: RedisStream):
        self._stream = stream

    def _state(self) -> dict[str, Any]:
        return self._stream.view().quality

    @property
    def enabled(self) -> bool:
        return bool(self._state().get("enabled", True))

    @property
    def evaluations(self) -> int:
        return self._stream.view().tops["quality"]

    @property
    def window_seconds(self) -> float:
        return float(number(self._state().get("window"), self._stream.info().quality_window))

    def alerts(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self._state().get("alerts") or [] if isinstance(a, dict)]

    def active(self) -> list[dict[str, Any]]:
        firing = [a for a in self.alerts() if a.get("state") == "firing"]
        return sorted(firing, key=lambda a: str(a.get("starts_at") or ""), reverse=True)

    def history(self, limit: int | None = 100, state: str | None = None,
                since: float | None = None) -> list[dict[str, Any]]:
        stream = self._stream
        top = stream.view().tops["transitions"]
        items = [i for _, i in reversed(stream.entries(
            "transitions", 0, top, newest=stream.params.caps.transitions))]
        out = [i for i in items if (state is None or i.get("state") == state)
               and (since is None or number(i.get("at_ts"), 0.0) >= since)]
        return out[:limit] if limit else out

    def rates(self) -> dict[str, float | None]:
        return dict(self._state().get("rates") or {})

    def series(self, metrics: Iterable[str] | None = None,
               limit: int | None = None) -> dict[str, list[Any]]:
        stream = self._stream
        count = min(limit or stream.params.caps.quality, stream.params.caps.quality)
        points = [(p["ts"], p.get("v") or {}) for _, p in stream.entries(
            "quality", 0, self.evaluations, newest=count)
            if isinstance(p.get("ts"), (int, float)) and isinstance(p.get("v"), dict)]
        names = list(metrics) if metrics is not None else sorted({k for _, v in points
                                                                  for k in v})
        out: dict[str, list[Any]] = {"at": [utc_iso(t) for t, _ in points],
                                     "ts": [t for t, _ in points]}
        for name in names:
            out[name] = [v.get(name) for _, v in points]
        return out

    def thresholds(self) -> dict[str, list[Any]]:
        found = self._state().get("thresholds") or {}
        return {str(m): [tuple(t) for t in v if isinstance(t, list)]
                for m, v in found.items() if isinstance(v, list)}

    def rules(self) -> list[dict[str, Any]]:
        return [r for r in self._state().get("rules") or [] if isinstance(r, dict)]

    def describe(self) -> dict[str, Any]:
        return dict(self._state().get("describe") or {})
