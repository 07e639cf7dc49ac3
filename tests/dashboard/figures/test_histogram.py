"""Tests for streamdash.dashboard.figures.histogram (server-side binning)."""

import json

from streamdash.dashboard.figures import histogram


def test_histogram_bins_on_server():
    """Values are binned server-side: bar counts add up and the payload stays small."""
    values = [float(i % 10) for i in range(1000)]
    fig = histogram.histogram_figure(values, "v", bins=10)
    (bar,) = fig["data"]
    assert sum(bar["y"]) == 1000 and len(bar["x"]) == 10 and bar["y"][0] == 100
    assert len(json.dumps(fig)) < 2000
    assert histogram.histogram_figure([], "v")["data"] == []
    assert sum(histogram.histogram_figure([5.0, 5.0], "v")["data"][0]["y"]) == 2
