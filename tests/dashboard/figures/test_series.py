"""Tests for streamdash.dashboard.figures.series (the live time series)."""

from streamdash.dashboard.figures import series

ISO0 = "2023-11-14T22:13:20.000Z"  # T0


def test_series_action():
    """Reset on first load, other epoch, changed fields, a client ahead or a state it cannot
    use (keys, maximum, sequence number of the wrong type); else extend/none."""
    state = {"epoch": "e", "fields": ["v", "k"], "seq": 10, "keys": ["a"], "max": 100}
    assert series.series_action(None, "e", 10, "v", "k") == "reset"
    assert series.series_action(state, "other", 10, "v", "k") == "reset"
    assert series.series_action(state, "e", 10, "w", "k") == "reset"
    assert series.series_action(state, "e", 5, "v", "k") == "reset"
    assert series.series_action(state, "e", 10, "v", "k") == "none"
    assert series.series_action(state, "e", 12, "v", "k") == "extend"
    for bad in ({"keys": "a"}, {"keys": [["a"]]}, {"max": "100"}, {"seq": 1.5}):
        assert series.series_action({**state, **bad}, "e", 12, "v", "k") == "reset"


def test_group_points_and_full_figure():
    """Points split by key (time field as x, non-numbers as gaps); names are escaped."""
    items = [(1, {"k": "a", "v": 1.0, "t": "T1"}), (2, {"k": "<b>", "v": "x", "t": "T2"}),
             (3, {"k": "a", "v": None, "t": "T3"}), (4, {"k": "a", "v": 2, "t": "T4"})]
    groups = series.group_points(items, "v", "k", "t")
    assert groups == {"a": (["T1", "T3", "T4"], [1.0, None, 2]), "<b>": (["T2"], [None])}
    fig = series.series_figure(groups, "v", "k")
    assert [t["name"] for t in fig["data"]] == ["a", "&lt;b&gt;"]
    assert fig["layout"]["uirevision"] == "v|k"
    assert series.group_points(items[:1], "v", "", "") == {"v": ([1], [1.0])}


def test_series_extend_payload():
    """extendData carries only the new points with trace indices and maxPoints; a new key → None."""
    groups = {"b": (["T5"], [5.0]), "a": (["T6"], [6.0])}
    assert series.series_extend(groups, ["a", "b"], 500) == [
        {"x": [["T5"], ["T6"]], "y": [[5.0], [6.0]]}, [1, 0], 500]
    assert series.series_extend({"c": ([1], [1])}, ["a", "b"], 500) is None
    assert series.points_per_trace(10_000, 5) == 2000 and series.points_per_trace(50, 1) == 100


def test_series_leaves_the_mode_to_plotly_so_few_points_get_markers():
    """No trace fixes its mode (Plotly draws markers under 20 points, lines from 20 on, on
    every redraw), and a lone point at the axis edge is not clipped."""
    fig = series.series_figure({"a": ([ISO0], [1.0]), "b": ([ISO0], [2.0])}, "v", "k")
    assert all("mode" not in t and t["marker"]["size"] > 0 and t["cliponaxis"] is False
               for t in fig["data"])
