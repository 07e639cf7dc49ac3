"""Tests for streamdash.dashboard.figures (pure figure and text builders)."""

import json

from streamdash.dashboard import figures

T0 = 1_700_000_000.0


def test_formatting_helpers():
    """Numbers, percentages and missing values format for humans; bools and NaN are not numbers."""
    assert figures.fmt_number(1234.567) == "1,234.57" and figures.fmt_number(None) == "–"
    assert figures.fmt_pct(0.0123) == "1.23 %" and figures.fmt_pct(None) == "–"
    assert figures.is_number(3) and not figures.is_number(True)
    assert not figures.is_number(float("nan")) and not figures.is_number("1")


def test_plot_text_escapes_markup():
    """Stream-provided labels reach Plotly with their tags escaped (shown literally)."""
    assert figures.plot_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert figures.plot_text("a & b") == "a &amp; b"


def test_epoch_and_iso_conversions():
    """ISO texts with Z or an offset and epoch numbers convert both ways; naive texts do not."""
    assert figures.epoch_of("2023-11-14T22:13:20.000Z") == T0
    assert figures.epoch_of("2023-11-14T23:13:20+01:00") == T0
    assert figures.epoch_of(T0) == T0
    assert figures.epoch_of("2023-11-14T22:13:20") is None and figures.epoch_of("x") is None
    assert figures.iso_of(T0) == "2023-11-14T22:13:20.000Z" and figures.iso_of(None) is None


def test_last_update_and_status_badge():
    """The last update shows UTC time and age; the badge maps health to a colour."""
    assert figures.last_update_text(T0, T0 + 3.9) == "2023-11-14T22:13:20.000Z (3 s ago)"
    assert figures.last_update_text(None, T0) == "never"
    assert figures.status_badge("ok") == ("OK", "success")
    assert figures.status_badge("degraded") == ("DEGRADED", "warning")
    assert figures.status_badge("down") == ("DOWN", "danger")


def test_stale_only_without_a_successful_fetch_for_three_intervals():
    """Data is stale once more than 3 intervals pass without a successful fetch."""
    assert figures.freshness_message(T0, T0, T0, T0 + 15, 5) is None
    text, color = figures.freshness_message(T0, T0, T0, T0 + 16, 5)
    assert color == "warning" and "stale: no successful fetch for 16 s" in text
    assert "3 intervals of 5 s" in text
    assert figures.freshness_message(None, None, T0, T0 + 10, 5) is None
    text, _ = figures.freshness_message(None, None, T0, T0 + 20, 5)
    assert "since the start" in text and "stale" in text
    assert figures.freshness_message(None, None, None, T0, 5) is None


def test_a_source_that_answers_without_new_records_is_not_stale():
    """Successful fetches without new records (a 304) say "no new data", never "stale"."""
    text, color = figures.freshness_message(T0 + 59, T0, T0, T0 + 60, 5)
    assert color == "info" and text.startswith("No new data since 2023-11-14T22:13:20")
    assert "no new records for 60 s" in text and "last successful fetch 1 s ago" in text
    assert "stale" not in text.lower() and "down" not in text.lower()
    text, color = figures.freshness_message(T0 + 59, None, T0, T0 + 60, 5)
    assert color == "info" and "no records received in 60 s" in text
    assert figures.freshness_message(T0 + 59, T0 + 50, T0, T0 + 60, 5) is None


def test_interval_text_says_why_it_is_not_the_configured_one():
    """The header names the effective interval and, when raised, what raised it."""
    assert figures.interval_text(5, "configured") == "polling every 5 s"
    assert figures.interval_text(60, "min_interval") == \
        "polling every 60 s (the source's minimum)"
    assert "Cache-Control" in figures.interval_text(120, "server")


def test_refresh_props_pause_and_intervals():
    """A refresh choice becomes interval ms; 0 or None pauses (max_intervals 0)."""
    assert figures.refresh_props(2) == (2000, -1)
    assert figures.refresh_props(0)[1] == 0 and figures.refresh_props(None)[1] == 0


def test_kpi_texts():
    """KPI texts format counts, rates, values and alerts; missing ones show a dash."""
    k = figures.kpi_texts({"records_in": 12345, "rate": 4.04, "latest": 21.5, "mean": None,
                           "invalid": 0.5, "duplicate": 0.0, "late": None, "errors_5min": 2,
                           "active_alerts": 1})
    assert k == {"total": "12,345", "rate": "4.0", "latest": "21.50", "mean": "–",
                 "invalid": "50.00 %", "duplicate": "0.00 %", "late": "–", "errors": "2",
                 "alerts": "1"}
    assert figures.kpi_texts({"records_in": 0, "active_alerts": None})["alerts"] == "–"


def test_count_since():
    """Items are counted when their time (ISO or epoch) is at or after the limit."""
    items = [{"at": T0 - 10}, {"at": "2023-11-14T22:13:20.000Z"}, {"at": T0 + 5}, {"at": None}]
    assert figures.count_since(items, T0) == 2


def test_series_action():
    """Reset on first load, other epoch, changed fields or a client ahead; else extend/none."""
    state = {"epoch": "e", "fields": ["v", "k"], "seq": 10}
    assert figures.series_action(None, "e", 10, "v", "k") == "reset"
    assert figures.series_action(state, "other", 10, "v", "k") == "reset"
    assert figures.series_action(state, "e", 10, "w", "k") == "reset"
    assert figures.series_action(state, "e", 5, "v", "k") == "reset"
    assert figures.series_action(state, "e", 10, "v", "k") == "none"
    assert figures.series_action(state, "e", 12, "v", "k") == "extend"


def test_group_points_and_full_figure():
    """Points split by key (time field as x, non-numbers as gaps); names are escaped."""
    items = [(1, {"k": "a", "v": 1.0, "t": "T1"}), (2, {"k": "<b>", "v": "x", "t": "T2"}),
             (3, {"k": "a", "v": None, "t": "T3"}), (4, {"k": "a", "v": 2, "t": "T4"})]
    groups = figures.group_points(items, "v", "k", "t")
    assert groups == {"a": (["T1", "T3", "T4"], [1.0, None, 2]), "<b>": (["T2"], [None])}
    fig = figures.series_figure(groups, "v", "k")
    assert [t["name"] for t in fig["data"]] == ["a", "&lt;b&gt;"]
    assert fig["layout"]["uirevision"] == "v|k"
    assert figures.group_points(items[:1], "v", "", "") == {"v": ([1], [1.0])}


def test_series_extend_payload():
    """extendData carries only the new points with trace indices and maxPoints; a new key → None."""
    groups = {"b": (["T5"], [5.0]), "a": (["T6"], [6.0])}
    assert figures.series_extend(groups, ["a", "b"], 500) == [
        {"x": [["T5"], ["T6"]], "y": [[5.0], [6.0]]}, [1, 0], 500]
    assert figures.series_extend({"c": ([1], [1])}, ["a", "b"], 500) is None
    assert figures.points_per_trace(10_000, 5) == 2000 and figures.points_per_trace(50, 1) == 100


def test_windows_figure_band_and_mean():
    """Each key gets a min line, a filled max line (the band) and a mean line."""
    ws = [{"key": "a", "start": T0, "end": T0 + 10, "count": 3, "mean": 2.0, "min": 1.0,
           "max": 3.0, "p95": 2.9}, {"key": "a", "end": "2023-11-14T22:13:40.000Z",
                                     "mean": 2.5, "min": 2.0, "max": 3.5}]
    fig = figures.windows_figure(ws, "v")
    assert "of v" in fig["layout"]["title"]["text"]
    lo, hi, mean = fig["data"]
    assert lo["y"] == [1.0, 2.0] and hi["fill"] == "tonexty" and mean["y"] == [2.0, 2.5]
    assert mean["x"] == ["2023-11-14T22:13:30.000Z", "2023-11-14T22:13:40.000Z"]
    empty = figures.windows_figure([], None)["layout"]
    assert empty["annotations"] and empty["xaxis"] == {"visible": False}


def test_quality_figure_and_threshold_lines():
    """Quality rates are drawn in %, each alert threshold as a dashed line with a label."""
    series = {"at": ["A1", "A2"], "ts": [1.0, 2.0], "invalid_rate": [None, 0.5],
              "null_rate": [0.1, 0.2]}
    thresholds = {"null_rate": [("null_rate_high", ">", 0.05, "warning")]}
    fig = figures.quality_figure(series, thresholds)
    names = [t["name"] for t in fig["data"]]
    assert names == ["invalid %", "duplicate %", "late %", "null %"]
    assert fig["data"][0]["y"] == [None, 50.0] and fig["data"][3]["y"] == [10.0, 20.0]
    (shape,) = fig["layout"]["shapes"]
    assert shape["y0"] == 5.0 and shape["line"]["dash"] == "dash"
    assert "null_rate_high" in fig["layout"]["annotations"][0]["text"]


def test_quality_extend_only_new_points():
    """Only quality points newer than the client's timestamp are sent."""
    series = {"at": ["A1", "A2", "A3"], "ts": [1.0, 2.0, 3.0], "invalid_rate": [0, 0.1, 0.2]}
    ext = figures.quality_extend(series, 1.0, 300)
    assert ext[0]["x"][0] == ["A2", "A3"] and ext[0]["y"][0] == [10.0, 20.0]
    assert ext[0]["y"][1] == [None, None] and ext[1] == [0, 1, 2, 3] and ext[2] == 300
    assert figures.quality_extend(series, 3.0, 300) is None


def test_histogram_bins_on_server():
    """Values are binned server-side: bar counts add up and the payload stays small."""
    values = [float(i % 10) for i in range(1000)]
    fig = figures.histogram_figure(values, "v", bins=10)
    (bar,) = fig["data"]
    assert sum(bar["y"]) == 1000 and len(bar["x"]) == 10 and bar["y"][0] == 100
    assert len(json.dumps(fig)) < 2000
    assert figures.histogram_figure([], "v")["data"] == []
    assert sum(figures.histogram_figure([5.0, 5.0], "v")["data"][0]["y"]) == 2


# -- pipeline history ------------------------------------------------------------------------------
def _trace(fig, field):
    labels = {f: label for f, label, *_ in figures.HISTORY_SERIES}
    return next(t for t in fig["data"] if t["name"] == labels[field])


def test_downsample_keeps_points_and_breaks_at_a_restart_gap():
    """Snapshots 10 s apart stay as they are; 400 s without snapshots becomes one None break."""
    run1 = [(T0 + 10 * i, float(i)) for i in range(11)]          # T0 … T0+100
    run2 = [(T0 + 500 + 10 * i, 50.0 + i) for i in range(11)]    # T0+500 … T0+600
    xs, ys = figures.downsample(run1 + run2, T0, T0 + 600, max_points=600, gap=25)
    assert len(xs) == 23 and ys.count(None) == 1
    cut = ys.index(None)
    assert ys[:cut] == [float(i) for i in range(11)] and xs[cut] == T0 + 300
    assert ys[cut + 1:] == [50.0 + i for i in range(11)] and xs == sorted(xs)
    # Spacing within the expected interval is never a gap; points outside the range are skipped.
    xs, ys = figures.downsample([(T0 - 5, 1.0)] + run1, T0, T0 + 100, max_points=100, gap=25)
    assert None not in ys and len(xs) == 11


def test_downsample_bounds_a_day_of_snapshots():
    """A day of 1 s snapshots becomes one point per 3-minute bucket: its mean (or maximum)."""
    points = [(T0 + i, 2.0 if i % 2 else 4.0) for i in range(86_400)]
    xs, ys = figures.downsample(points, T0, T0 + 86_400, max_points=480)
    assert len(xs) == 480 and None not in ys and all(y == 3.0 for y in ys)
    assert xs[0] == T0 + 89.5  # the mean time of the bucket's snapshots
    _, peaks = figures.downsample(points, T0, T0 + 86_400, max_points=480, how="max")
    assert set(peaks) == {4.0}
    # Many outages still respect the bound: each gap spans at least one empty bucket.
    gappy = [(T0 + 60 * i, 1.0) for i in range(0, 1440, 2)]
    xs, ys = figures.downsample(gappy, T0, T0 + 86_400, max_points=500, gap=90)
    assert len(xs) <= 501


def test_downsample_null_values_are_gaps_not_zeros():
    """A bucket with only None values gives None; None beside numbers is ignored in the mean."""
    xs, ys = figures.downsample([(T0, None), (T0 + 10, 1.0), (T0 + 11, None), (T0 + 12, 3.0)],
                                T0, T0 + 100, max_points=10)
    assert ys == [None, 2.0] and xs == [T0, T0 + 11]


def test_history_figure_empty_range():
    """No snapshots: every series is an empty trace, a note says so, the axis spans the range."""
    fig = figures.history_figure({}, T0, T0 + 3600, note="persisted in the data dir")
    assert len(fig["data"]) == len(figures.HISTORY_SERIES)
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
    fig = figures.history_figure(series, T0, T0 + 1800, gap=25, max_points=1800,
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
        [p for p, _ in figures.HISTORY_PANELS]
    assert "&lt;b&gt;x" in layout["title"]["text"] and "annotations" not in layout


def test_gaps_follow_each_snapshots_own_interval():
    """Snapshots 10 min apart that say so (interval_s) are joined even though the fallback gap
    is 25 s; a 30-minute silence between them is still a break."""
    ts = [T0 + 600 * i for i in range(4)] + [T0 + 1800 + 600 * i for i in range(4, 7)]
    spans = {t: 600.0 for t in ts}
    xs, ys = figures.downsample([(t, 1.0) for t in ts], T0, T0 + 7200, max_points=7200, gap=25,
                                spans=spans)
    assert ys.count(None) == 1 and ys.index(None) == 4 and len(xs) == 8
    fig = figures.history_figure({"throughput_in": [(t, 1.0) for t in ts],
                                  "interval_s": list(spans.items())}, T0, T0 + 7200, gap=25)
    assert _trace(fig, "throughput_in")["y"].count(None) == 1
    # Without interval_s the fallback applies: every pair 10 min apart is a gap.
    assert figures.downsample([(t, 1.0) for t in ts], T0, T0 + 7200, 7200, 25)[1].count(None) == 6
