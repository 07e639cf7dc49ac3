"""Tests for streamdash.dashboard.figures.history (persisted snapshots over a range)."""

import json

from streamdash.dashboard.figures import history

T0 = 1_700_000_000.0


def _trace(fig, field):
    labels = {f: label for f, label, *_ in history.HISTORY_SERIES}
    return next(t for t in fig["data"] if t["name"] == labels[field])


def test_downsample_keeps_points_and_breaks_at_a_restart_gap():
    """Snapshots 10 s apart stay as they are; 400 s without snapshots becomes one None break."""
    run1 = [(T0 + 10 * i, float(i)) for i in range(11)]          # T0 … T0+100
    run2 = [(T0 + 500 + 10 * i, 50.0 + i) for i in range(11)]    # T0+500 … T0+600
    xs, ys = history.downsample(run1 + run2, T0, T0 + 600, max_points=600, gap=25)
    assert len(xs) == 23 and ys.count(None) == 1
    cut = ys.index(None)
    assert ys[:cut] == [float(i) for i in range(11)] and xs[cut] == T0 + 300
    assert ys[cut + 1:] == [50.0 + i for i in range(11)] and xs == sorted(xs)
    # Spacing within the expected interval is never a gap; points outside the range are skipped.
    xs, ys = history.downsample([(T0 - 5, 1.0)] + run1, T0, T0 + 100, max_points=100, gap=25)
    assert None not in ys and len(xs) == 11


def test_downsample_bounds_a_day_of_snapshots():
    """A day of 1 s snapshots becomes one point per 3-minute bucket: its mean (or maximum)."""
    points = [(T0 + i, 2.0 if i % 2 else 4.0) for i in range(86_400)]
    xs, ys = history.downsample(points, T0, T0 + 86_400, max_points=480)
    assert len(xs) == 480 and None not in ys and all(y == 3.0 for y in ys)
    assert xs[0] == T0 + 89.5  # the mean time of the bucket's snapshots
    _, peaks = history.downsample(points, T0, T0 + 86_400, max_points=480, how="max")
    assert set(peaks) == {4.0}
    # Many outages still respect the bound: each gap spans at least one empty bucket.
    gappy = [(T0 + 60 * i, 1.0) for i in range(0, 1440, 2)]
    xs, ys = history.downsample(gappy, T0, T0 + 86_400, max_points=500, gap=90)
    assert len(xs) <= 501


def test_downsample_null_values_are_gaps_not_zeros():
    """A bucket with only None values gives None; None beside numbers is ignored in the mean."""
    xs, ys = history.downsample([(T0, None), (T0 + 10, 1.0), (T0 + 11, None), (T0 + 12, 3.0)],
                                T0, T0 + 100, max_points=10)
    assert ys == [None, 2.0] and xs == [T0, T0 + 11]


def test_history_figure_empty_range():
    """No snapshots: every series is an empty trace, a note says so, the axis spans the range."""
    fig = history.history_figure({}, T0, T0 + 3600, note="persisted in the data dir")
    assert len(fig["data"]) == len(history.HISTORY_SERIES)
    assert all(t["x"] == [] and t["y"] == [] for t in fig["data"])
    assert "No metrics snapshots" in fig["layout"]["annotations"][0]["text"]
    assert fig["layout"]["xaxis"]["range"] == [T0 * 1000, (T0 + 3600) * 1000]  # epoch ms
    assert fig["layout"]["xaxis"]["type"] == "date"
    assert "persisted in the data dir" in fig["layout"]["title"]["text"]
    json.dumps(fig)


def test_history_figure_panels_units_and_gaps():
    """Throughput, p95 latency (ms) and rates (%) sit on their own panels; a restart is a gap."""
    ts = [T0 + 10, T0 + 20, T0 + 900, T0 + 910]
    series = {"throughput_in": [(t, 100.0) for t in ts],
              "throughput_out": [(t, 90.0) for t in ts],
              "latency_p95": [(t, 0.25) for t in ts],
              "invalid_rate": [(t, 0.02) for t in ts],
              "duplicate_rate": [(t, 0.01) for t in ts], "late_rate": [(t, None) for t in ts]}
    fig = history.history_figure(series, T0, T0 + 1800, gap=25, max_points=1800,
                                 note="<b>x</b>")
    tin, lat, inv = (_trace(fig, f) for f in ("throughput_in", "latency_p95", "invalid_rate"))
    assert tin["y"] == [100.0, 100.0, None, 100.0, 100.0] and tin["connectgaps"] is False
    assert tin["x"][0] == (T0 + 10) * 1000 and tin["x"][2] == (T0 + 460) * 1000
    assert lat["y"][0] == 250.0 and lat["yaxis"] == "y2"
    assert inv["y"][0] == 2.0 and inv["yaxis"] == "y3" and tin["yaxis"] == "y"
    assert _trace(fig, "late_rate")["y"] == [None] * 5  # never measured: no line at all
    assert _trace(fig, "error_rate")["x"] == []         # not stored: an empty trace
    layout = fig["layout"]
    assert [layout[a]["title"]["text"] for a in ("yaxis", "yaxis2", "yaxis3")] == \
        [p for p, _ in history.HISTORY_PANELS]
    assert "&lt;b&gt;x" in layout["title"]["text"] and "annotations" not in layout


def test_gaps_follow_each_snapshots_own_interval():
    """Snapshots 10 min apart that say so (interval_s) are joined even though the fallback gap
    is 25 s; a 30-minute silence between them is still a break."""
    ts = [T0 + 600 * i for i in range(4)] + [T0 + 1800 + 600 * i for i in range(4, 7)]
    spans = {t: 600.0 for t in ts}
    xs, ys = history.downsample([(t, 1.0) for t in ts], T0, T0 + 7200, max_points=7200, gap=25,
                                spans=spans)
    assert ys.count(None) == 1 and ys.index(None) == 4 and len(xs) == 8
    fig = history.history_figure({"throughput_in": [(t, 1.0) for t in ts],
                                  "interval_s": list(spans.items())}, T0, T0 + 7200, gap=25)
    assert _trace(fig, "throughput_in")["y"].count(None) == 1
    # Without interval_s the fallback applies: every pair 10 min apart is a gap.
    assert history.downsample([(t, 1.0) for t in ts], T0, T0 + 7200, 7200, 25)[1].count(None) == 6


def test_history_axis_starts_at_the_oldest_snapshot_in_range():
    """A run younger than the range fills the chart: the axis starts just before its first
    snapshot (at least MIN_HISTORY_SPAN wide); older data or none keeps the whole range."""
    until = T0 + 900
    young = history.history_figure({"throughput_in": [(T0 + 600 + i, 1.0) for i in range(300)]},
                                   T0, until)
    start, end = (x / 1000 for x in young["layout"]["xaxis"]["range"])
    assert end == until and T0 + 600 - 0.03 * 300 < start < T0 + 600
    fresh = history.history_figure({"throughput_in": [(until - 5, 1.0)]}, T0, until)
    start = fresh["layout"]["xaxis"]["range"][0] / 1000
    assert until - history.MIN_HISTORY_SPAN * 1.03 < start < until - history.MIN_HISTORY_SPAN
    old = history.history_figure({"throughput_in": [(T0 + 1, 1.0)]}, T0, until)
    assert old["layout"]["xaxis"]["range"][0] == T0 * 1000
    assert history.history_figure({}, T0, until)["layout"]["xaxis"]["range"][0] == T0 * 1000
