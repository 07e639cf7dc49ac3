"""Tests for streamdash.dashboard.figures.common (layout and axes every chart shares)."""

from streamdash.dashboard.figures import common, histogram, history, quality, series, windows

T0 = 1_700_000_000.0
ISO0 = "2023-11-14T22:13:20.000Z"  # T0


def test_time_axis_spans_a_minute_at_least_with_millisecond_ticks_at_most():
    """A few points close in time get a date axis reaching 60 s past the first, ticks never
    finer than a millisecond and a full UTC hover; a wide span needs no extra room."""
    few = series.series_figure({"a": ([ISO0, "2023-11-14T22:13:20.500Z"], [1, 2])}, "v", "")
    axis = few["layout"]["xaxis"]
    assert axis["type"] == "date" and axis["autorangeoptions"]["include"] == [
        "2023-11-14T22:14:20.000"]
    # Plotly draws a time as written (offset ignored): the extra room is in the same terms.
    local = common.x_axis(["2023-11-14T23:13:20+01:00", "2023-11-14 23:13:21"])
    assert local["autorangeoptions"]["include"] == ["2023-11-14T23:14:20.000"]
    assert axis["tickformatstops"] == [{"dtickrange": [None, 1000], "value": "%H:%M:%S.%L"}]
    assert axis["hoverformat"] == "%Y-%m-%d %H:%M:%S.%L"
    wide = common.x_axis([ISO0, "2023-11-14T22:15:20.000Z"])
    assert wide["type"] == "date" and "autorangeoptions" not in wide
    # Sequence numbers (no time field): at least 10 records wide, no date formats.
    seq = series.series_figure({"v": ([1], [1.0])}, "v", "")["layout"]["xaxis"]
    assert seq["autorangeoptions"]["include"] == [11] and "type" not in seq
    assert "autorangeoptions" not in common.x_axis(list(range(100)))


def test_value_axes_print_whole_numbers_clear_of_their_title():
    """Value axes show 43,210.5 (no SI suffix, thousands separated) and grow their margin so
    the title clears the tick labels; so do the histogram's and the windows' axes."""
    fig = series.series_figure({"BTC": ([ISO0], [43_210.5])}, "price", "")
    y = fig["layout"]["yaxis"]
    assert y["exponentformat"] == "none" and y["separatethousands"] is True
    assert y["automargin"] is True and y["title"]["text"] == "price"
    hist = histogram.histogram_figure([43_210.5, 43_211.0], "price")["layout"]
    assert hist["xaxis"]["exponentformat"] == "none"
    win = windows.windows_figure([{"key": "a", "end": T0, "mean": 43_210.5}], "v")
    assert win["layout"]["yaxis"]["separatethousands"] is True
    assert win["layout"]["xaxis"]["type"] == "date"


def test_titles_sit_below_the_mode_bar_strip():
    """Every chart keeps a strip at the top for the mode bar and puts its title under it."""
    for fig in (series.series_figure({}, "v", ""), histogram.histogram_figure([], "v"),
                windows.windows_figure([], None), quality.quality_figure({}, {}),
                history.history_figure({}, T0, T0 + 900)):
        layout = fig["layout"]
        assert layout["margin"]["t"] >= common.MODEBAR_STRIP + common.TITLE_HEIGHT
        assert layout["title"]["yref"] == "paper" and layout["title"]["yanchor"] == "bottom"
