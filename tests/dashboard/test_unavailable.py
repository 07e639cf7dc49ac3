"""A web process whose state store does not answer: the page says so once, shows no stale
figures, and everything is sent afresh when the store answers again."""

from __future__ import annotations

import socket

import pytest

from streamdash.dashboard import unavailable, views
from streamdash.dashboard.figures.history import history_figure
from streamdash.dashboard.figures.series import series_figure
from streamdash.dashboard.live import LiveView
from streamdash.dashboard.options import dashboard_options
from streamdash.dashboard.panels import TICK_PANELS, Inputs
from streamdash.state.build import open_store
from tests.state.harness import redis_settings


@pytest.fixture
def live():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    settings = redis_settings(f"redis://:pw-never-shown@127.0.0.1:{port}/0", retries=0)
    stream = open_store(settings).stream()
    return LiveView(stream, dashboard_options(settings, stream.info().hints))


def test_the_tick_says_unreachable_once_and_empties_everything(live):
    """DOWN, a red banner with the reason (no password), every chart a note, tables empty;
    the next tick with that state sends nothing."""
    out, state = views.tick(live, None, Inputs("value"), 5)
    assert set(out) <= set(views.TICK_OUTPUTS)
    assert out["status-badge.children"] == "DOWN" and out["stale-warning.color"] == "danger"
    assert out["stale-warning.children"].startswith(unavailable.BANNER)
    assert "state store unreachable (redis://:***@127.0.0.1:" in out["stale-warning.children"]
    assert "pw-never-shown" not in str(out)
    for panel in TICK_PANELS:
        figure = out[f"{panel.id}.figure"]
        assert figure["data"] == [] and "unreachable" in figure["layout"]["annotations"][0][
            "text"]
    assert out["grid-latest.rowData"] == [] and out["grid-quarantine.rowData"] == []
    assert views.tick(live, state, Inputs("value"), 5) == ({}, state)


def test_the_charts_with_their_own_request_say_so_too(live):
    """The live chart shows the note once; the history chart names the problem."""
    first = live.series(None, "value", "key", series_figure)
    assert first["figure"]["data"] == [] and live.series(first["state"], "value", "key",
                                                         series_figure) is None
    _, figure = live.history("15 min", history_figure)
    assert "history unavailable: state store unreachable" in figure["layout"]["title"]["text"]
    assert live.epoch == "unreachable"
