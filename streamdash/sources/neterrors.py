"""A network error in a few words: the root cause, not requests' and urllib3's wrapper chain.

``requests`` reports a refused connection as ``HTTPConnectionPool(host='h', port=9): Max retries
exceeded with url: /x (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object
at 0x7f…>: Failed to establish a new connection: [Errno 111] Connection refused'))``. The URL is
already in every line streamdash logs, so :func:`short_reason` keeps what went wrong:
``Connection refused``.
"""

from __future__ import annotations

import re

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_OBJECT = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>[:,]?\s*")
_POOL = re.compile(r"^\w*ConnectionPool\([^)]*\):\s*")
_CAUSED = re.compile(r"Max retries exceeded with url: \S+ \(Caused by \w+\((.*)\)\)$", re.S)


def short_reason(exc: BaseException) -> str:
    """The cause of a ``requests``/``urllib3`` exception in a few words (``Connection refused``,
    ``Name or service not known``, ``Read timed out. (read timeout=1)``)."""
    text = str(exc)
    errno = _ERRNO.search(text)
    if errno:
        return errno.group(1).strip()
    text = _POOL.sub("", _OBJECT.sub("", text))
    caused = _CAUSED.search(text)
    if caused:
        text = caused.group(1)
    return text.strip().strip("'\"").strip() or type(exc).__name__
