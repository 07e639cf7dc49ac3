"""Tests for streamdash.dashboard.live (incremental, cached snapshots of a runtime)."""

import threading

import pytest

from streamdash.config import Settings
from streamdash.dashboard import live as live_module
from streamdash.dashboard import texts
from streamdash.dashboard.figures import history as history_chart
from streamdash.dashboard.figures.history import history_figure
from streamdash.dashboard.figures.quality import quality_figure
from streamdash.dashboard.figures.series import series_figure
from streamdash.dashboard.live import LiveView, RollingValues
from streamdash.dashboard.options import dashboard_options
from streamdash.runtime import Runtime
from streamdash.store.ring import RingBuffer
from streamdash.testing import FakeClock, ListSource

T0 = 1_700_000_000.0


@pytest.fixture
def view():
    clock = FakeClock(T0)
    settings = Settings({"buffer.capacity": 100, "source.interval": 1})
    rt = Runtime(settings, ListSource([]), clock=clock)
    live = LiveView(rt, dashboard_options(settings, rt.source.hints))
    yield live
    rt.stop()


def recs(n, start=0, key=lambda i: f"k{i % 2}"):
    return [{"id": i, "key": key(i), "value": float(i), "ts": f"T{i}"}
            for i in range(start, start + n)]


def test_rolling_values_follow_the_buffer():
    """Mean and latest cover exactly the records the buffer holds, updated by new seqs only."""
    buf = RingBuffer(4)
    rv = RollingValues("v", 4)
    buf.extend([{"v": 1}, {"v": None}, {"v": 3}])
    rv.sync(buf)
    assert rv.mean == 2 and rv.latest == 3
    buf.extend([{"v": 5}, {"v": 7}, {"v": "x"}])  # 1, None, 3 leave the buffer (cap 4)
    rv.sync(buf)
    assert rv.mean == 5 and rv.latest == 7 and rv.recent(5) == [3.0, 5.0, 7.0]
    other = RingBuffer(4)  # a buffer behind the tracker (e.g. after a restart): rebuilt
    other.append({"v": 10})
    rv.sync(other)
    assert rv.mean == 10 and rv.seq == 1


def test_series_reset_then_extend_only_new_points(view):
    """The first call resets with the whole buffer; later calls send only new points."""
    view.runtime.buffer.extend(recs(10))
    first = view.series(None, "value", "key", series_figure)
    assert "figure" in first and first["state"]["seq"] == 10
    assert first["state"]["keys"] == ["k0", "k1"] and first["state"]["max"] == 100
    again = view.series(None, "value", "key", series_figure)
    assert again["figure"] is first["figure"]  # shared by viewers
    assert view.series(first["state"], "value", "key", series_figure) is None
    view.runtime.buffer.extend(recs(3, 10))
    nxt = view.series(first["state"], "value", "key", series_figure)
    payload, indices, max_points = nxt["extend"]
    assert payload["x"] == [["T10", "T12"], ["T11"]] and indices == [0, 1] and max_points == 100
    assert nxt["state"]["seq"] == 13 and "figure" not in nxt


def test_series_resets_on_new_key_restart_field_change_and_gap(view):
    """A new key, a client ahead of the server, another epoch, new fields or a gap reset."""
    buf = view.runtime.buffer
    buf.extend(recs(4))
    state = view.series(None, "value", "key", series_figure)["state"]
    buf.extend(recs(1, 4, key=lambda i: "new"))
    assert "figure" in view.series(state, "value", "key", series_figure)
    assert "figure" in view.series({**state, "seq": 999}, "value", "key", series_figure)
    assert "figure" in view.series({**state, "epoch": "old"}, "value", "key", series_figure)
    assert "figure" in view.series(state, "value", "", series_figure)
    buf.extend(recs(150, 5))  # the client missed records the buffer no longer holds
    gap = view.series(state, "value", "key", series_figure)
    assert "figure" in gap and len(gap["figure"]["data"][0]["x"]) + len(
        gap["figure"]["data"][1]["x"]) == 100


def test_viewers_holding_the_same_points_share_the_new_ones(view, monkeypatch):
    """Viewers that hold the same sequence number get the same new points, read from the
    buffer once; new records (a new buffer state) are read again."""
    reads = []
    real = view._new_points
    monkeypatch.setattr(view, "_new_points", lambda *a: reads.append(a) or real(*a))
    view.runtime.buffer.extend(recs(10))
    state = view.series(None, "value", "key", series_figure)["state"]
    view.runtime.buffer.extend(recs(3, 10))
    first = [view.series(state, "value", "key", series_figure) for _ in range(50)]
    assert all(f == first[0] for f in first) and len(reads) == 1
    assert first[0]["extend"][0]["x"] == [["T10", "T12"], ["T11"]]
    view.runtime.buffer.extend(recs(2, 13))
    later = view.series(state, "value", "key", series_figure)
    assert later["extend"][0]["x"] == [["T10", "T12", "T14"], ["T11", "T13"]]
    assert later["state"]["seq"] == 15 and len(reads) == 2


def test_a_new_epoch_gets_a_new_figure_at_the_same_sequence_number(view):
    """A state store that lost its data (a new epoch) may reach the same sequence number
    again: the shared full figure and new points are not the old epoch's."""
    view.runtime.buffer.extend(recs(10))
    old = view.series(None, "value", "key", series_figure)
    view.state._epoch = "restarted"
    new = view.series(None, "value", "key", series_figure)
    assert new["state"]["epoch"] == "restarted" and new["figure"] is not old["figure"]


def test_made_up_sequence_numbers_do_not_grow_the_shared_points(view):
    """Thousands of distinct sequence numbers a client makes up keep at most
    ``dashboard.shared_extends`` sets of points, and each still gets its right answer."""
    view.runtime.buffer.extend(recs(100))
    state = view.series(None, "value", "key", series_figure)["state"]
    for seq in range(2000):
        update = view.series({**state, "seq": seq % 100}, "value", "key", series_figure)
        assert update["state"]["seq"] == 100 and len(update["extend"][0]["x"][0]) == \
            (100 - seq % 100 + 1) // 2
    assert len(view._extends) <= view.options.shared_extends == 32


def test_summary_counts_and_staleness(view):
    """The summary has counts, latest/mean of the field, and flags stale data."""
    rt = view.runtime
    rt.buffer.extend(recs(4))
    rt.metrics.add_many({"records_in": 5})
    rt.metrics.set_gauge("last_stored_at", T0)
    s = view.summary("value", 5)
    assert s["records_in"] == 5 and s["latest"] == 3.0 and s["mean"] == 1.5
    assert s["status"] == "down" and s["stale"] is None  # not started: threads are down
    rt.clock.advance(16)
    assert "no new records for 16 s" in view.summary("value", 5)["stale"]
    assert view.summary("value", 10)["stale"] is None  # a 10 s refresh tolerates 30 s


def test_summary_is_computed_once_for_concurrent_viewers(view, monkeypatch):
    """Many viewers asking at once for the same data version cause one computation."""
    calls = []
    real = view._summary

    def counting(*a):
        calls.append(1)
        return real(*a)
    monkeypatch.setattr(view, "_summary", counting)
    threads = [threading.Thread(target=view.summary, args=("value", 5)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1



def test_quality_chart_reset_then_extend(view):
    """The quality chart resets first, then receives only the monitor's new evaluations."""
    monitor = view.runtime.monitor
    monitor.evaluate(T0)
    view.runtime.metrics.add_many({"records_in": 10, "records_accepted": 9, "records_rejected": 1})
    monitor.evaluate(T0 + 1)
    first = view.quality(None, quality_figure)
    assert first["figure"]["data"][0]["y"] == [None, 10.0] and first["state"]["ts"] == T0 + 1
    assert first["figure"]["layout"]["shapes"]  # the default invalid_rate threshold line
    assert view.quality(first["state"], quality_figure) is None
    monitor.evaluate(T0 + 2)
    nxt = view.quality(first["state"], quality_figure)
    assert nxt["extend"][0]["x"][0] == ["2023-11-14T22:13:22.000Z"]
    assert nxt["state"]["ts"] == T0 + 2


def test_tables_and_field_names(view):
    """Tables are bounded and versioned; key candidates exclude unique ids."""
    rt = view.runtime
    rt.buffer.extend(recs(150))
    cols, rows = view.latest_records()
    assert len(rows) == view.options.table_rows and rows[0]["#"] == 150
    assert view.table_versions() == {"latest": 150, "quarantine": 0, "errors": 0, "late": 0}
    rt.events.publish("ingest_error", {"at": T0, "source": "s", "reason": "boom"})
    assert view.error_rows()[0]["reason"] == "boom"
    assert view.quarantine_rows() == []
    assert view.late_rows() == []
    rt.events.publish("late", [{"at": T0, "record": {"id": 1}, "lateness_s": 3.0}])
    assert view.table_versions()["late"] == 1 and view.late_rows()[0]["record"] == '{"id":1}'
    numeric, keys = view.field_names()
    assert numeric[0] == "value" and "id" in numeric
    assert keys == ["key"]  # 'ts' is the time field; 'key' has two values


def test_alerts_read_from_monitor(view):
    """Firing alerts and history come from the runtime's quality monitor."""
    monitor = view.runtime.monitor
    monitor.evaluate(T0)
    view.runtime.metrics.add_many({"records_in": 10, "records_accepted": 5, "records_rejected": 5})
    monitor.evaluate(T0 + 1)  # invalid_rate_high pending
    monitor.evaluate(T0 + 17)  # its 'for' (15 s) has passed: firing
    active, history = view.alerts(10)
    assert any(a["name"] == "invalid_rate_high" for a in active)
    assert history and history[0]["state"] == "firing"


def test_without_a_monitor_the_view_still_works(view, monkeypatch):
    """A runtime without a monitor yields no alerts, an empty quality chart and '–' KPIs."""
    monkeypatch.setattr(LiveView, "monitor", property(lambda self: None))
    assert view.alerts(5) == ([], [])
    assert view.quality(None, quality_figure)["figure"]["data"][0]["x"] == []
    assert texts.kpi_texts(view.summary("value", 5))["alerts"] == "–"


def test_history_from_memory_without_a_data_dir(view):
    """Without a data dir the history chart shows this run's in-memory snapshots and says so."""
    rt = view.runtime
    rt.metrics.add_many({"records_in": 40, "records_accepted": 40})
    rt.reporter.snapshot()
    _, fig = view.history("15 min", history_figure)
    assert "in memory" in fig["layout"]["title"]["text"]
    assert fig["data"][0]["x"] == [T0 * 1000]


def test_history_reports_an_unreadable_store(tmp_path):
    """A history database that cannot be read gives an empty chart naming the problem."""
    settings = Settings({"data_dir": str(tmp_path / "missing")})
    rt = Runtime(settings, ListSource([]), clock=FakeClock(T0))  # never started: no file
    live = LiveView(rt, dashboard_options(settings, rt.source.hints))
    _, fig = live.history("24 h", history_figure)
    assert "history unavailable: no history database" in fig["layout"]["title"]["text"]
    assert fig["layout"]["annotations"] and all(t["x"] == [] for t in fig["data"])


def test_history_is_read_once_per_refresh_period(view, monkeypatch):
    """The store is read once per range and period (2–60 s: the snapshot interval or one
    chart bucket); within it every viewer gets the same version and figure."""
    refresh = live_module.history_refresh
    assert refresh(10, 900) == 10 and refresh(2, 21_600) == 43.2
    assert refresh(0.5, 900) == 2 and refresh(0.5) == 2 and refresh(3, 900) == 3
    assert refresh(10, 86_400) == 60 and refresh(300) == 60
    reads = []
    original = view.runtime.metric_history
    monkeypatch.setattr(view.runtime, "metric_history",
                        lambda *a, **k: reads.append(k) or original(*a, **k))
    clock = view.runtime.clock
    first = view.history("1 h", history_figure)
    assert view.history("1 h", history_figure) is first and len(reads) == 1
    assert reads[0]["step"] == 3600 / history_chart.HISTORY_POINTS
    assert reads[0]["peak"] == ("latency_p95", "interval_s")
    clock.advance(10)
    version, _ = view.history("1 h", history_figure)
    assert version != first[0] and len(reads) == 2
    default = view.history("15 min", history_figure)[0]
    assert view.history(None, history_figure)[0] == default  # the default range
    assert view.history("6 h", history_figure)[0] != version


def test_window_note_comes_from_the_runtimes_window_rule():
    """The window card's note is built from the first window rule (size, lateness, idle
    timeout); a runtime without one says so."""
    from types import SimpleNamespace

    from streamdash.pipeline.rules import Watermark, Windows

    rule = Windows("v", "k", Watermark(5.0), size=2.0, idle_timeout=60.0)
    note = live_module.window_note(SimpleNamespace(processor=SimpleNamespace(windows=[rule])))
    assert "2 s windows" in note and "5 s (the lateness)" in note and "5–7 s" in note
    bare = SimpleNamespace(processor=SimpleNamespace(windows=[]))
    assert "No window rule" in live_module.window_note(bare)
