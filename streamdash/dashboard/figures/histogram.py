"""The histogram of recent values, binned on the server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..panel import Figure, Inputs, Panel, Update, changed
from ..values import plot_text
from .common import PALETTE, chart_layout, empty, value_axis

if TYPE_CHECKING:
    from ..live import LiveView

CHART_HISTOGRAM = "chart-histogram"
HISTOGRAM_BINS = 30


def histogram_figure(values: Sequence[float], value_field: str,
                     bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """A histogram of recent values, binned here so the browser gets ``bins`` bars only."""
    layout = chart_layout(f"Recent {plot_text(value_field)} values (n = {len(values):,})",
                          "histogram", bargap=0.05, xaxis=value_axis(), yaxis=value_axis())
    if not values:
        empty(layout, "No numeric values yet")
        return {"data": [], "layout": layout}
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    centers = [round(lo + (i + 0.5) * width, 6) for i in range(bins)]
    data = [{"type": "bar", "x": centers, "y": counts, "width": width,
             "marker": {"color": PALETTE[0]}, "name": plot_text(value_field),
             "hovertemplate": "%{x:,.2f}: %{y:,}<extra></extra>"}]
    return {"data": data, "layout": layout}


def snapshot(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
             ) -> Update | None:
    """The newest values of the value field, binned; new with every record."""
    field = inputs.value_field
    return changed(live, state, f"hist:{field}", [live.state.records.last_seq, field],
                   lambda: figure(live.recent_values(field), field))


PANEL = Panel(CHART_HISTOGRAM, "Distribution", snapshot, histogram_figure, order=20, width=4)
