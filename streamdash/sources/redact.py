"""Keep secrets (API keys in headers or query parameters, URL passwords) out of every output.

A :class:`Redactor` knows the secret values of one source and masks them wherever they could
leak: URLs shown in ``/health`` and the error log, exception messages (which often embed the
request URL) and response-body excerpts (some servers echo the key back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import requests

MASK = "***"

#: Query-parameter names treated as secrets even when not listed in ``secret_params``.
SECRET_NAME = re.compile(r"^(.*[_-])?(api_?key|key|token|secret|password|passwd|pwd|sig|signature|"
                         r"appid|auth|authorization|credentials?|access_?token)$", re.IGNORECASE)


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True when a query parameter called ``name`` carries a secret."""
    return bool(SECRET_NAME.match(name)) or name.lower() in {e.lower() for e in extra}


class Redactor:
    """Masks known secret values (and secret-looking query parameters) in text and URLs."""

    def __init__(self, secrets: Iterable[str] = (), secret_params: Iterable[str] = ()):
        self.secret_params = tuple(secret_params)
        forms: set[str] = set()
        for secret in secrets:
            # Very short values would mask innocent text; API keys are never that short.
            # "Bearer <token>": the token alone may be echoed back, so mask it alone too.
            parts = [secret] + [p for p in secret.split() if len(p) >= 8]
            for part in parts:
                if len(part) >= 4:
                    forms.update({part, quote(part, safe=""), quote_plus(part)})
        self._secrets = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def url(self, url: str) -> str:
        """``url`` without its password and with secret query values masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if is_secret_name(k, self.secret_params) else v)
                               for k, v in pairs], safe="*")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


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
