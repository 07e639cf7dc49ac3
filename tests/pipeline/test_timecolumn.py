"""Vectorized event-time parsing: parse_column agrees with the scalar parser bit for bit."""

from __future__ import annotations

import calendar
import math
import warnings
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamdash.pipeline.timecolumn import CHUNK, floor_start, parse_column
from streamdash.pipeline.timestamps import TimestampParser, is_canonical

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class Text(str):
    """A str subclass: the scalar parser refuses these unless their second is cached."""


def canonical(dt: datetime) -> str:
    """The canonical form of ``dt`` (naive = UTC), milliseconds truncated."""
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z")


def expected(value):
    """What a fresh scalar parser says (a fresh one each time: its cache makes str
    subclasses depend on history, which parse_column must not be compared against)."""
    return TimestampParser()(value)


def assert_matches_scalar(values, parser=None, reference=expected):
    """parse_column(values) equals the scalar parser value for value, to the last bit."""
    before = list(values)
    times, ok, rewrite = parse_column(values, parser or TimestampParser())
    assert all(a is b for a, b in zip(values, before, strict=True))  # input left as is
    assert times.dtype == np.float64 and ok.dtype == np.bool_
    assert times.shape == ok.shape == (len(values),)
    want = [reference(v) for v in values]
    for i, (value, t) in enumerate(zip(values, want, strict=True)):
        assert bool(ok[i]) == (t is not None), (i, value)
        assert float(times[i]).hex() == (0.0 if t is None else t).hex(), (i, value)
    assert rewrite == [i for i, (value, t) in enumerate(zip(values, want, strict=True))
                       if t is not None and not is_canonical(value)]
    assert all(type(i) is int for i in rewrite)
    return times, ok, rewrite


instants = st.datetimes(min_value=datetime(1, 1, 1),
                        max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999))
canonicals = instants.map(canonical)


def _digits(width, top):
    return st.integers(0, top).map(lambda v: f"{v:0{width}d}")


#: Canonical shape, arbitrary digits: every range check (month 00/13+, day 00/30 Feb,
#: hour 24+, minute/second 60+, year 0000) is hit often.
digit_soup = st.builds(
    lambda y, mo, d, h, mi, s, ms: f"{y}-{mo}-{d}T{h}:{mi}:{s}.{ms}Z",
    _digits(4, 9999), st.one_of(_digits(2, 13), _digits(2, 99)),
    st.one_of(_digits(2, 32), _digits(2, 99)), st.one_of(_digits(2, 25), _digits(2, 99)),
    _digits(2, 99), _digits(2, 99), _digits(3, 999))

#: Canonical strings with one character replaced: separators, case, non-ASCII, "|" ...
mutants = st.builds(
    lambda text, at, char: text[:at] + char + text[at + 1:],
    canonicals, st.integers(0, 23),
    st.sampled_from(list("0123456789-T:.Z|zt ,+/?") + ["é", "٣", "３", "\ud800", "\x00"]))

others = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.binary(max_size=30), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    canonicals.map(Text),
    canonicals.map(lambda v: v[:-1]),                     # naive: UTC, not canonical
    canonicals.map(lambda v: v[:-1] + "+02:00"),          # offset
    canonicals.map(lambda v: v[:-5] + "Z"),               # no milliseconds
    canonicals.map(lambda v: v[:-1] + "123Z"),            # microseconds
    canonicals.map(lambda v: v[:-1] + "z"),               # lowercase z
    st.integers(-10 ** 12, 10 ** 14),                     # epoch seconds or ms
)


@SETTINGS
@given(st.lists(instants, max_size=50))
def test_canonical_values_equal_the_scalar_parser(dts):
    """Canonical strings of any instant in years 1-9999 parse to the scalar parser's floats."""
    values = [canonical(dt) for dt in dts]
    times, ok, rewrite = assert_matches_scalar(values)
    assert ok.all() and rewrite == []


@SETTINGS
@given(st.lists(digit_soup, min_size=1, max_size=40))
def test_range_validation_matches_datetime(values):
    """Canonical-shaped strings with any digits are accepted exactly when datetime accepts."""
    assert_matches_scalar(values)


@SETTINGS
@given(st.lists(st.one_of(canonicals, canonicals, canonicals, digit_soup, mutants, others),
                max_size=60))
def test_mixed_batches_match_the_scalar_parser(values):
    """Any mix of canonical, malformed, non-canonical and non-string values matches."""
    assert_matches_scalar(values)


@SETTINGS
@given(st.lists(canonicals, min_size=1, max_size=40), st.data())
def test_a_few_odd_values_among_canonical_ones(values, data):
    """The common mixed batch (mostly canonical, a few odd values) matches value for value."""
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(values) - 1))
        values[at] = data.draw(st.one_of(mutants, others, digit_soup))
    assert_matches_scalar(values)


@pytest.mark.parametrize("value", [
    "2024-06-01T00:00:00.123Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "2000-02-29T12:00:00.500Z",
    "2024-02-29T23:59:59.999Z", "2023-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z",
    "2024-06-31T00:00:00.000Z", "2024-13-01T00:00:00.000Z", "2024-00-01T00:00:00.000Z",
    "2024-06-00T00:00:00.000Z", "2024-06-00T24:00:00.000Z", "2024-06-01T24:00:00.000Z",
    "2024-06-01T23:60:00.000Z", "2024-06-01T23:59:60.000Z", "0000-01-01T00:00:00.000Z",
    "2024-13-45T25:61:00Z", "2024-06-01T00:00:00.000z", "2024-06-01t00:00:00.000Z",
    "2024-06-01 00:00:00.000Z", "2024-06-01T00:00:00,000Z", "2024-06-01T00:00:00+0000",
    "2024-06-01T02:00:00+02:00", "2024-06-01T00:00:00.000", "2024-06-01T00:00:00Z",
    "2024-06-01T00:00:00.000+00:00", "2024-06-01T00:00:00.12|Z", "2024-06-01T00:00:00.123|",
    "+024-06-01T00:00:00.000Z", "2024-06-01T00:00:00.1 3Z", "٢٠٢٤-06-01T00:00:00.000Z",
    "２０２４-06-01T00:00:00.000Z", "2024-06-01T00:00:00.00\ud800Z", "", "Z", "x" * 100,
    Text("2024-06-01T00:00:00.123Z"), b"2024-06-01T00:00:00.123Z", None, True, False,
    1717200000, 1717200000.5, 1717200000500, -1.5, math.nan, math.inf, 10 ** 30, [1], {},
])
def test_edge_cases_alone_and_among_canonical_values(value):
    """Each edge case gives the scalar parser's answer alone, first, last and mid-batch."""
    fill = ["2024-06-01T00:00:00.123Z", "2024-06-01T00:00:01.999Z"]
    for values in ([value], [value, *fill], [*fill, value], [fill[0], value, fill[1]]):
        assert_matches_scalar(values)


def test_every_day_of_leap_and_common_years():
    """Every day (and the invalid days 29-31 after each month's end) of years chosen for the
    leap rules and the range limits matches datetime."""
    values = []
    for year in (1, 4, 100, 400, 1600, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999):
        for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
            day = datetime.fromordinal(ordinal)
            values += [canonical(day), canonical(day.replace(hour=23, minute=59, second=59,
                                                             microsecond=999_000))]
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            values += [f"{year:04d}-{month:02d}-{d:02d}T00:00:00.000Z"
                       for d in range(last + 1, 33)]
    times, ok, _ = assert_matches_scalar(values)
    assert ok.sum() == sum(1 for v in values if expected(v) is not None)


def test_batches_larger_than_a_chunk():
    """Batches spanning several numpy chunks, with odd values here and there, still match."""
    start = datetime(2024, 6, 1)
    values: list = [canonical(start + timedelta(milliseconds=7 * i))
                    for i in range(2 * CHUNK + 5)]
    for at, odd in ((0, None), (CHUNK - 1, "2023-02-29T00:00:00.000Z"), (CHUNK, 17),
                    (CHUNK + 1, "2024-06-01T00:00:00Z"),
                    (2 * CHUNK + 4, "2024-06-01T00:00:00.000z")):
        values[at] = odd
    assert_matches_scalar(values)
    clean = [canonical(start + timedelta(seconds=i)) for i in range(CHUNK + 1)]
    times, ok, rewrite = assert_matches_scalar(clean)
    assert ok.all() and rewrite == []


def test_empty_column():
    """An empty column gives empty arrays and no rewrites."""
    times, ok, rewrite = parse_column([], TimestampParser())
    assert times.shape == ok.shape == (0,) and rewrite == []


def test_values_that_are_not_one_row_each():
    """Lengths that add up to whole rows (23 + 25) or values holding the "|" separator
    cannot shift the byte rows: each value is judged on its own."""
    text = "2024-06-01T00:00:00.123Z"
    assert_matches_scalar([text[:23], "Z" + text, text])
    assert_matches_scalar([text[:23] + "|", text, text[:22] + "|Z"])
    assert_matches_scalar([text[:20], text + "0000", text, text])


def test_str_subclasses_go_to_the_scalar_parser():
    """A str subclass is answered by the given parser, whatever its cache holds."""
    text = "2024-06-01T00:00:00.123Z"
    _, ok, _ = parse_column([Text(text), text], TimestampParser())
    assert ok.tolist() == [False, True]  # a fresh parser refuses the subclass
    warm = TimestampParser()
    warm(text)  # caches the second, so the parser's fast path now takes the subclass
    assert_matches_scalar([Text(text), text], parser=warm, reference=warm)


class _Unhashable(type):
    """A metaclass whose classes cannot be hashed (so they cannot go in a set)."""

    __hash__ = None


class _EqualToAll(type):
    """A metaclass whose classes claim to equal anything, str included."""

    def __eq__(cls, other):
        return True

    __hash__ = type.__hash__


def test_values_of_exotic_classes_go_to_the_scalar_parser():
    """Objects whose class is unhashable or claims to equal str are still told apart."""
    odd = [_Unhashable("U", (), {})(), _EqualToAll("E", (), {})()]
    text = "2024-06-01T00:00:00.123Z"
    for value in odd:
        assert_matches_scalar([text, value, text])
        assert_matches_scalar([value])
    assert_matches_scalar([text, *odd, None, 5, text])


def test_result_does_not_depend_on_the_parser_cache():
    """A parser whose cache already holds the batch's seconds gives the same result."""
    values = [canonical(datetime(2024, 6, 1) + timedelta(milliseconds=311 * i))
              for i in range(300)] + ["2024-06-01T00:00:00.000z", None]
    warm = TimestampParser()
    for value in values:
        warm(value)
    cold_result = parse_column(values, TimestampParser())
    warm_result = parse_column(values, warm)
    assert cold_result[0].tobytes() == warm_result[0].tobytes()
    assert cold_result[1].tolist() == warm_result[1].tolist()
    assert cold_result[2] == warm_result[2] == [300]


sizes = st.one_of(st.sampled_from([10.0, 0.5, 0.1, 3.7, 1.0, 60.0, 86_400.0, 1e-3]),
                  st.floats(min_value=1e-6, max_value=1e9))
times_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e11, max_value=1e11),
    st.integers(-10 ** 12, 10 ** 12).map(lambda ms: ms / 1000),
)


@SETTINGS
@given(st.lists(times_floats, min_size=1, max_size=50), sizes)
def test_floor_start_equals_python_floor_division(times, size):
    """floor_start gives Python's (t // size) * size for every element, to the last bit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Python overflows quietly to inf; so must this
        got = floor_start(np.array(times), size)
    assert got.dtype == np.float64
    assert [float(v).hex() for v in got] == [((t // size) * size).hex() for t in times]


@pytest.mark.parametrize("t", [-0.0, 0.0, -1e-300, 1e-300, -5.0, 5.0, 0.3, -0.3, 1e308, -1e308,
                               1717200000.123, -62135596800.0, 253402300799.999])
@pytest.mark.parametrize("size", [10.0, 0.5, 0.1, 3.7, 1e-3])
def test_floor_start_edge_values(t, size):
    """Signed zeros, tiny and huge values and fractional sizes round like Python."""
    got = float(floor_start(np.array([t]), size)[0])
    assert got.hex() == ((t // size) * size).hex()
