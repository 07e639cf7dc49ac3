"""What a chart declares: :class:`Panel`, the :class:`Inputs` its snapshot reads, and
:func:`changed`, the snapshot most charts end in.

Each chart's module in ``figures/`` declares its ``Panel`` next to its figure function and
its component ids; :data:`~.panels.PANELS` finds them. This module imports no chart, so a chart
module can import it without a cycle.

A snapshot is called per browser request: ``snapshot(live, state, inputs, figure)`` returns
``None`` when the browser already shows the newest data, else an update ``{"figure": …}`` (or
``{"extend": …}`` for an ``extend`` panel) with ``"state"``, what the browser keeps and sends
back next time. That state comes from the browser: a snapshot trusts nothing in it beyond
comparing it for equality (a state it cannot use means a full figure).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import ids

if TYPE_CHECKING:
    from .live import LiveView

Figure = dict[str, Any]
#: ``{"figure": …}`` or ``{"extend": …}``, and ``"state"`` (JSON, kept by the browser).
Update = dict[str, Any]


@dataclass(frozen=True)
class Inputs:
    """What one browser chose, already checked: fields the data has, and each panel's own
    controls (``choices``: control id → a value its panel's check accepted)."""

    value_field: str
    key_field: str = ""
    choices: Mapping[str, Any] = field(default_factory=dict)


Snapshot = Callable[["LiveView", Any, Inputs, Callable[..., Figure]], "Update | None"]


@dataclass(frozen=True, eq=False)
class Panel:
    """One chart: its card, its figure, and how a browser gets it up to date.

    ``snapshot`` reads the LiveView and builds with ``figure`` (see the module docstring).
    ``order`` places its card on the page (lower first; numbers leave room between charts).
    ``inputs`` names the controls whose value it reads; ``extend`` says it may answer
    ``extendData`` instead of a whole figure. A panel with a ``store`` has its own callback
    on ``timer`` (its browser state in that store); without one it is part of the live tick's
    single request. ``width`` is its card's share of a 12-column row on large screens (cards
    fill rows in order), ``note`` the id of a line of text above the chart, ``controls``
    builds what goes in its card header beside the title, ``choices`` checks the value a
    browser sends for each of those controls (id → function returning a known value), and
    ``value_types`` are the types a browser may send for the panel's own stores and controls
    (``component.prop`` → types; the request guard refuses others).
    """

    id: str
    title: str
    snapshot: Snapshot
    figure: Callable[..., Figure]
    order: int
    inputs: tuple[str, ...] = (ids.VALUE_FIELD,)
    extend: bool = False
    store: str = ""
    timer: str = ids.TICK
    width: int = 6
    height: int = 320
    note: str = ""
    controls: Callable[[], Any] | None = None
    choices: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    value_types: Mapping[str, tuple[type, ...]] = field(default_factory=dict)

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
