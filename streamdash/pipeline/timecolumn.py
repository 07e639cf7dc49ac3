"""Vectorized event-time parsing for a whole column (the columnar fast path).

:func:`parse_column` turns a batch of event-time values into epoch seconds with numpy and
gives, value for value, the very float :class:`~.timestamps.TimestampParser` gives: the
canonical form ``YYYY-MM-DDTHH:MM:SS.mmmZ`` is parsed as bytes in one pass over the batch,
everything else (other types and lengths, offsets, epoch numbers, invalid dates) is handed
to the scalar parser one by one, so the two can never disagree.

How the bytes are read: the strings are joined with ``"|"`` and encoded, which gives one
row of 25 bytes per value (24 + separator). Subtracting a per-column template turns every
digit into its value and every expected separator into 0; a row is well formed when each
result is within its column's span (9 for digits, tighter for the tens of month, day, hour,
minute and second, 0 for separators). One matrix-vector product then packs each row into
``(year * 20 + month) * 2**32 + (day - 1) * 86_400_000 + ms_of_day``; two look-ups in
per-month tables (built once with the days-from-civil algorithm) give the end of the valid
values of that month (month length, leap years, year >= 1) and the offset to epoch
milliseconds, and a big-endian view of the hour digits checks hour <= 23. All arithmetic
is on exact integers below 2**53 held in float64, so the final ``whole_ms / 1000`` is the
same correctly rounded division the scalar parser does.
"""

from __future__ import annotations

import numpy as np

from .timestamps import TimestampParser, is_canonical

#: Bytes per row: the 24 characters of the canonical form plus the ``"|"`` separator.
ROW = 25
#: Rows parsed per numpy pass; bounds the size of the templates below (larger batches are
#: cut into chunks of this many values).
CHUNK = 4096
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: Scale of the month index in the packed value: above any milliseconds-of-month (< 2**32).
SLOT = 2.0 ** 32
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z", 24: "|"}
#: Largest tens digit of month, day, hour, minute and second (the rest is checked on values).
_TENS_LIMIT = {5: 1, 8: 3, 11: 2, 14: 5, 17: 5}
#: Weight of each digit column in the packed value ``(year * 20 + month) * SLOT + month_ms``
#: where month_ms = day * DAY_MS + milliseconds of the day.
_WEIGHTS = {0: 20_000 * SLOT, 1: 2_000 * SLOT, 2: 200 * SLOT, 3: 20 * SLOT,
            5: 10 * SLOT, 6: SLOT, 8: 10 * DAY_MS, 9: DAY_MS, 11: 10 * HOUR_MS, 12: HOUR_MS,
            14: 600_000, 15: 60_000, 17: 10_000, 18: 1_000, 20: 100, 21: 10, 22: 1}
#: Big-endian view of the hour's two ASCII digits: "23" is the largest valid hour.
_MAX_HOUR = int.from_bytes(b"23", "big")
#: Stands in for a value numpy cannot read: 24 characters that fail the byte checks.
_PLACEHOLDER = "?" * 24


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only: the tables are constants shared by every caller."""
    array.flags.writeable = False
    return array


def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-byte offset and span for CHUNK rows, and the digit weight vector of one row."""
    low = np.full(ROW, ord("0"), np.uint8)
    span = np.full(ROW, 9, np.uint8)
    for col, char in _SEPARATORS.items():
        low[col], span[col] = ord(char), 0
    for col, limit in _TENS_LIMIT.items():
        span[col] = limit
    weights = np.zeros(ROW)
    for col, weight in _WEIGHTS.items():
        weights[col] = weight
    # Tiled to a whole chunk so the byte checks are flat, contiguous numpy operations
    # (broadcasting a 25-wide row template costs several times more per call).
    return _frozen(np.tile(low, CHUNK)), _frozen(np.tile(span, CHUNK)), _frozen(weights)


def _month_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per month index ``k = year * 20 + month`` (years 0-9999, months 0-19): the end of
    the valid packed values, and the offset that turns a packed value into epoch ms.

    A packed value ``k * SLOT + (day - 1) * DAY_MS + ms_of_day`` is a real instant when it
    is below ``k * SLOT + days_in_month * DAY_MS``; year 0 and months 0 or 13-19 get -inf,
    so nothing passes there. That is the range validation ``datetime`` does.
    """
    year = np.arange(10_000, dtype=np.int64)[:, None]  # rows: years; columns: months
    month = np.arange(20, dtype=np.int64)
    real = (year >= 1) & (month >= 1) & (month <= 12)

    def days_before_march_1(y):
        # days_from_civil (H. Hinnant), year part: exact int64, per year only (cheap).
        era = y // 400
        yoe = y - era * 400
        return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 - 719_468

    # The civil year starts in March, so January and February count from the year before.
    doy = (153 * ((month + 9) % 12) + 2) // 5
    first = np.where(month <= 2, days_before_march_1(year - 1), days_before_march_1(year)) + doy
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] + [0] * 7)
    lengths = lengths + ((month == 2) & leap)
    k = (year * 20 + month) * 2 ** 32
    # Integers below 2**53 throughout, so every float here is exact.
    end = np.where(real, k + lengths * DAY_MS, -np.inf).ravel()
    offset = (first * DAY_MS - k).astype(np.float64).ravel()
    return _frozen(end), _frozen(offset)


_LOW, _SPAN, _DIGIT_WEIGHTS = _templates()
_END, _OFFSET = _month_tables()


def _encode(strings: list) -> bytes:
    """The values joined into rows of bytes, each ended by ``"|"``.

    ``"replace"`` keeps one byte per character: a non-ASCII character becomes ``"?"``,
    which fails the digit check, so that value goes to the scalar parser.
    """
    return ("|".join(strings) + "|").encode("ascii", "replace")


def _parse_rows(raw: bytes, n: int, aligned: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(whole_ms, valid) for the ``n`` values encoded in ``raw``, or None when they are not
    one 25-byte row each.

    ``aligned`` says the caller made every value 24 characters long; otherwise alignment
    is proven here: when every row is well formed, the only ``"|"`` bytes are at the ends
    of the rows, so they are the n separators and each value is 24 long; when some row is
    not, the ``"|"`` count and positions are checked.
    """
    if not n:
        return np.zeros(0), np.zeros(0, dtype=bool)
    size = ROW * n
    if len(raw) != size:
        return None
    digits = np.subtract(np.frombuffer(raw, np.uint8), _LOW[:size])  # wraps below the low
    bad = np.greater(digits, _SPAN[:size])
    malformed = bad.any()
    if malformed and not aligned and (raw.count(b"|") != n
                                      or raw[ROW - 1::ROW].count(b"|") != n):
        return None
    # One matrix-vector product gives the packed value of every row (exact integers below
    # 2**53 for well-formed rows; the others carry garbage and are masked out below).
    packed = np.dot(digits.reshape(n, ROW), _DIGIT_WEIGHTS)
    packed -= DAY_MS  # day 1 starts the month; day 00 now falls below the month's slot
    # Truncation is floor for packed >= 0; the only negative rows (year 0, month 0, day 00)
    # get index 0, whose end is -inf. A day-00 row lands at the end of the slot before its
    # own, beyond any month length there, so it is refused too.
    index = np.multiply(packed, 1 / SLOT).astype(np.intp)
    # "clip": garbage rows may index past the tables; they are refused anyway.
    valid = packed < _END.take(index, mode="clip")
    valid &= np.ndarray((n,), ">u2", raw, 11, (ROW,)) <= _MAX_HOUR
    if malformed:
        valid[np.flatnonzero(bad) // ROW] = False  # the rows holding a bad byte
    return packed + _OFFSET.take(index, mode="clip"), valid


def _only_str(chunk: list, types: list) -> list:
    """``chunk`` with every value that is not an exact ``str`` replaced by the placeholder.

    ``dict.get(type, value)`` gives the placeholder for the (few) other types present and
    the value itself otherwise, in a C-level map instead of a Python loop.
    """
    try:
        swap = dict.fromkeys(set(types) - {str}, _PLACEHOLDER)
    except TypeError:  # a class whose metaclass is unhashable
        return [v if kind is str else _PLACEHOLDER for v, kind in zip(chunk, types, strict=True)]
    return list(map(swap.get, types, chunk))


def _parse_chunk(chunk: list) -> tuple[np.ndarray, np.ndarray]:
    """(whole_ms, valid) for up to CHUNK values, one entry per value.

    Values numpy cannot read (other types, other lengths) are swapped for a placeholder
    that fails the byte checks, so they come out not valid and go to the scalar parser
    with the rest. Clean batches cost one pass; odd lengths are found from the ``"|"``
    positions in the joined bytes rather than by a Python loop over the values.
    """
    # Exact str only: the scalar parser refuses str subclasses unless it has cached their
    # second, so those must go through it.
    types = list(map(type, chunk))
    strings = chunk if types.count(str) == len(chunk) else _only_str(chunk, types)
    n = len(strings)
    try:
        raw = _encode(strings)
    except TypeError:  # a metaclass whose __eq__ fooled the checks above: go by identity
        strings = [v if kind is str else _PLACEHOLDER
                   for v, kind in zip(chunk, types, strict=True)]
        raw = _encode(strings)
    rows = _parse_rows(raw, n, aligned=False)
    if rows is None:  # some strings are not 24 characters long
        bars = np.flatnonzero(np.frombuffer(raw, np.uint8) == ord("|"))
        if len(bars) == n:  # no value holds a "|", so the bars end the values
            lengths = bars.copy()  # (np.diff with prepend costs several times more)
            lengths[1:] -= bars[:-1] + 1
        else:
            lengths = np.array([len(v) for v in strings])
        if strings is chunk:
            strings = list(chunk)
        for i in np.flatnonzero(lengths != ROW - 1).tolist():
            strings[i] = _PLACEHOLDER
        rows = _parse_rows(_encode(strings), n, aligned=True)
    return rows


def parse_column(values: list, parser: TimestampParser) -> tuple[np.ndarray, np.ndarray,
                                                                  list[int]]:
    """Parse a column of event times at once: ``(times, ok, rewrite)``.

    ``times`` is float64 epoch seconds (0.0 where not ok), ``ok`` the bool mask of values
    that are timestamps, ``rewrite`` the positions that parsed but are not in the canonical
    form (:func:`~.timestamps.is_canonical` is False). For every position the result is
    exactly ``parser(values[i])``: canonical strings are parsed with numpy, everything else
    (other types and lengths, and every canonical-looking string numpy refuses, such as a
    lowercase z or 2023-02-29) by ``parser`` itself.
    """
    n = len(values)
    if n <= CHUNK:
        whole_ms, valid = _parse_chunk(values)
        if valid.all():  # the usual batch: nothing left for the scalar parser
            return whole_ms / 1000.0, np.ones(n, dtype=bool), []
    else:
        parts = [_parse_chunk(values[lo:lo + CHUNK]) for lo in range(0, n, CHUNK)]
        whole_ms = np.concatenate([part[0] for part in parts])
        valid = np.concatenate([part[1] for part in parts])
    times = np.where(valid, whole_ms, 0.0) / 1000.0
    ok = valid.copy()
    rewrite = []
    for i in np.flatnonzero(~valid).tolist():
        t = parser(values[i])
        if t is not None:
            times[i] = t
            ok[i] = True
            if not is_canonical(values[i]):
                rewrite.append(i)
    return times, ok, rewrite


def floor_start(times: np.ndarray, size: float) -> np.ndarray:
    """Start of the window of ``size`` seconds holding each time: ``(t // size) * size``.

    numpy's float ``floor_divide`` uses CPython's algorithm (fmod, then correct the
    quotient), so every element equals Python's ``(t // size) * size`` to the last bit;
    the tests check this over arbitrary floats. Like Python, huge quotients overflow to
    inf quietly (no numpy warning).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.asarray(times, dtype=np.float64) // size) * size
