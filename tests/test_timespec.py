"""Tests for streamdash.timespec: ISO-8601 and relative time bounds."""

import pytest

from streamdash.timespec import parse_duration, parse_range, parse_time

NOW = 1_800_000_000.0


def test_relative_spans_count_back_from_now():
    """``15m``, ``2h``, ``7d``, ``1w`` and ``30s`` are that long before now."""
    assert parse_time("15m", NOW) == NOW - 900
    assert parse_time("2h", NOW) == NOW - 7200
    assert parse_time("7d", NOW) == NOW - 7 * 86400
    assert parse_time("1w", NOW) == NOW - 7 * 86400
    assert parse_time("1.5s", NOW) == NOW - 1.5
    assert parse_time("now", NOW) == NOW
    assert parse_duration("10M") == 600
    assert parse_duration("250ms") == 0.25  # the settings' units: one reader for both


@pytest.mark.parametrize("text", ["15", "-5m", "5x", "", "1e3s"])
def test_a_span_needs_a_unit_and_no_sign(text):
    """A query span is a non-negative number with a unit; anything else names the parameter."""
    with pytest.raises(ValueError, match="step: expected a span like 30s"):
        parse_duration(text, "step")


def test_iso_times_with_and_without_zone():
    """ISO-8601 with Z or an offset is honoured; without a zone it is UTC."""
    assert parse_time("1970-01-01T00:01:00Z", NOW) == 60
    assert parse_time("1970-01-01T01:01:00+01:00", NOW) == 60
    assert parse_time("1970-01-01T00:01:00", NOW) == 60


@pytest.mark.parametrize("text", ["", "yesterday", "15", "15x", "-5m", "2026-13-01"])
def test_bad_times_name_the_parameter(text):
    """Unparseable values raise ValueError naming the parameter and the value."""
    with pytest.raises(ValueError, match="since"):
        parse_time(text, NOW, "since")


def test_range_defaults_and_order():
    """``until`` defaults to now, ``since`` to the default span; since after until is refused."""
    assert parse_range(None, None, NOW, "1h") == (NOW - 3600, NOW)
    assert parse_range("2h", "1h", NOW) == (NOW - 7200, NOW - 3600)
    with pytest.raises(ValueError, match="after until"):
        parse_range("1h", "2h", NOW)
