"""The ``http`` source: poll a JSON API, with retries, size limits and conditional requests.

Each poll is one GET through the source's own ``requests.Session`` (connections are reused).
Retries live in one place, :func:`~.retry.call_with_retries`: connection errors, timeouts, 5xx
and 429 are retried with exponential full-jitter waits (at least the server's ``Retry-After``)
up to ``max_tries`` / ``max_time``; other 4xx and malformed bodies are not (reading the
response: :mod:`.http_response`). Every failed attempt goes to the source's
:class:`~.ingest_log.IngestLog`; after giving up, ``fetch()`` raises
:class:`~streamdash.errors.SourceError` and the producer keeps its schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import requests
from pydantic import Field

from ..errors import ConfigError, IngestError, SourceError
from ..params import Duration, Int
from ..redact import MASK
from .base import SECTION, FieldHints, parse_source
from .cadence import cache_max_age
from .deadline import Watchdog
from .fields import FieldSpec
from .http_response import JsonResponses
from .neterrors import short_reason
from .options import EnvHeaders, EnvParams, FieldMap, HttpUrl, NameList, Text
from .retry import RetryParams, RetryPolicy, call_with_retries
from .session import body_excerpt, hints_for

log = logging.getLogger("streamdash.sources.http")

__all__ = ["HttpParams", "HttpSource", "body_excerpt", "hints_for"]


class HttpParams(RetryParams):
    """Settings of ``source.type: http`` (and of every preset, which fills some in)."""

    url: HttpUrl | None = None
    records_path: Text = ""
    fields: FieldMap = ()
    params: EnvParams = Field(default_factory=dict)
    headers: EnvHeaders = Field(default_factory=dict)
    secret_params: NameList = ()
    connect_timeout: Annotated[Duration, Field(ge=0.001, le=300)] = 3.0
    read_timeout: Annotated[Duration, Field(ge=0.001, le=3600)] = 10.0
    total_timeout: Annotated[Duration, Field(ge=0.001, le=3600)] = 30.0
    max_bytes: Annotated[Int, Field(ge=1)] = 10 * 1024 * 1024
    conditional: bool = True
    min_interval: Annotated[Duration, Field(ge=0.0, le=86400)] = 0.0
    max_cache_age: Annotated[Duration, Field(ge=0.0, le=3600)] = 300.0
    max_retry_after: Annotated[Duration, Field(ge=0.0, le=86400)] = 600.0

    def kwargs(self) -> dict[str, Any]:
        """:class:`HttpSource` keyword arguments (``url`` is required here)."""
        if self.url is None:
            raise ConfigError(f"{SECTION}.url", "required for an http source "
                                                "(e.g. --url https://host/path)")
        out = {k: v for k, v in dict(self).items() if k not in RetryParams.model_fields}
        return {**out, "retry": self.policy()}


class HttpSource(JsonResponses):
    """Polls ``url`` for JSON and turns it into records (see :mod:`.fields`).

    ``headers`` values are secrets: they are sent, never shown. ``on_error`` (or
    :meth:`bind_events`) receives every ingestion error event. ``min_interval`` is the shortest
    poll interval the API's rate limits allow (the runtime never polls faster);
    :meth:`interval_hint` is what the server asks for (``Cache-Control: max-age``, at most
    ``max_cache_age`` seconds, or a ``Retry-After`` pause).
    """

    kind = "http"
    Params = HttpParams

    def __init__(self, name: str = "", *, url: str, records_path: str = "",
                 fields: tuple[FieldSpec, ...] = (), params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, connect_timeout: float = 3.0,
                 read_timeout: float = 10.0, max_bytes: int = 10 * 1024 * 1024,
                 retry: RetryPolicy | None = None, conditional: bool = True,
                 secret_params: tuple[str, ...] = (), min_interval: float = 0.0,
                 max_cache_age: float = 300.0,
                 hints: FieldHints | None = None, schema: dict[str, Any] | None = None,
                 preset: str = "", on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None, max_retry_after: float = 600.0,
                 total_timeout: float = 30.0):
        super().__init__(name or preset or "http")
        self.url = url
        self.records_path = records_path
        self.fields = tuple(fields)
        self.params = dict(params or {})
        self.headers = dict(headers or {})
        self.timeout = (connect_timeout, read_timeout)
        #: Deadline of one whole request, body included (the socket timeouts bound each read).
        self.total_timeout = total_timeout
        self._watchdog = Watchdog()
        self.max_bytes = max_bytes
        #: Longest server-requested wait (Retry-After) honoured; a longer one is cut to this.
        self.max_retry_after = max_retry_after
        self.retry = retry or RetryPolicy()
        self.conditional = conditional
        self.min_interval = min_interval
        self.max_cache_age = max_cache_age
        self.hints = hints or hints_for(self.fields)
        self.schema = schema
        self.preset = preset
        self.clock = clock
        self.monotonic = monotonic
        self._connect(url, secret_params, on_error, session, clock,
                      {"Accept": "application/json"})
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._not_before = 0.0          # monotonic time before which the server asked us to wait
        self._max_age = 0.0             # the last good response's Cache-Control max-age (capped)
        self._attempt = 0
        self._stopping = threading.Event()
        self.stats = {"polls": 0, "records": 0, "not_modified": 0, "failed_polls": 0,
                      "retries": 0, "skipped_rate_limited": 0}

    @classmethod
    def from_params(cls, name: str, params: HttpParams, settings: Any) -> HttpSource:
        """The generic JSON-over-HTTP source (``source.type: http``)."""
        return cls(name, **params.kwargs())

    # -- Source protocol ---------------------------------------------------------------------
    def fetch(self) -> list[dict[str, Any]]:
        """One poll (with its retries): the records, ``[]`` for nothing new, or SourceError."""
        if self._stopping.is_set():
            return []
        left = self._not_before - self.monotonic()
        if left > 0:
            # The server asked for a pause longer than our retry budget: honour it, but as a
            # failed poll (no new data), so freshness, source_down and /health see the outage.
            self.stats["skipped_rate_limited"] += 1
            raise SourceError(f"{self.name}: rate limited at {self.display_url}: poll skipped, "
                              f"the server asked to wait {left:.0f} s more", source=self.name,
                              kind="rate_limited")
        self._attempt = 0
        self.stats["polls"] += 1
        try:
            records = call_with_retries(
                self._attempt_once, self.retry, self._stopping, exceptions=IngestError,
                retryable=self._retryable, server_wait=lambda e: getattr(e, "retry_after", None),
                on_retry=self._on_retry, on_giveup=self._on_giveup, monotonic=self.monotonic)
        except IngestError as exc:
            if self._stopping.is_set():
                return []
            self.stats["failed_polls"] += 1
            raise SourceError(f"{exc} (gave up after {self._attempt} attempt"
                              f"{'s' if self._attempt != 1 else ''})",
                              source=self.name, kind=exc.kind) from None
        self.stats["records"] += len(records)
        return records

    def interval_hint(self) -> float:
        """Seconds the server asks between polls: its ``Cache-Control: max-age`` (capped by
        ``max_cache_age``); 0 for no request.

        A ``Retry-After`` pause is not a hint: max-age says the data stays fresh that long,
        while a 429/503 says the server cannot serve now. The pause is honoured by skipping
        polls (``fetch``), each one a failed poll, so the data ages, ``source_down`` and
        ``/health`` see the outage, and polling resumes at the usual interval afterwards.
        """
        return self._max_age

    def interrupt(self) -> None:
        """Abort retry waits and a request in flight now (the runtime is stopping); later
        fetches return nothing."""
        self._stopping.set()
        self._watchdog.cut("stopped")

    def close(self) -> None:
        """Stop retrying and release pooled connections."""
        self._stopping.set()
        self._watchdog.cut("stopped")
        self.session.close()

    def describe(self) -> dict[str, Any]:
        """URL (secrets stripped), settings and counters; header values never appear."""
        out = {**super().describe(), "url": self.display_url, "records_path": self.records_path,
               "fields": {f.name: f.text() for f in self.fields},
               "headers": dict.fromkeys(self.headers, MASK),
               "timeouts": {"connect": self.timeout[0], "read": self.timeout[1],
                            "total": self.total_timeout},
               "max_bytes": self.max_bytes, "retry": self.retry.describe(),
               "min_interval": self.min_interval, "max_cache_age": self.max_cache_age,
               "max_retry_after": self.max_retry_after,
               "interval_hint": self.interval_hint(), "stats": dict(self.stats),
               "ingest_errors": self.errors.snapshot()}
        if self.preset:
            out["preset"] = self.preset
        return out

    # -- one attempt ---------------------------------------------------------------------------
    def _attempt_once(self) -> list[dict[str, Any]]:
        self._attempt += 1
        if self._stopping.is_set():
            raise self._error("closed", "source closed")
        headers = {**self.headers}
        if self.conditional and self._etag:
            headers["If-None-Match"] = self._etag
        if self.conditional and self._last_modified:
            headers["If-Modified-Since"] = self._last_modified
        fetched_at = self.clock()
        self._watchdog.arm(self.total_timeout)
        try:
            if self._stopping.is_set():  # interrupt() came between the check above and arm()
                raise self._error("closed", "source closed")
            return self._exchange(headers, fetched_at)
        finally:
            self._watchdog.disarm()

    def _exchange(self, headers: dict[str, str], fetched_at: float) -> list[dict[str, Any]]:
        """The request and its response, under the watchdog armed by :meth:`_attempt_once`."""
        try:
            resp = self.session.get(self.url, params=self.params, headers=headers,
                                    timeout=self.timeout, stream=True, allow_redirects=True)
        except requests.Timeout as exc:
            raise self._error("timeout", f"timed out: {short_reason(exc)}",
                              retryable=True) from None
        except requests.ConnectionError as exc:
            raise self._error("connection", f"connection failed: {short_reason(exc)}",
                              retryable=True) from None
        except requests.RequestException as exc:
            raise self._error("request", f"request failed: {short_reason(exc)}") from None
        self._watchdog.attach(resp)  # from now on the deadline or a stop cuts the socket
        with resp:
            status = resp.status_code
            if status == 304:
                self.stats["not_modified"] += 1
                self._max_age = cache_max_age(resp.headers, self.max_cache_age)
                return []
            if status >= 400:
                raise self._status_error(resp)
            body = self._read_body(resp)
            etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
            max_age = cache_max_age(resp.headers, self.max_cache_age)
        records = self._parse(body, status, fetched_at)
        # Remember validators only once the body was good, so a bad body is fetched again.
        self._etag, self._last_modified = etag, modified
        self._max_age = max_age
        return records

    # -- retries (the shared helper decides; these say what to log and remember) -----------
    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        return bool(getattr(exc, "retryable", False))

    def _on_retry(self, exc: BaseException, tries: int, delay: float) -> None:
        self.stats["retries"] += 1
        self._report(exc, next_delay=delay)

    def _on_giveup(self, exc: BaseException, tries: int, why: str) -> None:
        if why == "server_wait":
            # Retrying sooner than asked is rude and pointless: give up this poll and skip
            # polls until the server's time has come.
            self._not_before = self.monotonic() + (getattr(exc, "retry_after", 0.0) or 0.0)
        if why != "stopped":
            self._report(exc, next_delay=None)

    def _report(self, exc: BaseException, next_delay: float | None) -> None:
        # Every attempt goes to the ingestion error log (dashboard, /api/errors) but only to
        # DEBUG output: the producer logs the one WARNING line per failed poll ("fetch failed").
        assert isinstance(exc, IngestError)
        self.errors.report(exc.kind, getattr(exc, "reason", str(exc)), url=self.full_url,
                           status=exc.status,
                           attempt=self._attempt, next_delay=next_delay, level=logging.DEBUG)


def http_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``source`` settings of an http source into :class:`HttpSource` arguments."""
    return parse_source(HttpParams, params).kwargs()


def build_http(name: str, params: dict[str, Any], settings: Any) -> HttpSource:
    """The generic JSON-over-HTTP source (``source.type: http``)."""
    return HttpSource.from_params(name, parse_source(HttpParams, params), settings)
