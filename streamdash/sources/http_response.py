"""Reading one HTTP response of the ``http`` source: its body within ``max_bytes`` and the
total deadline, a failed status with the server's wait hint, and the JSON inside.

Every failure is an :class:`~streamdash.errors.AttemptError` whose text has secrets redacted;
``retryable`` says whether another attempt may help (the retry helper decides when).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import requests

from ..errors import AttemptError
from .deadline import Watchdog
from .fields import ShapeError, extract_records
from .neterrors import short_reason
from .retry import retry_after, retryable_status
from .session import RequestsSource, body_excerpt

_ERROR_BODY_BYTES = 2048


class JsonResponses(RequestsSource):
    """The response half of :class:`~.http.HttpSource` (it sets the attributes below)."""

    url: str
    records_path: str
    max_bytes: int
    max_retry_after: float
    total_timeout: float
    clock: Callable[[], float]
    _watchdog: Watchdog

    def _read_body(self, resp: requests.Response) -> bytes:
        """The body, read in chunks and abandoned as soon as it exceeds ``max_bytes``."""
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise self._error("too_large", f"response too large: Content-Length {length} bytes "
                                           f"exceeds max_bytes {self.max_bytes}",
                              status=resp.status_code)
        chunks, total = [], 0
        try:
            for chunk in resp.iter_content(64 * 1024):
                self._check_watchdog(total, resp.status_code)
                total += len(chunk)
                if total > self.max_bytes:
                    raise self._error("too_large", f"response too large: more than "
                                                   f"{self.max_bytes} bytes (max_bytes)",
                                      status=resp.status_code)
                chunks.append(chunk)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            self._check_watchdog(total, resp.status_code)
            kind = "timeout" if "timed out" in str(exc).lower() else "connection"
            raise self._error(kind, f"body read failed after {total} bytes: {short_reason(exc)}",
                              status=resp.status_code, retryable=True) from None
        # urllib3 1.x does not enforce Content-Length: a connection cut mid-body just ends the
        # stream. Compare the raw (still encoded) bytes received with what was announced.
        received = getattr(resp.raw, "tell", lambda: total)()
        if not length.isdigit() or received < int(length):  # the watchdog may have cut it
            self._check_watchdog(total, resp.status_code)
        if length.isdigit() and received < int(length):
            raise self._error("connection", f"body read failed: connection closed after "
                                            f"{received} of {length} bytes",
                              status=resp.status_code, retryable=True)
        return b"".join(chunks)

    def _check_watchdog(self, received: int, status: int) -> None:
        """Raise when the watchdog cut the response (its total deadline passed, or a stop)."""
        fired = self._watchdog.fired
        if fired == "deadline":
            raise self._error("timeout", f"no complete response within total_timeout "
                                         f"{self.total_timeout:g} s ({received} bytes received)",
                              status=status, retryable=True)
        if fired:
            raise self._error("closed", "source closed during the request", status=status)

    def _status_error(self, resp: requests.Response) -> AttemptError:
        status = resp.status_code
        excerpt = ""
        try:
            raw = b""
            for chunk in resp.iter_content(1024):
                raw += chunk
                if len(raw) >= _ERROR_BODY_BYTES:
                    break
            excerpt = body_excerpt(raw)
        except requests.RequestException:
            pass  # the status says enough
        wait = retry_after(resp.headers, self.clock())
        if wait is not None and not wait <= self.max_retry_after:  # inf, a year, NaN
            wait = self.max_retry_after
        kind = "rate_limited" if status == 429 else "server_error" if status >= 500 \
            else "client_error"
        reason = f"HTTP {status} {resp.reason or ''}".rstrip()
        if wait is not None:
            reason += f"; server asks to wait {wait:g} s"
        if excerpt:
            reason += f"; body: {excerpt!r}"
        return self._error(kind, reason, status=status, retryable=retryable_status(status),
                           excerpt=excerpt, retry_after=wait)

    def _parse(self, body: bytes, status: int, fetched_at: float) -> list[dict[str, Any]]:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            msg = str(exc)
            if not body.strip():
                kind, what = "not_json", "empty body"
            elif "end of data" in msg:
                kind, what = "truncated_json", f"truncated JSON ({msg})"
            else:
                kind, what = "not_json", f"body is not JSON ({msg})"
            raise self._error(kind, f"{what}; body: {body_excerpt(body)!r}", status=status,
                              excerpt=body_excerpt(body)) from None
        try:
            records = extract_records(doc, self.records_path)
        except ShapeError as exc:
            raise self._error(exc.kind, f"{exc}; body: {body_excerpt(body)!r}", status=status,
                              excerpt=body_excerpt(body)) from None
        return self.mapper.map(records, doc, fetched_at)

    def _error(self, kind: str, reason: str, *, status: int | None = None,
               retryable: bool = False, excerpt: str = "",
               retry_after: float | None = None) -> AttemptError:
        reason = self.redactor.text(reason)
        return AttemptError(f"{self.name}: {kind} at {self.display_url}: {reason}",
                            reason=reason, source=self.name, kind=kind, url=self.display_url,
                            status=status,
                            excerpt=self.redactor.text(excerpt), retryable=retryable,
                            retry_after=retry_after)
