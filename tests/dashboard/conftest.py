"""Fixtures shared by the dashboard tests: a LiveView over a runtime that is not started."""

from __future__ import annotations

import pytest

from streamdash.config import Settings
from streamdash.dashboard.live import LiveView
from streamdash.dashboard.options import dashboard_options
from streamdash.runtime import Runtime
from streamdash.testing import FakeClock, ListSource

#: The fake clock's time (epoch seconds) of :func:`view`.
T0 = 1_700_000_000.0


@pytest.fixture
def view():
    """A :class:`LiveView` of a runtime with an empty list source, a 100-record buffer and a
    fake clock at :data:`T0`; records go in with ``view.runtime.buffer.extend``."""
    settings = Settings({"buffer.capacity": 100, "source.interval": 1})
    rt = Runtime(settings, ListSource([]), clock=FakeClock(T0))
    yield LiveView(rt, dashboard_options(settings, rt.source.hints))
    rt.stop()
