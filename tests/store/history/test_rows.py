"""Tests for streamdash.store.history.rows: how a queued item becomes rows."""

import json

import pytest

from streamdash.store.history import event_time
from streamdash.store.history.rows import capped_table, item_size, statements


def test_event_time_reads_epoch_and_iso_fields():
    """Event times come from ts/at fields as epoch or ISO-8601, else the default."""
    assert event_time({"ts": 5}, 1.0) == 5.0
    assert event_time({"at": "1970-01-01T00:00:10Z"}, 1.0) == 10.0
    assert event_time({"at": "garbage"}, 1.0) == 1.0
    assert event_time([1, 2], 3.0) == 3.0


def test_a_batch_item_becomes_one_row_per_event_stamped_with_its_own_time():
    """A dlq_batch is one statement with a row per rejection (objects asked for their dict),
    each at its event time; it counts as that many rows and is capped as the dlq table."""
    class Rejection:
        def to_dict(self):
            return {"at": 7.0, "source": "sim", "record": {"id": 2}, "reasons": ["r"]}

    item = ("dlq_batch", 1.0, [{"source": "sim", "record": {"id": 1}, "reasons": []},
                               Rejection()])
    sql, rows = statements(item)
    assert sql.startswith("INSERT INTO dlq ")
    assert rows == [(1.0, "sim", "[]", '{"id": 1}'), (7.0, "sim", '["r"]', '{"id": 2}')]
    assert item_size(item) == 2 and capped_table(item) == "dlq"


def test_single_items_map_to_their_table_and_runs_are_not_capped():
    """Snapshots, alerts and errors go to their capped tables; run rows to the uncapped runs;
    an empty batch still yields a statement (with no rows)."""
    sql, rows = statements(("snapshot", 5.0, {"x": 1}))
    assert sql.startswith("INSERT INTO snapshots") and rows == [(5.0, '{"x": 1}')]
    _, rows = statements(("alerts", 5.0, {"name": "nulls", "status": "firing", "level": "info"}))
    assert rows[0][1:4] == ("nulls", "firing", "info")
    assert capped_table(("snapshot", 0, {})) == "snapshots"
    assert capped_table(("run_start", 0, {})) is None and item_size(("run_stop", 0, {})) == 1
    sql, rows = statements(("windows_batch", 1.0, []))
    assert sql.startswith("INSERT INTO windows") and rows == []


def test_hostile_text_becomes_what_both_databases_store():
    """NUL characters and lone surrogates (a hostile body's "\\u0000", "\\ud800") become
    U+FFFD in text columns and escapes in JSON; a snapshot's NaN or infinity becomes null."""
    _, rows = statements(("errors", 1.0, {"source": "a\x00b", "reason": "x\ud800y",
                                          "detail": "z\udfff"}))
    ts, source, kind, message, data = rows[0]
    assert (source, message) == ("a\ufffdb", "x\ufffdy")
    assert data.encode("utf-8") and json.loads(data)["detail"] == "z\udfff"
    _, rows = statements(("snapshot", 1.0, {"x": float("nan"), "y": float("-inf"), "z": 1.5}))
    assert json.loads(rows[0][1]) == {"x": None, "y": None, "z": 1.5}
    assert rows[0][1].isascii() and "NaN" not in rows[0][1]


def test_a_run_stop_marks_the_run_this_writer_started():
    """run_stop updates the run started at its ``started`` time, not just the newest run:
    another process sharing the database may have started one since."""
    sql, rows = statements(("run_stop", 9.0, {"started": 5.0}))
    assert sql.startswith("UPDATE runs SET stopped") and "started = ?" in sql
    assert rows == [(9.0, 5.0)]


def test_an_unknown_item_kind_is_refused_by_name():
    """A queued item of a kind no table takes raises ValueError naming the kind."""
    with pytest.raises(ValueError, match="unknown history item kind 'bogus'"):
        statements(("bogus", 1.0, {}))
