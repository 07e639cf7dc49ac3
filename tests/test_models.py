"""Tests for the plain data types' helpers (streamdash/models.py)."""

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.models import utc_iso
from streamdash.pipeline.timestamps import MAX_EPOCH, MIN_EPOCH, is_canonical, parse_timestamp

YEAR_1000 = datetime(1000, 1, 1, tzinfo=timezone.utc).timestamp()


def strftime_iso(ts):
    """The former formatting (strftime), kept as the reference from year 1000 on."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@settings(max_examples=500, deadline=None)
@given(st.floats(YEAR_1000, MAX_EPOCH) | st.integers(int(YEAR_1000), int(MAX_EPOCH)))
def test_utc_iso_is_the_strftime_form_to_the_truncated_millisecond(ts):
    """From year 1000 on, utc_iso gives what strftime gives, milliseconds truncated."""
    assert utc_iso(ts) == strftime_iso(ts)


@settings(max_examples=200, deadline=None)
@given(st.floats(MIN_EPOCH, MAX_EPOCH))
def test_utc_iso_is_canonical_for_every_representable_time(ts):
    """Every representable time formats to the canonical 24 characters (a four-digit year,
    also before year 1000), which parse back to within a millisecond of it."""
    text = utc_iso(ts)
    assert is_canonical(text)
    assert abs(ts - parse_timestamp(text)) < 0.0011


def test_utc_iso_of_none_is_none():
    """No time, no text."""
    assert utc_iso(None) is None
