"""The dashboard's own settings (the open ``dashboard`` section), validated once when built."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ..config import Settings
from ..params import Float, Int, Params, parse
from ..sources.base import FieldHints

#: Refresh choices offered in the header (seconds; 0 = paused).
REFRESH_CHOICES = (1.0, 2.0, 5.0, 10.0)
#: Ranges the pipeline-history chart offers (label → seconds) and the one it opens with: the
#: shortest, so a fresh run is not a sliver at the right edge of an hour (the chart's axis
#: also starts at the oldest snapshot in range, see ``figures.history.history_figure``).
HISTORY_RANGES = {"15 min": 900.0, "1 h": 3600.0, "6 h": 21_600.0, "24 h": 86_400.0}
DEFAULT_HISTORY_RANGE = "15 min"


@dataclass(frozen=True)
class DashboardOptions:
    """What the dashboard shows by default and how much of it.

    ``value_field``/``key_field``/``time_field`` default to the source's hints; ``table_rows``
    bounds every table; ``histogram_points`` is how many recent values the histogram covers;
    ``chart_windows`` and ``quality_points`` bound the aggregate and quality charts;
    ``shared_extends`` is how many sets of new time-series points are kept ready for the
    viewers that hold the same points (one set per sequence number they start after: a few
    for all viewers of one refresh period; numbers a client makes up only evict the oldest).
    """

    refresh: float = 5.0
    value_field: str = "value"
    key_field: str = ""
    time_field: str = ""
    table_rows: int = 100
    histogram_points: int = 1000
    chart_windows: int = 300
    quality_points: int = 300
    shared_extends: int = 32


class DashboardParams(Params):
    """The ``dashboard`` section as typed: the common keys (also checked by the settings) and
    the dashboard's own bounds; a field name left empty defaults to the source's hint."""

    refresh: Float = 5.0
    value_field: str = ""
    key_field: str = ""
    time_field: str = ""
    table_rows: Int = Field(100, ge=10, le=5000)
    histogram_points: Int = Field(1000, ge=10, le=100_000)
    chart_windows: Int = Field(300, ge=10, le=5000)
    quality_points: Int = Field(300, ge=10, le=5000)
    shared_extends: Int = Field(32, ge=1, le=1000)


def dashboard_options(settings: Settings, hints: FieldHints) -> DashboardOptions:
    """Validate the ``dashboard`` section; unknown keys and bad values raise ``ConfigError``."""
    p = parse(DashboardParams, settings.section("dashboard"), "dashboard")
    return DashboardOptions(
        refresh=p.refresh, value_field=p.value_field or hints.value_field,
        key_field=p.key_field or hints.key_field, time_field=p.time_field or hints.time_field,
        table_rows=p.table_rows, histogram_points=p.histogram_points,
        chart_windows=p.chart_windows, quality_points=p.quality_points,
        shared_extends=p.shared_extends)
