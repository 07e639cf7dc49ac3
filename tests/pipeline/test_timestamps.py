"""Event-time parsing: ISO-8601 and epoch numbers, and the cached fast path."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.errors import ConfigError
from streamdash.pipeline.timestamps import (
    TimestampParser,
    is_canonical,
    parse_time_setting,
    parse_timestamp,
)


@pytest.mark.parametrize("value,expected", [
    ("2024-06-01T00:00:00Z", 1717200000.0),
    ("2024-06-01T00:00:00", 1717200000.0),                 # naive = UTC
    ("2024-06-01T02:00:00+02:00", 1717200000.0),
    ("2024-06-01T00:00:00.123456Z", 1717200000.123456),
    (1717200000, 1717200000.0),                             # epoch seconds
    (1717200000.5, 1717200000.5),
    (1717200000500, 1717200000.5),                          # epoch milliseconds (auto)
])
def test_parses_iso_and_epoch(value, expected):
    """ISO strings (naive = UTC, Z or offsets) and epoch seconds or milliseconds parse to UTC."""
    assert parse_timestamp(value) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", ["not-a-time", "", "2024-13-45T25:61:00Z", True, None,
                                   math.nan, math.inf, [1], {"t": 1}, "x" * 100, 10 ** 30])
def test_refuses_non_timestamps(value):
    """Garbage, bool, NaN, infinity, containers, huge strings and out-of-range epochs are None."""
    assert parse_timestamp(value) is None


def test_explicit_units():
    """unit='ms' and unit='s' override the automatic choice."""
    assert parse_timestamp(1000, "ms") == 1.0
    assert parse_timestamp(1717200000500, "s") is None  # year > 9999 in seconds


def test_fast_path_matches_datetime_exactly():
    """Cached parsing gives the very same float as datetime.timestamp() for every millisecond."""
    parser = TimestampParser()
    for ms in range(0, 2000, 7):
        text = f"2024-06-01T00:00:{ms // 1000:02d}.{ms % 1000:03d}Z"
        ref = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        assert parser(text) == ref
        assert parser(text) == ref  # second call: from the cache
    assert parser.seconds


@settings(max_examples=500, deadline=None)
@given(st.datetimes(datetime(1, 1, 1, 0, 0, 1), datetime(9999, 12, 31, 23, 59, 58)),
       st.integers(0, 999), st.integers(0, 999))
def test_fast_path_matches_datetime_in_every_year(when, ms, other_ms):
    """The second remembered from one time (its milliseconds recovered from the parsed
    float, not parsed again) gives every other millisecond of that second exactly as
    datetime.timestamp() does, from year 1 to 9999."""
    parser = TimestampParser()
    second = when.replace(microsecond=0).isoformat()
    first, other = f"{second}.{ms:03d}Z", f"{second}.{other_ms:03d}Z"
    for text in (first, other, other):  # a full parse, then the cache twice
        ref = datetime.fromisoformat(text[:-1] + "+00:00").timestamp()
        assert parser(text) == ref
    assert list(parser.seconds) == [second]


def test_fast_path_never_accepts_what_the_slow_path_refuses():
    """Strings sharing a cached prefix but with a bad tail fall back to the strict parse."""
    parser = TimestampParser()
    parser("2024-06-01T00:00:00.120Z")
    assert parser("2024-06-01T00:00:00.12xZ") is None
    assert parser("2024-06-01T00:00:00.-12Z") is None
    assert parser("2024-06-01T00:00:00.12") == pytest.approx(1717200000.12)
    assert parser("2024-06-01T00:00:00.1234Z") == pytest.approx(1717200000.1234)
    assert parser(1717200000) == 1717200000.0


def test_cache_is_bounded():
    """The prefix cache is cleared when it reaches its size."""
    parser = TimestampParser(cache_size=5)
    for s in range(20):
        parser(f"2024-06-01T00:00:{s:02d}.000Z")
    assert len(parser.seconds) <= 5


def test_canonical_shape_and_settings():
    """is_canonical spots the stored form; settings times accept ISO or epoch, else ConfigError."""
    assert is_canonical("2024-06-01T00:00:00.000Z")
    assert not is_canonical("2024-06-01 00:00:00.000Z")
    assert parse_time_setting("k", "2024-06-01T00:00:00Z") == 1717200000.0
    with pytest.raises(ConfigError) as err:
        parse_time_setting("schema.fields.ts.min", "soon")
    assert err.value.key == "schema.fields.ts.min"
    assert parse_timestamp("2024-06-01T00:00:00z") == 1717200000.0
    assert datetime.fromtimestamp(parse_timestamp("2024-06-01T00:00:00"), timezone.utc).hour == 0
