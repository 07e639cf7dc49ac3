"""Tests for streamdash.dashboard.figures.windows (window aggregates)."""

from streamdash.dashboard.figures import windows
from streamdash.dashboard.panel import Inputs

T0 = 1_700_000_000.0


def test_windows_figure_band_and_mean():
    """Each key gets a min line, a filled max line (the band) and a mean line."""
    ws = [{"key": "a", "start": T0, "end": T0 + 10, "count": 3, "mean": 2.0, "min": 1.0,
           "max": 3.0, "p95": 2.9}, {"key": "a", "end": "2023-11-14T22:13:40.000Z",
                                     "mean": 2.5, "min": 2.0, "max": 3.5}]
    fig = windows.windows_figure(ws, "v")
    assert "of v" in fig["layout"]["title"]["text"]
    lo, hi, mean = fig["data"]
    assert lo["y"] == [1.0, 2.0] and hi["fill"] == "tonexty" and mean["y"] == [2.0, 2.5]
    assert mean["x"] == ["2023-11-14T22:13:30.000Z", "2023-11-14T22:13:40.000Z"]
    empty = windows.windows_figure([], None)["layout"]
    assert empty["annotations"] and empty["xaxis"] == {"visible": False}


def test_window_lag_note_from_the_rule():
    """The window note names the size and lateness and how far the chart trails; without a
    rule it says there is none."""
    note = windows.window_lag_note(10, 30, 60)
    assert "10 s windows" in note and "30 s (the lateness)" in note
    assert "after 60 s without records" in note and "by 30–40 s" in note
    assert "without records" not in windows.window_lag_note(2, 5)
    assert "No window rule" in windows.window_lag_note(None)


def test_the_window_chart_is_sent_again_only_when_a_window_closed(view):
    """Its version is the count of closed windows: records alone do not resend it."""
    def snap(state):
        return windows.snapshot(view, state, Inputs("value"), windows.windows_figure)
    first = snap(None)
    assert first["figure"]["data"] == []
    view.runtime.buffer.extend([{"value": 1.0}])
    assert snap(first["state"]) is None
    view.runtime.events.publish("window", [{"key": "k0", "start": T0, "end": T0 + 10,
                                            "count": 2, "mean": 1.0, "min": 0.0, "max": 2.0,
                                            "p95": 2.0}])
    second = snap(first["state"])
    assert second["figure"]["data"][2]["y"] == [1.0]
    assert snap(second["state"]) is None
