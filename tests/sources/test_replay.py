"""The replay source: JSON Lines and CSV at a fixed rate or a speed factor, with loop."""

from __future__ import annotations

import json

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.sources import build_source
from streamdash.sources.fields import parse_fields
from streamdash.sources.replay import ReplaySource, infer_number
from streamdash.testing import FakeClock


def jsonl(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_fixed_rate_releases_records_as_time_passes(tmp_path):
    """At 10 records/s, 0.45 s after the start 5 records are due; the rest follow with time."""
    path = jsonl(tmp_path, [{"id": i} for i in range(30)])
    clock = FakeClock(0.0)
    src = ReplaySource(path=path, rate=10, clock=clock)
    assert src.fetch() == [{"id": 0}]
    clock.advance(0.45)
    assert [r["id"] for r in src.fetch()] == [1, 2, 3, 4]
    clock.advance(10)
    assert [r["id"] for r in src.fetch()] == list(range(5, 30))
    assert src.fetch() == [] and src.finished and src.stats["emitted"] == 30


def test_max_batch_caps_one_fetch_and_keeps_the_rest_due(tmp_path):
    """A backlog larger than max_batch is split over successive fetches, none lost."""
    path = jsonl(tmp_path, [{"id": i} for i in range(25)])
    clock = FakeClock(0.0)
    src = ReplaySource(path=path, rate=1000, max_batch=10, clock=clock)
    clock.advance(0)
    src.fetch()
    clock.advance(1)
    sizes = [len(src.fetch()) for _ in range(4)]
    assert sizes == [10, 10, 4, 0]


def test_speed_factor_follows_event_times(tmp_path):
    """With speed 10, records 0, 10, 20 s apart in event time come out 0, 1, 2 s apart."""
    rows = [{"id": i, "ts": f"2026-01-01T00:00:{i * 10:02d}Z"} for i in range(4)]
    path = jsonl(tmp_path, rows)
    clock = FakeClock(0.0)
    src = ReplaySource(path=path, speed=10, time_field="ts", clock=clock)
    assert [r["id"] for r in src.fetch()] == [0]
    clock.advance(0.99)
    assert src.fetch() == []
    clock.advance(0.02)
    assert [r["id"] for r in src.fetch()] == [1]
    clock.advance(5)
    assert [r["id"] for r in src.fetch()] == [2, 3]


def test_loop_restarts_the_file_and_keeps_spacing(tmp_path):
    """With loop the file starts over at its end; counts of passes are kept."""
    rows = [{"id": i, "t": 1_700_000_000 + i} for i in range(3)]
    path = jsonl(tmp_path, rows)
    clock = FakeClock(0.0)
    src = ReplaySource(path=path, speed=1, time_field="t", loop=True, clock=clock)
    got = []
    for _ in range(7):
        got += [r["id"] for r in src.fetch()]
        clock.advance(1)
    assert got == [0, 1, 2, 0, 1, 2, 0] and src.stats["loops"] == 2 and not src.finished
    rate_src = ReplaySource(path=path, rate=100, loop=True, max_batch=7, clock=FakeClock(0.0))
    assert [r["id"] for r in rate_src.fetch()] == [0]
    rate_src.clock.advance(1)
    assert [r["id"] for r in rate_src.fetch()] == [1, 2, 0, 1, 2, 0, 1]


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path):
    """A line that is not JSON is an ingestion error naming file:line; non-objects pass on."""
    path = jsonl(tmp_path, [{"id": 1}, "{oops", "", "7", {"id": 2}])
    events: list = []
    src = ReplaySource(path=path, rate=1000, on_error=events.append, clock=FakeClock(0.0))
    out = src.fetch()
    src.clock.advance(1)
    assert out + src.fetch() == [{"id": 1}, 7, {"id": 2}]
    assert events[0]["kind"] == "not_json" and "data.jsonl:2" in events[0]["reason"]
    assert src.stats["malformed"] == 1


def test_a_runtime_counts_and_lists_the_bad_lines(tmp_path):
    """Bound to a runtime, the bad lines reach its event bus: counted in ``ingest_errors``
    and kept in its ingestion-error log (what /api/errors and the history show)."""
    from streamdash.runtime import Runtime

    path = jsonl(tmp_path, [{"id": 1}, "{oops", {"id": 2}, "{again"])
    runtime = Runtime(Settings({}), ReplaySource(path=path, rate=1000, clock=FakeClock(0.0)))
    runtime.source.fetch()
    runtime.source.clock.advance(1)
    runtime.source.fetch()
    assert runtime.metrics.snapshot()["counters"]["ingest_errors"] == 2
    assert [e["kind"] for e in runtime.ingest_errors.recent()] == ["not_json", "not_json"]


def test_lines_past_max_line_chars_are_skipped_and_named_by_line(tmp_path):
    """A JSON line or CSV record longer than max_line_chars is reported at its exact line and
    skipped (never held whole); the lines after it, a quoted multi-line cell too, still play."""
    path = jsonl(tmp_path, [{"id": 1}, {"id": "x" * 500}, "{oops", {"id": 3}])
    events: list = []
    src = ReplaySource(path=path, rate=1000, max_line_chars=100, on_error=events.append,
                       clock=FakeClock(0.0))
    out = src.fetch()
    src.clock.advance(1)
    assert out + src.fetch() == [{"id": 1}, {"id": 3}]
    assert [(e["kind"], e["reason"].split(": ")[0]) for e in events] == [
        ("too_long", "data.jsonl:2"), ("not_json", "data.jsonl:3")]
    csv_path = tmp_path / "data.csv"
    csv_path.write_text('a,b\n1,2\n3,' + "x" * 500 + '\n"5\nfive",6\n' + "y" * 300 + '\n7,8\n')
    events.clear()
    src = ReplaySource(path=csv_path, rate=1000, max_line_chars=100, on_error=events.append,
                       clock=FakeClock(0.0))
    out = src.fetch()
    src.clock.advance(1)
    assert out + src.fetch() == [{"a": 1, "b": 2}, {"a": "5\nfive", "b": 6}, {"a": 7, "b": 8}]
    assert [e["reason"].split(": ")[0] for e in events] == ["data.csv:3", "data.csv:6"]
    assert src.stats["malformed"] == 2
    with pytest.raises(ConfigError) as err:
        build_source(Settings({"source": {"type": "replay", "path": str(path),
                                          "max_line_chars": 0}}))
    assert err.value.key == "source.max_line_chars"


def test_untimed_records_go_out_with_their_predecessor(tmp_path):
    """In speed mode a record without a usable time does not stall the replay."""
    path = jsonl(tmp_path, [{"t": 100}, {"t": "never"}, {"x": 1}, {"t": 101}])
    clock = FakeClock(0.0)
    src = ReplaySource(path=path, speed=1, time_field="t", clock=clock)
    assert len(src.fetch()) == 3 and src.stats["untimed"] == 2
    clock.advance(1)
    assert src.fetch() == [{"t": 101}]


def test_csv_with_number_inference_and_field_map(tmp_path):
    """CSV rows become records; numbers are inferred, ids with leading zeros stay text."""
    path = tmp_path / "readings.csv"
    path.write_text("sensor,temp,count,when\n007,21.5,3,2026-01-01T00:00:00Z\n"
                    "008,,4,2026-01-01T00:00:01Z\n")
    src = ReplaySource(path=path, rate=100, clock=FakeClock(0.0),
                       fields=parse_fields("f", {"sensor": "sensor:str", "temp": "temp:float",
                                                 "ts": "when:timestamp"}))
    out = src.fetch()
    src.clock.advance(1)
    assert out + src.fetch() == [
        {"sensor": "007", "temp": 21.5, "ts": "2026-01-01T00:00:00.000Z"},
        {"sensor": "008", "temp": None, "ts": "2026-01-01T00:00:01.000Z"}]
    assert src.hints.time_field == "ts"
    assert [infer_number(v) for v in ("12", "-3.5", "1e3", "0.5", "00", "x", "")] == \
        [12, -3.5, 1000.0, 0.5, "00", "x", None]


def test_build_from_settings_and_config_errors(tmp_path):
    """The registry builds a replay source; missing files and bad pacing name their key."""
    path = jsonl(tmp_path, [{"id": 1}])
    src = build_source(Settings({"source": {"type": "replay", "path": str(path), "rate": 5,
                                            "loop": "true"}}))
    assert isinstance(src, ReplaySource) and src.rate == 5 and src.loop
    assert src.describe()["format"] == "jsonl"
    src.close()
    cases = [({}, "source.path"), ({"path": str(tmp_path / "nope.jsonl")}, "source.path"),
             ({"path": str(path), "rate": 1, "speed": 2}, "source.speed"),
             ({"path": str(path), "speed": 2}, "source.time_field"),
             ({"path": str(path), "format": "xml"}, "source.format"),
             ({"path": str(path), "rate": 0}, "source.rate")]
    for params, key in cases:
        with pytest.raises(ConfigError) as err:
            build_source(Settings({"source": {"type": "replay", **params}}))
        assert err.value.key == key
