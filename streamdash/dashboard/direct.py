"""The live tick's callbacks answered without Dash's generic dispatch.

Every browser sends the live tick's callbacks every refresh period: 1,000 viewers at 5 s are
400 requests a second, nearly all of the server's work. Dash's generic dispatch of one copies
the request's cookies and headers into a context, checks each of the ~50 outputs by building
an ``Output`` object, groups the arguments and wraps the call in a context copy: ~0.3 ms of
the ~1.1 ms a tick request cost in-process here (Flask's test client, 200 viewers), a quarter.
None of that does anything for these callbacks: they read no context, and the request guard
(``guard.py``, a ``before_request`` hook) has already checked the body against the callback —
ids, properties, value types, stream names — before any view runs.

:class:`DirectCallbacks` registers a callback with Dash as usual (the renderer learns it from
``/_dash-dependencies``) and remembers it; :func:`answer_directly` wraps Dash's
``_dash-update-component`` view so that those callbacks are called here with the request's
values and answered in Dash's own format — ``{"multi": true, "response": {id: {prop:
value}}}``, ``no_update`` left out, written by plotly's JSON writer as Dash writes it; a
``PreventUpdate`` raised by the callback becomes Dash's 204 through Dash's own error handler.
Every other callback (and every request the table does not know) goes to Dash unchanged, and
every Flask hook (login, guard, secret filter) runs as before: only the view is replaced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from dash import Dash, Output, no_update
from dash.exceptions import PreventUpdate
from flask import Response, request
from plotly.io.json import to_json_plotly

#: Output ``(component id, property)`` pairs of a callback, in its return order.
Outputs = list[tuple[str, str]]
#: The type of ``dash.no_update`` (an output left as the browser has it).
NoUpdate = type(no_update)


class DirectCallbacks:
    """Callbacks of one app answered by :func:`answer_directly`: callback-map key →
    (function, its outputs)."""

    def __init__(self) -> None:
        self._table: dict[str, tuple[Callable[..., Any], Outputs]] = {}

    def callback(self, app: Dash, *dependencies: Any,
                 **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Like ``app.callback(*dependencies, **options)`` (every output a separate
        ``Output``, all of them first); the callback is also answered directly."""
        outputs = [(d.component_id, d.component_property) for d in dependencies
                   if isinstance(d, Output)]

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            before = set(app.callback_map)
            app.callback(*dependencies, **options)(fn)
            (key,) = set(app.callback_map) - before
            self._table[key] = (fn, outputs)
            return fn
        return register

    def get(self, key: Any) -> tuple[Callable[..., Any], Outputs] | None:
        """The callback registered under callback-map ``key`` (``None``: not answered here)."""
        return self._table.get(key) if isinstance(key, str) else None


def answer(fn: Callable[..., Any], outputs: Outputs, body: dict[str, Any]) -> Response:
    """Call ``fn`` with the values of ``body``'s inputs then states and answer as Dash does."""
    args = [item.get("value") for part in ("inputs", "state") for item in body.get(part, ())]
    values = fn(*args)
    response: dict[str, dict[str, Any]] = {}
    for (component, prop), value in zip(outputs, values, strict=True):
        if not isinstance(value, NoUpdate):
            response.setdefault(component, {})[prop] = value
    if not response:  # as Dash: nothing to send is a 204
        raise PreventUpdate
    return Response(to_json_plotly({"multi": True, "response": response}),
                    mimetype="application/json")


def answer_directly(app: Dash, direct: DirectCallbacks) -> None:
    """Answer ``direct``'s callbacks before Dash's dispatch (see the module docstring); the
    request guard must be installed (``install_guards``): the values are not checked here."""
    server = app.server
    endpoint = f"{app.config.routes_pathname_prefix}_dash-update-component"
    dash_view = server.view_functions[endpoint]

    @functools.wraps(dash_view)  # __wrapped__: Dash's own view (tests compare the two)
    def dispatch() -> Any:
        body = request.get_json(silent=True)  # parsed by the guard already (Flask keeps it)
        hit = direct.get(body.get("output")) if isinstance(body, dict) else None
        return dash_view() if hit is None else answer(*hit, body)

    server.view_functions[endpoint] = dispatch
