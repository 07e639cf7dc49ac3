"""The dashboard's charts, found once: :data:`PANELS`.

Every chart is one module in ``figures/`` that declares, beside its pure figure function, its
component ids, its snapshot (what it reads from the :class:`~.live.LiveView`) and its
:class:`~.panel.Panel` with an ``order``. The modules are found here (see
:mod:`streamdash.registry`) and the panels sorted by ``order``; the layout's chart cards, the
live tick's outputs and inputs, the charts' own callbacks and the request guard's types are
all derived from them. So adding a chart is its module and its test; see
docs/architecture.md, "Adding a chart". Two panels with one id or one order fail at import,
naming both modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import RegistryError
from ..registry import claim, discover
from . import figures, ids
from .panel import Figure, Inputs, Panel, Snapshot, Update, changed

if TYPE_CHECKING:
    from .live import LiveView


def declared_panels(module: ModuleType) -> Iterator[tuple[str, tuple[str, Panel]]]:
    """The panels ``module`` declares (its module-level :class:`Panel` values): id →
    (the module's name, the panel)."""
    for value in vars(module).values():
        if isinstance(value, Panel):
            yield value.id, (module.__name__, value)


def ordered(found: dict[str, tuple[str, Panel]]) -> tuple[Panel, ...]:
    """The panels of ``found`` (id → (module, panel)) sorted by ``order``. Two with one order
    (their place would depend on module names) or a width that is not 1–12 columns raise
    :class:`RegistryError` naming the module(s)."""
    where: dict[str, str] = {}
    for module, panel in found.values():
        claim(where, str(panel.order), module, "panel order")
        if panel.width not in range(1, 13):
            raise RegistryError(f"{module}: panel {panel.id!r} has a width of {panel.width} "
                                f"columns; a row has 12")
    return tuple(panel for _, panel in sorted(found.values(), key=lambda mp: mp[1].order))


#: Every chart, in page order.
PANELS: tuple[Panel, ...] = ordered(
    discover(figures.__name__, figures.__path__, declared_panels, "panel"))
#: The charts sent with the live tick's single request (the others have their own callback).
TICK_PANELS = tuple(p for p in PANELS if not p.store)


def read_inputs(live: LiveView, chosen: dict[str, Any]) -> Inputs:
    """:class:`Inputs` from the raw control values a browser sent (``{component id: value}``):
    unknown field names fall back to the configured value field and to no key (they come from
    the browser, and only known ones may key a cache or a chart); each panel's own controls
    are checked by its ``choices`` (an absent value gets the check's default)."""
    return Inputs(live.known_field(chosen.get(ids.VALUE_FIELD)) or live.options.value_field,
                  live.known_field(chosen.get(ids.KEY_FIELD)) or "",
                  {control: check(chosen.get(control))
                   for panel in PANELS for control, check in panel.choices.items()})


__all__ = ["PANELS", "TICK_PANELS", "Figure", "Inputs", "Panel", "Snapshot", "Update", "changed",
           "declared_panels", "ordered", "read_inputs"]
