"""Guards on the Dash endpoints anyone who can reach the server can call.

Dash answers a malformed ``/_dash-update-component`` request (no ``output``, a list, inputs
that are not the callback's) and an unknown ``/_dash-component-suites/…`` path with a 500 and a
full traceback in the log: anyone could flood the log. :func:`install_guards` checks each
callback request against the app's own callback map before Dash sees it — a JSON object naming
a registered output, with exactly that callback's inputs and states, each value of the type the
component sends — and answers 400 with a one-line reason (logged at INFO, without traceback);
unknown component-suite paths answer 404. Request bodies are capped separately (Flask's
``MAX_CONTENT_LENGTH``, ``server.max_request_bytes``): 413.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import Response, request

from . import ids
from .ids import prop
from .panels import PANELS

log = logging.getLogger("streamdash.dashboard")

_NUMBER = (int, float)
#: Types a browser sends for each input/state of the dashboard's callbacks (``None`` always
#: allowed): the page's own, then each panel's (its ``value_types``); a property missing here
#: takes any JSON value.
VALUE_TYPES: Mapping[str, tuple[type, ...]] = MappingProxyType({
    prop(ids.TICK, "n_intervals"): (int,), prop(ids.REFRESH_PICKER, "value"): _NUMBER,
    prop(ids.VALUE_FIELD, "value"): (str,), prop(ids.KEY_FIELD, "value"): (str,),
    prop(ids.CLIENT_STATE, "data"): (dict,),
    **{name: types for panel in PANELS for name, types in panel.value_types.items()},
})


def callback_problem(body: Any, callback_map: dict[str, Any]) -> str | None:
    """Why ``body`` is not a well-formed request for one of ``callback_map``'s callbacks, or
    ``None`` when it is."""
    if not isinstance(body, dict):
        return "expected a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "unknown callback output"
    spec = callback_map[output]
    for part in ("inputs", "state"):
        got, want = body.get(part, []), spec.get(part, [])
        if not isinstance(got, list) or len(got) != len(want):
            return f"'{part}' does not match the callback"
        for item, expected in zip(got, want, strict=True):
            if not isinstance(item, dict) or item.get("id") != expected.get("id") \
                    or item.get("property") != expected.get("property"):
                return f"'{part}' does not match the callback"
            value = item.get("value")
            types = VALUE_TYPES.get(f"{expected['id']}.{expected['property']}")
            if value is not None and types is not None and \
                    (not isinstance(value, types) or isinstance(value, bool)):
                return f"bad value for {expected['id']}.{expected['property']}"
    outputs = body.get("outputs")
    items = outputs if isinstance(outputs, list) else [outputs]
    if not all(isinstance(o, dict) and isinstance(o.get("id"), str) for o in items):
        return "'outputs' must name components"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of names"
    return None


def install_guards(app: Dash) -> None:
    """Answer malformed callback requests with 400 and unknown component-suite paths with 404,
    without a traceback in the log (see the module docstring)."""
    server = app.server
    update_path = f"{app.config.routes_pathname_prefix}_dash-update-component"

    @server.before_request
    def check_callback_request() -> Response | None:
        if request.method != "POST" or request.path != update_path:
            return None
        # Parsed once here (Flask caches it for Dash); the size is capped by MAX_CONTENT_LENGTH.
        problem = callback_problem(request.get_json(silent=True), app.callback_map)
        if problem is None:
            return None
        log.info("callback request refused: %s", problem)
        return Response(json.dumps({"error": f"malformed callback request: {problem}"}),
                        status=400, mimetype="application/json")

    @server.errorhandler(DependencyException)
    def unknown_dependency(_exc: DependencyException) -> Response:
        return Response("not found", status=404, mimetype="text/plain")
