"""What every chart shares: the base layout, axes, the empty-chart note, the palette."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..values import is_number, plot_text, wall_time

#: Trace colours, in order (Bootstrap's palette, so charts match the page).
PALETTE = ("#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#d63384", "#20c997", "#6c757d",
           "#ffc107", "#0dcaf0", "#dc3545")
#: A time axis spans at least this many seconds (and a sequence-number axis this many
#: records): a single point or a few close ones otherwise get an axis a millisecond wide with
#: ticks like ``00:08:43.4315``. The extra room is on the right, where the next points land.
MIN_TIME_SPAN = 60.0
MIN_SEQ_SPAN = 10
#: Time ticks never finer than a millisecond; hover shows the full UTC time to the millisecond.
TIME_TICKFORMATSTOPS = [{"dtickrange": [None, 1000], "value": "%H:%M:%S.%L"}]
TIME_HOVERFORMAT = "%Y-%m-%d %H:%M:%S.%L"
#: Top margin of every chart: a strip for Plotly's mode bar (shown on hover at the top right)
#: and below it the title, so a long title (or a narrow card) never puts one over the other.
MODEBAR_STRIP = 28
TITLE_HEIGHT = 24


def chart_layout(title: str, revision: str, **extra: Any) -> dict[str, Any]:
    """The layout every chart starts from: the title under the mode-bar strip, white, 320 px
    high, a horizontal legend; ``revision`` names the chart (``extra`` overrides any key)."""
    # uirevision keeps the user's zoom and legend choices across updates of the same chart.
    return {"title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left",
                      "yref": "paper", "y": 1, "yanchor": "bottom", "pad": {"b": 6}},
            "uirevision": revision,
            "margin": {"l": 50, "r": 10, "t": MODEBAR_STRIP + TITLE_HEIGHT, "b": 40},
            "height": 320,
            "legend": {"orientation": "h", "y": -0.2}, "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff", "xaxis": {"gridcolor": "#eee"}, **extra}


def value_axis(title: str = "", **extra: Any) -> dict[str, Any]:
    """A numeric axis whose labels read well at any magnitude: ``43,210.5``, never ``43.2105k``
    (no SI suffixes, thousands separated), its margin grown so the title clears the labels."""
    axis = {"automargin": True, "exponentformat": "none", "separatethousands": True,
            "gridcolor": "#eee", **extra}
    if title:
        axis["title"] = {"text": plot_text(title), "standoff": 8}
    return axis


def x_axis(values: Sequence[Any]) -> dict[str, Any]:
    """The x axis for ``values`` (ISO times, or sequence numbers), at least a minimum span wide.

    Times get a date axis with millisecond-at-most ticks and a full UTC hover; when the values
    span less than :data:`MIN_TIME_SPAN` (:data:`MIN_SEQ_SPAN` for numbers) the autorange is
    told to include the first value plus that span, so a few points have readable ticks and
    room on the right. Later points (``extendData``) widen the autorange as usual.
    """
    axis: dict[str, Any] = {"gridcolor": "#eee", "automargin": True}
    times = [t for v in values if (t := wall_time(v)) is not None]
    if times:
        axis.update(type="date", tickformatstops=TIME_TICKFORMATSTOPS,
                    hoverformat=TIME_HOVERFORMAT)
        lo, hi = min(times), max(times)
        if (hi - lo).total_seconds() < MIN_TIME_SPAN:
            end = lo + timedelta(seconds=MIN_TIME_SPAN)
            axis["autorangeoptions"] = {"include": [end.isoformat(timespec="milliseconds")]}
        return axis
    numbers = [v for v in values if is_number(v)]
    if numbers and max(numbers) - min(numbers) < MIN_SEQ_SPAN:
        axis["autorangeoptions"] = {"include": [min(numbers) + MIN_SEQ_SPAN]}
    return axis


def alpha(hex_color: str, opacity: float) -> str:
    """``#rrggbb`` as ``rgba(r,g,b,opacity)`` (a translucent band in a line's colour)."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{opacity})"


def empty(layout: dict[str, Any], text: str) -> None:
    """Mark an empty chart: a centred note instead of meaningless axes."""
    layout["annotations"] = [empty_note(text)]
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}


def empty_note(text: str) -> dict[str, Any]:
    """A grey note centred on the plotting area (what an empty chart shows instead of data)."""
    return {"text": text, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
            "showarrow": False, "font": {"color": "#6c757d"}}
