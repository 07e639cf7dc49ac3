"""Validation of the JSON query API's parameters (pure; every problem is a ``QueryError``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..reporter import SNAPSHOT_FIELDS
from ..timespec import parse_range

ALERT_STATES = ("pending", "firing", "resolved", "inactive")


class QueryError(ValueError):
    """A bad query parameter; the message names it and says what is accepted (HTTP 400)."""


@dataclass(frozen=True)
class Query:
    """Validated parameters: time range (epoch s), limit, metric names, alert state, window key."""

    since: float
    until: float
    limit: int
    names: tuple[str, ...] = ()
    state: str | None = None
    key: str | None = None


def _single(args: Mapping[str, list[str]], key: str) -> str | None:
    values = args.get(key) or []
    if len(values) > 1:
        raise QueryError(f"{key}: give it once, got {len(values)} values")
    return values[0] if values else None


def _limit(text: str | None, default: int, maximum: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"limit: expected a whole number, got {text!r}") from None
    if not 1 <= value <= maximum:
        raise QueryError(f"limit: must be between 1 and {maximum}, got {value}")
    return value


def parse_query(args: Mapping[str, list[str]], now: float, *, allowed: Iterable[str],
                default_since: str, default_limit: int, max_limit: int) -> Query:
    """Validate ``args`` (name → values, as from ``request.args.to_dict(flat=False)``)."""
    allowed = set(allowed) | {"since", "until", "limit"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    try:
        since, until = parse_range(_single(args, "since"), _single(args, "until"), now,
                                   default_since)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    limit = _limit(_single(args, "limit"), default_limit, max_limit)
    names: list[str] = []
    for raw in args.get("name", []):
        for name in (n.strip() for n in raw.split(",")):
            if not name:
                raise QueryError("name: empty metric name")
            if name not in SNAPSHOT_FIELDS:
                raise QueryError(f"name: unknown metric {name!r} (known: "
                                 f"{', '.join(SNAPSHOT_FIELDS)})")
            if name not in names:
                names.append(name)
    state = _single(args, "state")
    if state is not None and state not in ALERT_STATES:
        raise QueryError(f"state: must be one of {', '.join(ALERT_STATES)}, got {state!r}")
    key = _single(args, "key")
    if key is not None and not key:
        raise QueryError("key: empty key")
    return Query(since, until, limit, tuple(names), state, key)
