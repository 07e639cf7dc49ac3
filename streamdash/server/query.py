"""Validation of the JSON query API's parameters (pure; every problem is a ``QueryError``).

Every history endpoint (and any new one, e.g. ``/api/late``) validates through
:func:`parse_query`, so all answer bad input the same way: HTTP 400 with a message naming the
parameter. Answers are pages of at most ``api.max_limit`` items (values for ``/api/metrics``);
:class:`Cursor` is where the next, older page starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import QueryError
from ..metric_catalog import SNAPSHOT_FIELDS
from ..timespec import EARLIEST, LATEST, parse_duration, parse_range

T = TypeVar("T")

ALERT_STATES = ("pending", "firing", "resolved", "inactive")


@dataclass(frozen=True)
class Cursor:
    """The next page holds items strictly older than ``(ts, tie)``.

    ``tie`` orders items of the same ``ts``: the row id in the history database; for the
    in-memory views, how many items of exactly ``ts`` earlier pages already held. The token is
    ``"<ts>:<tie>"``; clients pass it back unchanged as ``cursor``.
    """

    ts: float
    tie: int

    @property
    def token(self) -> str:
        """The text clients send back as ``cursor``."""
        return f"{self.ts!r}:{self.tie}"


@dataclass(frozen=True)
class Query:
    """Validated parameters: time range (epoch s), limit, metric names, alert state, window key,
    the page cursor and the downsampling step (s, 0 = none)."""

    since: float
    until: float
    limit: int
    names: tuple[str, ...] = ()
    state: str | None = None
    key: str | None = None
    cursor: Cursor | None = None
    step: float = 0.0


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


def parse_cursor(text: str | None) -> Cursor | None:
    """The cursor a client sent back (``None`` when absent); anything malformed is a 400."""
    if text is None:
        return None
    ts_text, sep, tie_text = text.partition(":")
    try:
        ts, tie = float(ts_text), int(tie_text)
    except ValueError:
        ts, tie = math.nan, -1
    if not sep or not EARLIEST <= ts <= LATEST or not 0 <= tie < 2 ** 63:
        raise QueryError(f"cursor: not a cursor this API gave out (pass 'next' back unchanged), "
                         f"got {text[:40]!r}")
    return Cursor(ts, tie)


def parse_query(args: Mapping[str, list[str]], now: float, *, allowed: Iterable[str],
                default_since: str, default_limit: int, max_limit: int) -> Query:
    """Validate ``args`` (name → values, as from ``request.args.to_dict(flat=False)``).

    ``cursor`` is accepted everywhere. With ``name`` in ``allowed`` (``/api/metrics``),
    ``max_limit`` counts values: ``limit`` (snapshots a page) times the number of names may not
    exceed it, the default limit is what fits, and ``step`` (if allowed) must leave at most that
    many buckets.
    """
    allowed = set(allowed) | {"since", "until", "limit", "cursor"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    try:
        since, until = parse_range(_single(args, "since"), _single(args, "until"), now,
                                   default_since)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
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
    per_page = max_limit
    if "name" in allowed:  # a page of snapshots carries one value per name
        count = len(names) or len(SNAPSHOT_FIELDS)
        per_page = max(1, max_limit // count)
        default_limit = min(default_limit, per_page)
    try:
        limit = _limit(_single(args, "limit"), default_limit, per_page)
    except QueryError as exc:
        if per_page == max_limit:
            raise
        raise QueryError(f"{exc} ({max_limit} values a page for {count} metric(s): ask for "
                         "fewer names, a step, or follow 'next')") from None
    cursor = parse_cursor(_single(args, "cursor"))
    step = _step(_single(args, "step"), since, until, per_page, cursor)
    return Query(since, until, limit, tuple(names), state, key, cursor, step)


def _step(text: str | None, since: float, until: float, most: int,
          cursor: Cursor | None) -> float:
    if text is None:
        return 0.0
    try:
        step = parse_duration(text, "step")
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if step <= 0:
        raise QueryError(f"step: must be longer than 0s, got {text!r}")
    if cursor is not None:
        raise QueryError("cursor: not used with step (a downsampled answer is one page)")
    buckets = math.floor((until - since) / step) + 1
    if buckets > most:
        least = math.ceil((until - since) / max(1, most - 1))
        raise QueryError(f"step: {text} gives {buckets} points per metric over this range, "
                         f"more than {most}; use a step of at least {least}s")
    return step


def page(items: list[T], limit: int, key: Callable[[T], Cursor], *, max_bytes: int = 0,
         size: Callable[[T], int] = lambda item: 0) -> tuple[list[T], str | None]:
    """``items`` (fetched with ``limit + 1``, newest first) cut to a page, and the ``next``
    cursor token (``None`` when nothing older is left).

    With ``max_bytes``, the page also ends before the item that would take the sum of
    ``size(item)`` past it (the first item is always kept, so paging always advances).
    """
    keep = _cut(items, limit, max_bytes, size)
    if keep == len(items):
        return items, None
    return items[:keep], key(items[keep - 1]).token


def _cut(items: list[T], limit: int, max_bytes: int, size: Callable[[T], int]) -> int:
    keep = min(len(items), limit)
    if max_bytes:
        total = 0
        for i, item in enumerate(items[:keep]):
            total += size(item)
            if total > max_bytes and i > 0:
                return i
    return keep


def memory_page(items: list[dict[str, Any]], q: Query, when: Callable[[dict[str, Any]], float],
                *, max_bytes: int = 0, size: Callable[[dict[str, Any]], int] = lambda i: 0
                ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of an in-memory view (``items`` newest first) inside ``q``'s range, after its
    cursor; ``when`` gives an item's time; ``max_bytes`` and ``size`` as for :func:`page`."""
    out: list[dict[str, Any]] = []
    for item in items:
        t = when(item)
        if q.since <= t <= q.until:
            out.append(item)
    if q.cursor is not None:
        c = q.cursor
        older = [i for i in out if when(i) < c.ts]
        same = [i for i in out if when(i) == c.ts]
        out = same[c.tie:] + older
    keep = _cut(out, q.limit, max_bytes, size)
    if keep == len(out):
        return out, None
    kept = out[:keep]
    last = when(kept[-1])
    seen = sum(1 for i in kept if when(i) == last)
    if q.cursor is not None and last == q.cursor.ts:
        seen += q.cursor.tie
    return kept, Cursor(last, seen).token
