"""Plain data types shared by the pipeline stages.

Records themselves are plain ``dict`` objects: the hot path allocates nothing else per record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts and lists too) as ``None``: what
    strict JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def utc_iso(ts: float | None) -> str | None:
    """Format epoch seconds as UTC ISO-8601 to the millisecond (``2026-01-02T03:04:05.678Z``;
    the year always has four digits).

    ``isoformat`` (in C) rather than ``strftime``, which builds a time tuple and formats in
    Python's wrapper: half the time, and the pipeline formats two times per late record.
    """
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    # "…T03:04:05.678+00:00": the milliseconds truncated, as microsecond // 1000 would.
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(slots=True)
class Batch:
    """Records fetched together, with the wall-clock time of the fetch (epoch seconds)."""

    records: list[dict[str, Any]]
    fetched_at: float
    source: str = ""
    fetched_mono: float = 0.0
    #: A push source's acknowledgement token (see ``Source.ack``): handed back to the source
    #: once this batch is stored; ``None`` for everything else.
    ack: Any = None


class Rejection:
    """A record refused by the processing chain, with every reason found.

    ``reasons`` holds ``{"field": ..., "rule": ..., "value": excerpt}`` dicts. Built with
    ``explain`` (a callable returning them for ``subject``, by default the record) instead,
    the reasons are found on first read and kept: a flood of invalid records costs little
    more than valid ones until someone reads them (the dashboard, the API, the history
    writer), and only the ones read.
    """

    __slots__ = ("record", "source", "at", "_reasons", "_explain", "_subject")

    def __init__(self, record: Any, reasons: list[dict[str, Any]] | None = None,
                 source: str = "", at: float = 0.0, *,
                 explain: Callable[[Any], list[dict[str, Any]]] | None = None,
                 subject: Any = None):
        self.record = record
        self.source = source
        self.at = at
        self._reasons = reasons
        self._explain = explain
        self._subject = subject

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """Every reason: ``explain(subject)`` (``subject`` defaults to the record) when built
        with ``explain``, found on first read and then kept."""
        if self._reasons is None:
            explain, self._explain = self._explain, None
            subject, self._subject = self._subject, None
            self._reasons = explain(self.record if subject is None else subject) \
                if explain is not None else []
        return self._reasons

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (time as ISO-8601 UTC)."""
        return {"at": utc_iso(self.at), "source": self.source,
                "reasons": self.reasons, "record": self.record}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rejection):
            return NotImplemented
        return (self.record, self.reasons, self.source, self.at) == \
            (other.record, other.reasons, other.source, other.at)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (f"Rejection(record={self.record!r}, reasons={self.reasons!r}, "
                f"source={self.source!r}, at={self.at!r})")


@dataclass(slots=True)
class ProcessResult:
    """What the processing chain made of one batch.

    ``counts`` holds the non-accepted outcomes other than invalid (``duplicate``, ``filtered``,
    ``late``) so that ``len(input) == len(accepted) + len(rejected) + sum(counts.values())``.
    """

    accepted: list[dict[str, Any]]
    rejected: list[Rejection] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    #: Nulls seen per field among the valid records (not an outcome: null values are kept).
    nulls: dict[str, int] = field(default_factory=dict)
