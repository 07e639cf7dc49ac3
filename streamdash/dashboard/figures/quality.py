"""The data-quality chart: the monitor's rates with its alert thresholds, and its extension."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..panel import Figure, Inputs, Panel, Update
from ..values import plot_text
from .common import PALETTE, chart_layout, value_axis, x_axis

if TYPE_CHECKING:
    from ..live import LiveView

CHART_QUALITY = "chart-quality"

#: Quality rates charted, in trace order: (the quality monitor's metric, legend label).
QUALITY_SERIES = (("invalid_rate", "invalid %"), ("duplicate_rate", "duplicate %"),
                  ("late_rate", "late %"), ("null_rate", "null %"))


def quality_figure(series: dict[str, list[Any]],
                   thresholds: dict[str, list[tuple[str, str, float, str]]]) -> dict[str, Any]:
    """Quality rates (%) over time, with every alert threshold on them as a dashed line.

    ``series`` is column-wise like ``QualityMonitor.series()`` (``at`` ISO times and one list of
    fractions per metric); ``thresholds`` is ``QualityMonitor.thresholds()``.
    """
    colors = {m: PALETTE[i] for i, (m, _) in enumerate(QUALITY_SERIES)}
    data = [{"type": "scatter", "mode": "lines", "name": label, "x": list(series.get("at", [])),
             "y": _percent(_column(series, metric)), "line": {"color": colors[metric],
                                                             "width": 1.5}}
            for metric, label in QUALITY_SERIES]
    at = list(series.get("at", []))
    layout = chart_layout("Data quality (% over the alert window)", "quality",
                          xaxis=x_axis(at[:1] + at[-1:]),
                          yaxis=value_axis("%", rangemode="tozero"))
    lines = [(m, name, op, thr) for m, _ in QUALITY_SERIES for name, op, thr, _sev
             in thresholds.get(m, ())]
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                         "y0": 100 * thr, "y1": 100 * thr,
                         "line": {"dash": "dash", "width": 1, "color": colors[m]}}
                        for m, _, _, thr in lines]
    layout["annotations"] = [{"xref": "paper", "x": 1, "xanchor": "right", "yref": "y",
                              "y": 100 * thr, "yanchor": "bottom", "showarrow": False,
                              "text": f"{plot_text(name)} {op} {100 * thr:g} %",
                              "font": {"size": 10, "color": colors[m]}}
                             for m, name, op, thr in lines]
    return {"data": data, "layout": layout}


def quality_extend(series: dict[str, list[Any]], since_ts: float,
                   max_points: int) -> list[Any] | None:
    """``extendData`` for the quality points newer than ``since_ts`` (``None`` when none)."""
    start = bisect.bisect_right(series.get("ts", []), since_ts)
    if start >= len(series.get("ts", [])):
        return None
    xs = series["at"][start:]
    return [{"x": [xs] * len(QUALITY_SERIES),
             "y": [_percent(_column(series, m)[start:]) for m, _ in QUALITY_SERIES]},
            list(range(len(QUALITY_SERIES))), max_points]


def _column(series: dict[str, list[Any]], metric: str) -> list[Any]:
    # A metric the monitor does not compute yet is all gaps, as long as the time axis.
    return series.get(metric) or [None] * len(series.get("ts", []))


def _percent(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else round(100 * v, 3) for v in values]


def snapshot(live: LiveView, state: Any, _inputs: Inputs, figure: Callable[..., Figure]
             ) -> Update | None:
    """The monitor's quality rates: new evaluations appended, or the whole figure (see
    ``LiveView.quality``)."""
    return live.quality(state, figure)


PANEL = Panel(CHART_QUALITY, "Data quality", snapshot, quality_figure, order=40, inputs=(),
              extend=True)
