"""The dashboard's own settings (the open ``dashboard`` section), validated once when built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ConfigError, unknown_key
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
    ``chart_windows`` and ``quality_points`` bound the aggregate and quality charts.
    """

    refresh: float = 5.0
    value_field: str = "value"
    key_field: str = ""
    time_field: str = ""
    table_rows: int = 100
    histogram_points: int = 1000
    chart_windows: int = 300
    quality_points: int = 300


_INTS = {"table_rows": (10, 5000), "histogram_points": (10, 100_000),
         "chart_windows": (10, 5000), "quality_points": (10, 5000)}
_KNOWN = {"refresh", "value_field", "key_field", "time_field", *_INTS}


def dashboard_options(settings: Settings, hints: FieldHints) -> DashboardOptions:
    """Validate the ``dashboard`` section; unknown keys and bad values raise ``ConfigError``."""
    section: dict[str, Any] = settings.section("dashboard")
    unknown = sorted(set(section) - _KNOWN)
    if unknown:
        raise unknown_key(f"dashboard.{unknown[0]}", unknown[0], _KNOWN)
    ints = {}
    for key, (lo, hi) in _INTS.items():
        value = section.get(key, getattr(DashboardOptions, key))
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ConfigError(f"dashboard.{key}", f"expected a whole number between {lo} and "
                                                  f"{hi}, got {value!r}")
        ints[key] = value
    time_field = section.get("time_field") or hints.time_field
    if not isinstance(time_field, str):
        raise ConfigError("dashboard.time_field", f"expected a field name, got {time_field!r}")
    return DashboardOptions(
        refresh=float(section.get("refresh", 5.0)),
        value_field=section.get("value_field") or hints.value_field,
        key_field=section.get("key_field") or hints.key_field,
        time_field=time_field, **ints)
