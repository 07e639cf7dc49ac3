"""Tests for streamdash.store.history.rows: how a queued item becomes rows."""

from streamdash.store.history import event_time


def test_event_time_reads_epoch_and_iso_fields():
    """Event times come from ts/at fields as epoch or ISO-8601, else the default."""
    assert event_time({"ts": 5}, 1.0) == 5.0
    assert event_time({"at": "1970-01-01T00:00:10Z"}, 1.0) == 10.0
    assert event_time({"at": "garbage"}, 1.0) == 1.0
    assert event_time([1, 2], 3.0) == 3.0
