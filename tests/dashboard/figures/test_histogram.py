"""Tests for streamdash.dashboard.figures.histogram (server-side binning)."""

import json

from streamdash.dashboard.figures import histogram
from streamdash.dashboard.panel import Inputs


def test_histogram_bins_on_server():
    """Values are binned server-side: bar counts add up and the payload stays small."""
    values = [float(i % 10) for i in range(1000)]
    fig = histogram.histogram_figure(values, "v", bins=10)
    (bar,) = fig["data"]
    assert sum(bar["y"]) == 1000 and len(bar["x"]) == 10 and bar["y"][0] == 100
    assert len(json.dumps(fig)) < 2000
    assert histogram.histogram_figure([], "v")["data"] == []
    assert sum(histogram.histogram_figure([5.0, 5.0], "v")["data"][0]["y"]) == 2


def test_the_histogram_is_sent_again_only_when_a_record_arrived(view):
    """Its version is the buffer's last sequence number and the field: a new record (or
    another field) means a new figure, nothing else does."""
    view.runtime.buffer.extend([{"value": float(i)} for i in range(10)])
    first = histogram.snapshot(view, None, Inputs("value"), histogram.histogram_figure)
    assert sum(first["figure"]["data"][0]["y"]) == 10
    assert histogram.snapshot(view, first["state"], Inputs("value"), histogram.histogram_figure) \
        is None
    view.runtime.buffer.extend([{"value": 10.0}])
    again = histogram.snapshot(view, first["state"], Inputs("value"), histogram.histogram_figure)
    assert sum(again["figure"]["data"][0]["y"]) == 11
