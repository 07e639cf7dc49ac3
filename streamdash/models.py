"""Plain data types shared by the pipeline stages.

Records themselves are plain ``dict`` objects: the hot path allocates nothing else per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utc_iso(ts: float | None) -> str | None:
    """Format epoch seconds as UTC ISO-8601 to the millisecond (``2026-01-02T03:04:05.678Z``)."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class Batch:
    """Records fetched together, with the wall-clock time of the fetch (epoch seconds)."""

    records: list[dict[str, Any]]
    fetched_at: float
    source: str = ""
    fetched_mono: float = 0.0


@dataclass(slots=True)
class Rejection:
    """A record refused by the processing chain, with every reason found.

    ``reasons`` holds ``{"field": ..., "rule": ..., "value": excerpt}`` dicts.
    """

    record: Any
    reasons: list[dict[str, Any]]
    source: str = ""
    at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (time as ISO-8601 UTC)."""
        return {"at": utc_iso(self.at), "source": self.source,
                "reasons": self.reasons, "record": self.record}


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
