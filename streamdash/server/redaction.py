"""Blank configured secrets in every HTTP answer of the app: page, callbacks, API, probes.

The JSON routes redact their own bodies; this filter covers what Dash serves (the layout with
the source label, callback answers such as the error log and DLQ tables, the index page), so a
key a source echoes back in a record or an error never reaches a browser.
"""

from __future__ import annotations

from flask import Flask, Response

from ..redact import Redactor

#: Bodies rewritten: text the app generates (assets and downloads pass through untouched).
TEXT_TYPES = ("application/json", "text/html", "text/plain")


def install_redaction(server: Flask, redactor: Redactor) -> None:
    """Rewrite every generated text answer of ``server`` through ``redactor``."""
    if not redactor:
        return

    @server.after_request
    def _redact(response: Response) -> Response:
        if response.direct_passthrough or response.is_streamed \
                or response.mimetype not in TEXT_TYPES:
            return response
        text = response.get_data(as_text=True)
        clean = redactor.text(text)
        if clean != text:
            response.set_data(clean)
        return response
