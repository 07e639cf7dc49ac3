"""Keep a source's secrets where they belong: redirects to another host lose them.

What is a secret and how it is masked is :mod:`streamdash.redact` (one module for every
output); :class:`~streamdash.redact.Redactor` and :func:`~streamdash.redact.is_secret_name`
are re-exported here for the sources.
"""

from __future__ import annotations

from collections.abc import Iterable

import requests

from ..redact import MASK, Redactor, is_secret_name

__all__ = ["MASK", "GuardedSession", "Redactor", "is_secret_name"]


class GuardedSession(requests.Session):
    """A session that drops the source's secret headers when a redirect leaves the host.

    requests itself only strips ``Authorization`` on such redirects; API keys often travel in
    custom headers (``X-Api-Key``), which must not be handed to whatever host a redirect names.
    """

    def __init__(self, secret_headers: Iterable[str] = ()):
        super().__init__()
        self.secret_headers = tuple(secret_headers)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest,
                     response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in self.secret_headers:
                prepared_request.headers.pop(name, None)
