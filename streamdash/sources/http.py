"""The ``http`` source: poll a JSON API, with retries, size limits and conditional requests.

Each poll is one GET through the source's own ``requests.Session`` (connections are reused).
Retries live in one place, the ``backoff`` decorator built in :class:`HttpSource`: connection
errors, timeouts, 5xx and 429 are retried with exponential full-jitter waits (or the server's
``Retry-After``) up to ``max_tries`` / ``max_time``; other 4xx and malformed bodies are not.
Every failed attempt goes to the source's :class:`~.ingest_log.IngestLog`; after giving up,
``fetch()`` raises :class:`~streamdash.errors.SourceError` and the producer keeps its schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import backoff
import orjson
import requests

from ..config import Settings
from ..errors import AttemptError, ConfigError, IngestError, SourceError
from .base import FieldHints, Source, positive_int, take_params
from .cadence import cache_max_age
from .deadline import Watchdog
from .fields import (
    NUMERIC,
    TIMESTAMPS,
    FieldSpec,
    RecordMapper,
    ShapeError,
    extract_records,
    parse_fields,
)
from .ingest_log import IngestLog
from .neterrors import short_reason
from .options import boolean, expand_env, http_url, name_list, number, text, text_map
from .redact import GuardedSession, Redactor, is_secret_name
from .retry import RETRY_SPEC, RetryPolicy, policy_from, retry_after, retryable_status

log = logging.getLogger("streamdash.sources.http")

USER_AGENT = "streamdash (+https://github.com/streamdash)"
EXCERPT_CHARS = 200
_ERROR_BODY_BYTES = 2048


def body_excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of a body as one short printable line."""
    text_ = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def hints_for(fields: tuple[FieldSpec, ...]) -> FieldHints:
    """Dashboard/schema defaults from a field map: first time field, first numeric field."""
    time_field = next((f.name for f in fields if f.type in TIMESTAMPS), "")
    value_field = next((f.name for f in fields if f.type in NUMERIC), "value")
    numeric = tuple(f.name for f in fields if f.type in NUMERIC)
    return FieldHints(value_field=value_field, time_field=time_field, numeric_fields=numeric)


class RequestsSource(Source):
    """What the HTTP-based sources share: secrets redaction, the ingestion error log, the field
    mapper and one ``requests`` session; subclasses set ``headers``, ``params`` and ``fields``
    first, then call :meth:`_connect`."""

    headers: dict[str, str]
    params: dict[str, str]
    fields: tuple[FieldSpec, ...]

    def _connect(self, url: str, secret_params: tuple[str, ...],
                 on_error: Callable[[dict[str, Any]], None] | None,
                 session: requests.Session | None, clock: Callable[[], float],
                 accept: dict[str, str]) -> None:
        secrets = list(self.headers.values())
        secrets += [v for k, v in self.params.items() if is_secret_name(k, secret_params)]
        self.redactor = Redactor(secrets, secret_params)
        self.errors = IngestLog(self.name, redactor=self.redactor, clock=clock)
        if on_error is not None:
            self.errors.add_listener(on_error)
        self.mapper = RecordMapper(self.fields)
        self.session = session or GuardedSession(self.headers)
        self.session.headers.update({"User-Agent": USER_AGENT, **accept})
        self.full_url = requests.Request("GET", url, params=self.params).prepare().url or url
        self.display_url = self.redactor.url(self.full_url)

    def bind_events(self, bus: Any) -> None:
        """Publish every ingestion error on ``bus``'s ``ingest_error`` topic (runtime wiring)."""
        self.errors.bind(bus)


class HttpSource(RequestsSource):
    """Polls ``url`` for JSON and turns it into records (see :mod:`.fields`).

    ``headers`` values are secrets: they are sent, never shown. ``on_error`` (or
    :meth:`bind_events`) receives every ingestion error event. ``min_interval`` is the shortest
    poll interval the API's rate limits allow (the runtime never polls faster);
    :meth:`interval_hint` is what the server asks for (``Cache-Control: max-age``, at most
    ``max_cache_age`` seconds, or a ``Retry-After`` pause).
    """

    kind = "http"

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
        # The one retry decorator: backoff drives attempts, give-up rules and max_tries/max_time;
        # the wait generator below chooses each wait (server hint or full jitter).
        self._fetch_with_retries = backoff.on_exception(
            self._waits, IngestError, max_tries=self.retry.max_tries,
            max_time=self.retry.max_time or None, jitter=None, giveup=self._permanent,
            on_giveup=self._gave_up, raise_on_giveup=True, logger=None)(self._attempt_once)

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
            records = self._fetch_with_retries()
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
               "headers": {k: "***" for k in self.headers},
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

    # -- the retry plumbing (used by the backoff decorator) -----------------------------------
    @staticmethod
    def _permanent(exc: Exception) -> bool:
        return not getattr(exc, "retryable", False)

    def _waits(self) -> Iterator[float]:
        """backoff wait generator: logs each retried failure, then waits (interruptibly).

        backoff sends the exception of the failed attempt into the generator; the generator
        waits on an Event itself (so ``interrupt()`` ends the wait) and yields 0 to backoff.
        Ending the generator makes backoff give up with that exception.
        """
        started = self.monotonic()
        exc: Any = yield 0.0
        while True:
            remaining = self.retry.max_time - (self.monotonic() - started) \
                if self.retry.max_time else float("inf")
            wait = getattr(exc, "retry_after", None)
            if wait is not None and wait > remaining:
                # Retrying sooner than asked is rude and pointless: give up this poll and skip
                # polls until the server's time has come.
                self._not_before = self.monotonic() + wait
                return
            delay = max(0.0, min(self.retry.delay(self._attempt) if wait is None else wait,
                                 remaining))
            self.stats["retries"] += 1
            self._report(exc, next_delay=delay)
            if self._stopping.wait(delay):
                return
            exc = yield 0.0

    def _gave_up(self, details: dict[str, Any]) -> None:
        exc = details["exception"]
        if not self._stopping.is_set():
            self._report(exc, next_delay=None)

    def _report(self, exc: IngestError, next_delay: float | None) -> None:
        # Every attempt goes to the ingestion error log (dashboard, /api/errors) but only to
        # DEBUG output: the producer logs the one WARNING line per failed poll ("fetch failed").
        self.errors.report(exc.kind, getattr(exc, "reason", str(exc)), url=self.full_url,
                           status=exc.status,
                           attempt=self._attempt, next_delay=next_delay, level=logging.DEBUG)


#: Settings of the ``http`` source: key → (default, cast).
HTTP_SPEC: dict[str, tuple[Any, Callable[[str, Any], Any]]] = {
    "url": (None, http_url),
    "records_path": ("", text),
    "fields": (None, parse_fields),
    "params": ({}, text_map),
    "headers": ({}, text_map),
    "secret_params": ([], name_list),
    "connect_timeout": (3.0, number(0.001, 300)),
    "read_timeout": (10.0, number(0.001, 3600)),
    "total_timeout": (30.0, number(0.001, 3600)),
    "max_bytes": (10 * 1024 * 1024, positive_int),
    "conditional": (True, boolean),
    "min_interval": (0.0, number(0.0, 86400)),
    "max_cache_age": (300.0, number(0.0, 3600)),
    "max_retry_after": (600.0, number(0.0, 86400)),
    **RETRY_SPEC,
}


def http_kwargs(params: dict[str, Any], section: str = "source") -> dict[str, Any]:
    """Validate ``http`` settings into :class:`HttpSource` keyword arguments."""
    p = take_params(section, params, HTTP_SPEC)
    if p["url"] is None:
        raise ConfigError(f"{section}.url", "required for an http source "
                                            "(e.g. --url https://host/path)")
    headers = {k: expand_env(f"{section}.headers.{k}", v) for k, v in p["headers"].items()}
    query = {k: expand_env(f"{section}.params.{k}", v) for k, v in p["params"].items()}
    return {"url": p["url"], "records_path": p["records_path"], "fields": p["fields"] or (),
            "params": query, "headers": headers, "secret_params": tuple(p["secret_params"]),
            "connect_timeout": p["connect_timeout"], "read_timeout": p["read_timeout"],
            "total_timeout": p["total_timeout"],
            "max_bytes": p["max_bytes"], "conditional": p["conditional"],
            "min_interval": p["min_interval"], "max_cache_age": p["max_cache_age"],
            "retry": policy_from(p), "max_retry_after": p["max_retry_after"]}


def build_http(name: str, params: dict[str, Any], settings: Settings) -> Source:
    """The generic JSON-over-HTTP source (``source.type: http``)."""
    return HttpSource(name, **http_kwargs(params))
