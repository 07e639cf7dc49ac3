"""The window-aggregates chart: means per key with a min–max band, and why it trails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..panel import Figure, Inputs, Panel, Update, changed
from ..values import iso_of, plot_text
from .common import PALETTE, alpha, chart_layout, empty, value_axis, x_axis

if TYPE_CHECKING:
    from ..live import LiveView

CHART_WINDOWS = "chart-windows"
#: The line above the chart saying why it trails the live values.
WINDOW_NOTE = "window-note"


def window_lag_note(size: float | None, lateness: float = 0.0,
                    idle_timeout: float = 0.0) -> str:
    """Why the window chart trails the live values, from the window rule's settings
    (``size`` ``None``: there is no window rule).

    A window is emitted when the watermark (newest event time minus the lateness) passes its
    end, and its point sits at that end: between ``lateness`` and ``lateness + size`` seconds
    behind the newest record.
    """
    if size is None:
        return "No window rule is configured (add one to transforms to aggregate windows)."
    idle = f", or after {idle_timeout:g} s without records" if idle_timeout > 0 else ""
    return (f"{size:g} s windows appear when they close: once records {lateness:g} s (the "
            f"lateness) past a window's end arrive{idle}. So this chart trails the live "
            f"values by {lateness:g}–{lateness + size:g} s.")


def windows_figure(windows: Sequence[dict[str, Any]], field: str | None) -> dict[str, Any]:
    """Window means per key with a shaded min–max band (windows oldest first).

    ``field`` names the aggregated field when known (the window rule, not the value picker,
    decides what is aggregated).
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    for w in windows:
        by_key.setdefault(str(w.get("key", "")), []).append(w)
    data: list[dict[str, Any]] = []
    for i, (key, ws) in enumerate(by_key.items()):
        color = PALETTE[i % len(PALETTE)]
        xs = [iso_of(w.get("end")) for w in ws]
        name = plot_text(key) or "all"
        common = {"type": "scatter", "x": xs, "legendgroup": name, "hoverinfo": "skip",
                  "showlegend": False, "mode": "lines", "line": {"width": 0}}
        data.append({**common, "name": f"{name} min", "y": [w.get("min") for w in ws]})
        data.append({**common, "name": f"{name} max", "y": [w.get("max") for w in ws],
                     "fill": "tonexty", "fillcolor": alpha(color, 0.18)})
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": xs,
                     "legendgroup": name, "y": [w.get("mean") for w in ws],
                     "line": {"color": color, "width": 2}, "marker": {"size": 4},
                     "customdata": [[w.get("count"), w.get("p95")] for w in ws],
                     "hovertemplate": "mean %{y:.2f}<br>n %{customdata[0]} · p95 "
                                      "%{customdata[1]:.2f}<extra>" + name + "</extra>"})
    what = f" of {plot_text(field)}" if field else " per key"
    layout = chart_layout(f"Window mean{what} (band: min–max)", "windows",
                          xaxis=x_axis([x for t in data[2::3] for x in t["x"][:1] + t["x"][-1:]]),
                          yaxis=value_axis())
    if not data:
        empty(layout, "No closed windows yet: a window closes when the watermark passes its end")
    return {"data": data, "layout": layout}


def snapshot(live: LiveView, state: Any, _inputs: Inputs, figure: Callable[..., Figure]
             ) -> Update | None:
    """The newest closed windows; new with every closed window."""
    return changed(live, state, "windows", [live.state.windows.total],
                   lambda: figure(*live.closed_windows()))


PANEL = Panel(CHART_WINDOWS, "Window aggregates", snapshot, windows_figure, order=30, inputs=(),
              note=WINDOW_NOTE)
