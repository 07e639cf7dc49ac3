"""Field hints guessed from a file's head (time, key and value columns) for replays."""

from __future__ import annotations

import csv
import json
import time

from streamdash.sources import sniff
from streamdash.sources.fields import parse_fields
from streamdash.sources.replay import ReplaySource, infer_number


def write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def readings(n=30):
    return [{"id": i, "ts": f"2026-01-01T00:00:{i:02d}Z", "sensor": f"s-{i % 3}",
             "temperature": 20.5 + i % 4, "note": f"reading {i}"} for i in range(n)]


def test_csv_replay_picks_time_key_and_value_columns(tmp_path):
    """A CSV of readings: time ``ts``, key ``sensor`` (3 values; the unique ``note`` is not a
    key), value ``temperature`` (``id`` is skipped as a value)."""
    src = ReplaySource(path=write_csv(tmp_path / "r.csv", readings()))
    h = src.hints
    assert (h.time_field, h.key_field, h.value_field) == ("ts", "sensor", "temperature")
    assert h.numeric_fields == ("id", "temperature")


def test_jsonl_and_unnamed_iso_time_column(tmp_path):
    """In JSON Lines a text column of ISO times is the time even when not named like one;
    malformed lines and non-objects in the head are skipped."""
    rows = [{"when": f"2026-01-01T00:00:{i:02d}+00:00", "city": c, "pm25": i}
            for i, c in enumerate(["a", "b"] * 5)]
    path = tmp_path / "r.jsonl"
    path.write_text("not json\n[1]\n" + "".join(json.dumps(r) + "\n" for r in rows))
    h = ReplaySource(path=path).hints
    assert (h.time_field, h.key_field, h.value_field) == ("when", "city", "pm25")


def test_no_guess_for_columns_that_do_not_qualify():
    """No time when a time-named column has a gap or a bad value; no key with one value or
    more than MAX_KEY_VALUES; numbers as text are not ISO times."""
    rows = [{"time": "2026-01-01T00:00:00Z", "unit": "C", "code": "10", "v": 1},
            {"time": None, "unit": "C", "code": "11", "v": 2}]
    h = sniff.sniff_hints(rows)
    assert (h.time_field, h.key_field, h.value_field) == ("", "code", "v")
    many = [{"k": f"id-{i}", "ts": "yesterday"} for i in range(sniff.MAX_KEY_VALUES + 1)]
    assert sniff.sniff_hints(many).key_field == "" and sniff.sniff_hints(many).time_field == ""
    assert sniff.sniff_hints([]).value_field == "value"


def test_settings_win_over_the_guess(tmp_path):
    """A replay's own ``time_field`` is kept; with a ``fields`` map its hints come from it."""
    path = write_csv(tmp_path / "r.csv", readings())
    assert ReplaySource(path=path, time_field="note").hints.time_field == "note"
    mapped = ReplaySource(path=path, fields=parse_fields(
        "source.fields", {"t": "ts:timestamp", "v": "temperature:float"}))
    assert (mapped.hints.time_field, mapped.hints.value_field) == ("t", "v")
    assert ReplaySource(path=tmp_path / "missing.csv").hints.time_field == ""


def test_head_is_bounded_in_bytes_and_rows(tmp_path):
    """A hostile file (one 20 MiB line, or a million rows) costs at most SAMPLE_BYTES read and
    SAMPLE_ROWS records, and a line cut by the byte bound is not parsed."""
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"x": "a" * (20 << 20)}) + "\n")
    started = time.perf_counter()
    assert sniff.read_head(big, "jsonl") == []
    assert time.perf_counter() - started < 1.0
    long = tmp_path / "long.csv"
    long.write_text("ts,v\n" + "".join(f"2026-01-01T00:00:00Z,{i}\n" for i in range(1_000_000)))
    rows = sniff.read_head(long, "csv", infer_number)
    assert len(rows) == sniff.SAMPLE_ROWS and rows[-1]["v"] == sniff.SAMPLE_ROWS - 1
    cut = tmp_path / "cut.csv"
    line = "x" * 3000 + ",12345\n"  # the byte bound falls inside a line, before 200 rows
    cut.write_text("pad,v\n" + line * (sniff.SAMPLE_BYTES // len(line) + 10))
    rows = sniff.read_head(cut, "csv", infer_number)
    assert len(rows) < sniff.SAMPLE_ROWS and all(r["v"] == 12345 for r in rows)
