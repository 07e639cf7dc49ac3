"""Replay dashboard callbacks as the browser sends them (for tests and the benchmark).

A :class:`CallbackClient` builds the exact JSON body Dash's renderer POSTs to
``/_dash-update-component`` for one callback, from the app's own callback map, and decodes the
answer. It works with Flask's test client or with real HTTP (anything with a ``post``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dash import Dash

UPDATE_URL = "/_dash-update-component"


def find_callback(app: Dash, output: str) -> str:
    """The callback-map key of the callback writing ``output`` (``"component.prop"``)."""
    for key in app.callback_map:
        if f"..{output}.." in f"..{key.strip('.')}..":
            return key
    raise KeyError(f"no callback outputs {output!r}")


def callback_body(app: Dash, output: str, values: dict[str, Any],
                  changed: list[str] | None = None) -> dict[str, Any]:
    """The request body for the callback writing ``output``; ``values`` maps ``id.prop``."""
    key = find_callback(app, output)
    spec = app.callback_map[key]
    outs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
            for o in key.strip(".").split("...")]

    def dep(d: dict[str, Any]) -> dict[str, Any]:
        return {"id": d["id"], "property": d["property"],
                "value": values.get(f"{d['id']}.{d['property']}")}
    inputs = [dep(d) for d in spec["inputs"]]
    return {"output": key, "outputs": outs if len(outs) > 1 else outs[0], "inputs": inputs,
            "state": [dep(d) for d in spec["state"]],
            "changedPropIds": changed if changed is not None else
            [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


class CallbackClient:
    """Calls one callback of ``app`` through ``post`` (Flask test client or requests session).

    ``call(values)`` returns ``(status, body bytes, {"id.prop": value})``; 204 means
    ``PreventUpdate`` (nothing to send).
    """

    def __init__(self, app: Dash, output: str, post: Callable[..., Any], base_url: str = ""):
        self.app = app
        self.output = output
        self.post = post
        self.url = base_url + UPDATE_URL

    def call(self, values: dict[str, Any],
             changed: list[str] | None = None) -> tuple[int, bytes, dict[str, Any]]:
        body = callback_body(self.app, self.output, values, changed)
        resp = self.post(self.url, data=json.dumps(body),
                         headers={"Content-Type": "application/json"})
        status = getattr(resp, "status_code", None)
        data = resp.data if hasattr(resp, "data") else resp.content
        return status, data, decode(data) if status == 200 else {}


def decode(data: bytes) -> dict[str, Any]:
    """``{"id.prop": value}`` from a callback response body."""
    out = {}
    for cid, props in json.loads(data)["response"].items():
        for prop, value in props.items():
            out[f"{cid}.{prop}"] = value
    return out
