"""The live time series: what a browser needs (reset or extend), its figure and its extension."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import ids
from ..panel import Figure, Inputs, Panel, Update
from ..values import plot_text
from .common import chart_layout, value_axis, x_axis

if TYPE_CHECKING:
    from ..live import LiveView

#: The chart, and the store of what its browser holds (sequence number, fields, keys).
CHART_SERIES = "chart-series"
SERIES_STATE = "series-state"


def series_action(state: Any, epoch: str, server_seq: int, value_field: str,
                  key_field: str) -> str:
    """What a client needs: ``reset`` (full figure), ``extend`` (new points) or ``none``.

    The client must be reset when it has nothing yet, watched another server (``epoch``, e.g.
    before a restart), changed fields, or holds a sequence number *ahead* of the server's.
    """
    # Not an object: a reset (the request guard refuses one, but a snapshot trusts nothing).
    if not isinstance(state, dict) or state.get("epoch") != epoch \
            or state.get("fields") != [value_field, key_field]:
        return "reset"
    seq, keys = state.get("seq", 0), state.get("keys")
    # The browser's state is not to be trusted: anything unusable means a full figure.
    if type(seq) is not int or seq > server_seq or type(state.get("max")) is not int \
            or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return "reset"
    return "none" if seq == server_seq else "extend"


def group_points(items: Sequence[tuple[int, dict[str, Any]]], value_field: str, key_field: str,
                 time_field: str) -> dict[str, tuple[list[Any], list[Any]]]:
    """``(seq, record)`` items → ``{key: (xs, ys)}`` in order of first appearance.

    x is the record's time field (or its sequence number when no time field is known); y is
    the value when numeric, else ``None`` (a gap, so nulls stay visible as breaks).
    """
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    isfinite = math.isfinite
    for seq, rec in items:  # the per-tick hot loop: plain type checks, no helper calls
        key = str(rec.get(key_field, "")) if key_field else value_field
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(rec.get(time_field) if time_field else seq)
        v = rec.get(value_field)
        group[1].append(v if (type(v) is float or type(v) is int) and isfinite(v) else None)
    return groups


def series_figure(groups: dict[str, tuple[list[Any], list[Any]]], value_field: str,
                  key_field: str) -> dict[str, Any]:
    """The whole time-series figure: one line per key, in ``groups`` order.

    No trace sets ``mode``: Plotly then draws markers on a trace of fewer than 20 points and a
    plain line from 20 on, and decides again on every redraw, so a trace that starts with one
    point (invisible as a line alone) shows it and turns into a line as ``extendData`` grows it.
    """
    # cliponaxis off: a lone first point at the axis' edge shows whole, not half a marker.
    data = [{"type": "scatter", "name": plot_text(key), "x": xs, "y": ys,
             "line": {"width": 1.5}, "marker": {"size": 6}, "connectgaps": False,
             "cliponaxis": False}
            for key, (xs, ys) in groups.items()]
    title = plot_text(value_field) + (f" by {plot_text(key_field)}" if key_field else "")
    firsts = [xs[0] for xs, _ in groups.values() if xs]
    lasts = [xs[-1] for xs, _ in groups.values() if xs]
    return {"data": data, "layout": chart_layout(title, f"{value_field}|{key_field}",
                                                 showlegend=True, xaxis=x_axis(firsts + lasts),
                                                 yaxis=value_axis(value_field))}



def series_extend(groups: dict[str, tuple[list[Any], list[Any]]], keys: Sequence[str],
                  max_points: int) -> list[Any] | None:
    """The ``extendData`` payload for new points, or ``None`` when a key has no trace yet."""
    index = {k: i for i, k in enumerate(keys)}
    if any(k not in index for k in groups):
        return None
    order = list(groups)
    return [{"x": [groups[k][0] for k in order], "y": [groups[k][1] for k in order]},
            [index[k] for k in order], max_points]


def points_per_trace(capacity: int, n_keys: int) -> int:
    """Points each trace keeps so the chart holds about what the buffer holds."""
    return max(100, math.ceil(capacity / max(1, n_keys)))


def snapshot(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
             ) -> Update | None:
    """The points after the browser's sequence number, or the whole figure (see
    ``LiveView.series``)."""
    return live.series(state, inputs.value_field, inputs.key_field, figure)


#: Its own request (one small ``extendData`` per tick), on the live tick.
PANEL = Panel(CHART_SERIES, "Live values", snapshot, series_figure, order=10, extend=True,
              width=8, inputs=(ids.VALUE_FIELD, ids.KEY_FIELD), store=SERIES_STATE,
              value_types={ids.prop(SERIES_STATE, "data"): (dict,)})
