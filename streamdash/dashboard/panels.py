"""The dashboard's charts, declared once: :data:`PANELS`.

The layout's chart cards, the live tick's outputs and the charts' own callbacks are all derived
from these declarations. Adding a chart is one :class:`Panel` entry here (with the snapshot
function reading what it shows from the :class:`~.live.LiveView`), its figure function in
``figures/``, and its test; see docs/architecture.md, "Adding a chart".

A snapshot is called per browser request: ``snapshot(live, state, inputs, figure)`` returns
``None`` when the browser already shows the newest data, else an update ``{"figure": …}`` (or
``{"extend": …}`` for an ``extend`` panel) with ``"state"``, what the browser keeps and sends
back next time. That state comes from the browser: a snapshot trusts nothing in it beyond
comparing it for equality (a state it cannot use means a full figure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dash_bootstrap_components as dbc

from . import ids
from .figures.histogram import histogram_figure
from .figures.history import history_figure
from .figures.quality import quality_figure
from .figures.series import series_figure
from .figures.windows import windows_figure
from .options import DEFAULT_HISTORY_RANGE, HISTORY_RANGES

if TYPE_CHECKING:
    from .live import LiveView

Figure = dict[str, Any]
#: ``{"figure": …}`` or ``{"extend": …}``, and ``"state"`` (JSON, kept by the browser).
Update = dict[str, Any]


@dataclass(frozen=True)
class Inputs:
    """What one browser chose, already checked: fields the data has, a known range."""

    value_field: str
    key_field: str = ""
    range_label: str = DEFAULT_HISTORY_RANGE


def read_inputs(live: LiveView, chosen: dict[str, Any]) -> Inputs:
    """:class:`Inputs` from the raw control values a browser sent (``{component id: value}``):
    unknown field names fall back to the configured value field and to no key (they come from
    the browser, and only known ones may key a cache or a chart), unknown ranges to the default."""
    label = chosen.get(ids.HISTORY_RANGE)
    return Inputs(live.known_field(chosen.get(ids.VALUE_FIELD)) or live.options.value_field,
                  live.known_field(chosen.get(ids.KEY_FIELD)) or "",
                  label if isinstance(label, str) and label in HISTORY_RANGES
                  else DEFAULT_HISTORY_RANGE)


Snapshot = Callable[["LiveView", Any, Inputs, Callable[..., Figure]], "Update | None"]


@dataclass(frozen=True)
class Panel:
    """One chart: its card, its figure, and how a browser gets it up to date.

    ``snapshot`` reads the LiveView and builds with ``figure`` (see the module docstring).
    ``inputs`` names the controls whose value it reads; ``extend`` says it may answer
    ``extendData`` instead of a whole figure. A panel with a ``store`` has its own callback
    on ``timer`` (its browser state in that store); without one it is part of the live tick's
    single request. ``width`` is its card's share of a 12-column row on large screens (cards
    fill rows in order), ``note`` the id of a line of text above the chart, ``controls``
    builds what goes in its card header beside the title.
    """

    id: str
    title: str
    snapshot: Snapshot
    figure: Callable[..., Figure]
    inputs: tuple[str, ...] = (ids.VALUE_FIELD,)
    extend: bool = False
    store: str = ""
    timer: str = ids.TICK
    width: int = 6
    height: int = 320
    note: str = ""
    controls: Callable[[], Any] | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The ``component.prop`` names this panel's updates set."""
        return (ids.prop(self.id, "figure"),
                *((ids.prop(self.id, "extendData"),) if self.extend else ()))

    def sent(self, update: Update | None) -> dict[str, Any]:
        """``{component.prop: value}`` of ``update`` (empty for no update)."""
        if not update:
            return {}
        if "figure" in update:
            return {ids.prop(self.id, "figure"): update["figure"]}
        return {ids.prop(self.id, "extendData"): update["extend"]}


def changed(live: LiveView, state: Any, name: str, version: list[Any],
            build: Callable[[], Figure]) -> Update | None:
    """The figure cached as ``name`` for ``version`` (built once for every viewer), unless the
    browser's ``state`` says it shows that version already."""
    version = [live.epoch, *version]
    if state == version:
        return None
    return {"figure": live.shared(name, version, build), "state": version}


# -- snapshots -------------------------------------------------------------------------------------
def series(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
           ) -> Update | None:
    """The points after the browser's sequence number, or the whole figure (see
    ``LiveView.series``)."""
    return live.series(state, inputs.value_field, inputs.key_field, figure)


def histogram(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
              ) -> Update | None:
    """The newest values of the value field, binned; new with every record."""
    field = inputs.value_field
    return changed(live, state, f"hist:{field}", [live.state.records.last_seq, field],
                   lambda: figure(live.recent_values(field), field))


def windows(live: LiveView, state: Any, _inputs: Inputs, figure: Callable[..., Figure]
            ) -> Update | None:
    """The newest closed windows; new with every closed window."""
    return changed(live, state, "windows", [live.state.windows.total],
                   lambda: figure(*live.closed_windows()))


def quality(live: LiveView, state: Any, _inputs: Inputs, figure: Callable[..., Figure]
            ) -> Update | None:
    """The monitor's quality rates: new evaluations appended, or the whole figure (see
    ``LiveView.quality``)."""
    return live.quality(state, figure)


def history(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
            ) -> Update | None:
    """The persisted snapshots over the chosen range, read once per refresh period."""
    version, fig = live.history(inputs.range_label, figure)
    return None if version == state else {"figure": fig, "state": version}


def range_picker() -> dbc.RadioItems:
    """The history chart's range buttons (15 min … 24 h)."""
    return dbc.RadioItems(id=ids.HISTORY_RANGE, value=DEFAULT_HISTORY_RANGE, inline=True,
                          options=[{"label": r, "value": r} for r in HISTORY_RANGES],
                          className="btn-group", inputClassName="btn-check",
                          labelClassName="btn btn-outline-secondary btn-sm",
                          labelCheckedClassName="active")


#: Every chart, in page order.
PANELS: tuple[Panel, ...] = (
    Panel(ids.CHART_SERIES, "Live values", series, series_figure, extend=True, width=8,
          inputs=(ids.VALUE_FIELD, ids.KEY_FIELD), store=ids.SERIES_STATE),
    Panel(ids.CHART_HISTOGRAM, "Distribution", histogram, histogram_figure, width=4),
    Panel(ids.CHART_WINDOWS, "Window aggregates", windows, windows_figure, inputs=(),
          note=ids.WINDOW_NOTE),
    Panel(ids.CHART_QUALITY, "Data quality", quality, quality_figure, inputs=(), extend=True),
    Panel(ids.CHART_HISTORY, "Pipeline history", history, history_figure, width=12, height=460,
          inputs=(ids.HISTORY_RANGE,), store=ids.HISTORY_STATE, timer=ids.HISTORY_TICK,
          controls=range_picker),
)
#: The charts sent with the live tick's single request (the others have their own callback).
TICK_PANELS = tuple(p for p in PANELS if not p.store)
