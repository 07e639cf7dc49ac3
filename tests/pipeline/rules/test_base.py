"""What the rules share: reading a column of records."""

from __future__ import annotations

from streamdash.pipeline.rules import column


def test_column_handles_missing_fields():
    """column() reads a field from every record, None where it is missing."""
    assert column([{"a": 1}, {"a": 2}], "a") == [1, 2]
    assert column([{"a": 1}, {}], "a") == [1, None]
