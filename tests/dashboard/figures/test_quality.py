"""Tests for streamdash.dashboard.figures.quality (data-quality rates and thresholds)."""

import pytest

from streamdash.dashboard.figures import quality
from streamdash.dashboard.panel import Inputs


def test_quality_figure_and_threshold_lines():
    """Quality rates are drawn in %, each alert threshold as a dashed line with a label."""
    series = {"at": ["A1", "A2"], "ts": [1.0, 2.0], "invalid_rate": [None, 0.5],
              "null_rate": [0.1, 0.2]}
    thresholds = {"null_rate": [("null_rate_high", ">", 0.05, "warning")]}
    fig = quality.quality_figure(series, thresholds)
    names = [t["name"] for t in fig["data"]]
    assert names == ["invalid %", "duplicate %", "late %", "null %"]
    assert fig["data"][0]["y"] == [None, 50.0] and fig["data"][3]["y"] == [10.0, 20.0]
    (shape,) = fig["layout"]["shapes"]
    assert shape["y0"] == 5.0 and shape["line"]["dash"] == "dash"
    assert "null_rate_high" in fig["layout"]["annotations"][0]["text"]


def test_quality_extend_only_new_points():
    """Only quality points newer than the client's timestamp are sent."""
    series = {"at": ["A1", "A2", "A3"], "ts": [1.0, 2.0, 3.0], "invalid_rate": [0, 0.1, 0.2]}
    ext = quality.quality_extend(series, 1.0, 300)
    assert ext[0]["x"][0] == ["A2", "A3"] and ext[0]["y"][0] == [10.0, 20.0]
    assert ext[0]["y"][1] == [None, None] and ext[1] == [0, 1, 2, 3] and ext[2] == 300
    assert quality.quality_extend(series, 3.0, 300) is None


@pytest.mark.parametrize("spoil", [{"ts": "late"}, {"sig": None}, {"epoch": "other"}])
def test_a_quality_state_with_one_field_spoilt_gets_a_whole_figure(view, spoil):
    """The quality chart extends only a state it issued: one changed field means a reset."""
    view.runtime.monitor.evaluate(view.runtime.clock())
    good = quality.snapshot(view, None, Inputs("value"), quality.quality_figure)["state"]
    assert quality.snapshot(view, good, Inputs("value"), quality.quality_figure) is None
    assert "figure" in quality.snapshot(view, {**good, **spoil}, Inputs("value"),
                                        quality.quality_figure)
