"""The ``sse`` source: a Server-Sent Events stream (e.g. Wikimedia EventStreams) read continuously.

The producer polls on a schedule and sources must not block, so the stream is read by the
source's own reader thread (started by the first ``fetch()`` or :meth:`SseSource.start`,
ended by ``interrupt()``, ended and joined by ``stop()`` and ``close()``) into a bounded
buffer that ``fetch()`` drains: each poll returns at most ``batch_size`` records, so batches
are bounded by size and by the poll interval in time. When the buffer is full the oldest
events are dropped, and every dropped event is counted and reported. The reader reconnects
after the stream ends or fails, waiting the server's ``retry:`` time (after failures, the
retry helper's full-jitter backoff, at least that time; a stop ends the wait at once) and
sending ``Last-Event-ID`` so the server can resume where it stopped.
"""

from __future__ import annotations

import codecs
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import orjson
import requests
from pydantic import Field

from ..errors import ConfigError, SourceError
from ..logs import log_event
from ..params import Duration, Float, Int, Params
from ..redact import MASK
from .base import SECTION, FieldHints
from .fields import FieldSpec, ShapeError, extract_records
from .neterrors import short_reason
from .options import EnvHeaders, EnvParams, FieldMap, HttpUrl, NameList, Text
from .retry import RetryPolicy, call_with_retries
from .session import RequestsSource, body_excerpt, hints_for
from .sse_parser import SseEvent, SseParser

__all__ = ["SseEvent", "SseParams", "SseParser", "SseSource"]

log = logging.getLogger("streamdash.sources.sse")


Positive = Annotated[Int, Field(ge=1)]


class SseParams(Params):
    """Settings of ``source.type: sse``."""

    url: HttpUrl | None = None
    params: EnvParams = Field(default_factory=dict)
    headers: EnvHeaders = Field(default_factory=dict)
    secret_params: NameList = ()
    records_path: Text = ""
    fields: FieldMap = ()
    event_types: NameList = ()
    batch_size: Positive = 1000
    buffer_size: Positive = 10_000
    max_event_bytes: Positive = 1024 * 1024
    connect_timeout: Annotated[Duration, Field(ge=0.001, le=300)] = 3.0
    read_timeout: Annotated[Duration, Field(ge=0.001, le=3600)] = 60.0
    backoff_base: Annotated[Float, Field(ge=0.0, le=600)] = 1.0
    backoff_max: Annotated[Float, Field(ge=0.0, le=3600)] = 30.0


class SseSource(RequestsSource):
    """Records from a Server-Sent Events stream, read by a background thread (see module doc)."""

    kind = "sse"
    Params = SseParams

    def __init__(self, name: str = "", *, url: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, records_path: str = "",
                 fields: tuple[FieldSpec, ...] = (), event_types: tuple[str, ...] = (),
                 batch_size: int = 1000, buffer_size: int = 10_000,
                 max_event_bytes: int = 1024 * 1024, connect_timeout: float = 3.0,
                 read_timeout: float = 60.0, retry: RetryPolicy | None = None,
                 secret_params: tuple[str, ...] = (), hints: FieldHints | None = None,
                 on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None):
        super().__init__(name or "sse")
        self.url = url
        self.params = dict(params or {})
        self.headers = dict(headers or {})
        self.records_path = records_path
        self.fields = tuple(fields)
        self.event_types = tuple(event_types)
        self.batch_size = batch_size
        self.buffer_size = buffer_size
        self.max_event_bytes = max_event_bytes
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy(max_tries=0, max_time=0, base=1.0, cap=30.0)
        self.hints = hints or hints_for(self.fields)
        self.clock = clock
        self._connect(url, secret_params, on_error, session, clock,
                      {"Accept": "text/event-stream", "Cache-Control": "no-cache",
                       "Accept-Encoding": "identity"})
        self.parser = SseParser()
        self._buffer: deque[Any] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: requests.Response | None = None
        self._failing: str | None = None       # last error while not connected
        self._ended: str | None = None         # the server told us to stop (HTTP 204)
        self._dropped_unreported = 0
        self._connections = 0
        self.connected = False
        self.stats = {"connects": 0, "reconnects": 0, "events": 0, "records": 0, "malformed": 0,
                      "skipped_types": 0, "dropped": 0, "too_large": 0}

    @classmethod
    def from_params(cls, name: str, params: SseParams, settings: Any) -> SseSource:
        """The Server-Sent Events source (``source.type: sse``)."""
        if params.url is None:
            raise ConfigError(f"{SECTION}.url", "required for an sse source")
        kw = dict(params)
        policy = RetryPolicy(max_tries=0, max_time=0, base=kw.pop("backoff_base"),
                             cap=kw.pop("backoff_max"))
        return cls(name, retry=policy, **kw)

    # -- lifecycle (the Service shape: idempotent start/stop) --------------------------------
    def start(self) -> None:
        """Start the reader thread (idempotent; ``fetch()`` calls it; never after a stop)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=f"streamdash-sse-{self.name}",
                                            daemon=True)
            self._thread.start()

    def interrupt(self) -> None:
        """Stop reading now (aborting a blocked read or a reconnect wait), without waiting."""
        self._stop.set()
        self._abort()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the reader and wait for it; True when it ended within ``timeout`` (idempotent)."""
        self.interrupt()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the reader (see :meth:`stop`) and release the connection pool."""
        self.stop(timeout)
        self.session.close()

    @property
    def alive(self) -> bool:
        """True while the reader thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # -- Source protocol ---------------------------------------------------------------------
    def fetch(self) -> list[dict[str, Any]]:
        """Up to ``batch_size`` buffered records; SourceError while down with nothing buffered."""
        self.start()
        with self._lock:
            n = min(self.batch_size, len(self._buffer))
            out = [self._buffer.popleft() for _ in range(n)]
            dropped, self._dropped_unreported = self._dropped_unreported, 0
            failing, ended = self._failing, self._ended
        if dropped:
            self.errors.report("buffer_full", f"{dropped} event(s) dropped: buffer full "
                                              f"(buffer_size {self.buffer_size}); poll more "
                                              f"often or raise batch_size", url=self.full_url,
                               level=logging.WARNING)
        if not out and (failing or ended):
            raise SourceError(f"{self.name}: {ended or failing}", source=self.name,
                              kind="stream_ended" if ended else "disconnected")
        self.stats["records"] += len(out)
        return out

    def describe(self) -> dict[str, Any]:
        """URL (secrets stripped), connection state and counters; header values never appear."""
        with self._lock:
            buffered = len(self._buffer)
        return {**super().describe(), "url": self.display_url, "connected": self.connected,
                "reader_alive": self.alive, "last_event_id": self.parser.last_id,
                "server_retry_ms": self.parser.retry, "buffered": buffered,
                "buffer_size": self.buffer_size, "batch_size": self.batch_size,
                "headers": dict.fromkeys(self.headers, MASK),
                "fields": {f.name: f.text() for f in self.fields},
                "stats": dict(self.stats), "ingest_errors": self.errors.snapshot()}

    # -- the reader thread -------------------------------------------------------------------
    def _run(self) -> None:
        """Connect, read until the stream ends, reconnect; failures back off (the retry
        helper, unlimited tries) at least the server's ``retry:`` time."""
        while not self._stop.is_set():
            try:
                call_with_retries(self._read_stream, self.retry, self._stop,
                                  retryable=lambda exc: True, server_wait=self._server_wait,
                                  on_retry=self._on_failure)
            except Exception:
                return  # only a stop ends the retries of an unlimited policy
            if self._ended:
                return
            wait = self._server_wait() or self.retry.base
            log_event(log, logging.INFO, "stream ended; reconnecting", source=self.name,
                      url=self.display_url, wait=round(wait, 3))
            if self._stop.wait(wait):
                return

    def _server_wait(self, exc: BaseException | None = None) -> float | None:
        """The server's reconnection time (its ``retry:`` field), in seconds."""
        return self.parser.retry / 1000.0 if self.parser.retry is not None else None

    def _on_failure(self, exc: BaseException, failures: int, wait: float) -> None:
        self.connected = False
        if isinstance(exc, _StreamError):
            with self._lock:
                self._failing = exc.reason
            self.errors.report(exc.kind, exc.reason, url=self.full_url, status=exc.status,
                               attempt=failures, next_delay=wait)
        else:  # a bug must not kill ingestion silently: log it whole and back off
            log.error("sse reader failed", exc_info=exc, extra={"ctx": {"source": self.name}})

    def _read_stream(self) -> bool:
        """One connection, read to its end; True when it delivered events."""
        if self._connections:
            self.stats["reconnects"] += 1
        self._connections += 1
        try:
            return self._exchange()
        finally:
            self.connected = False
            self._response = None

    def _exchange(self) -> bool:
        headers = dict(self.headers)
        if self.parser.last_id:
            headers["Last-Event-ID"] = self.parser.last_id
        try:
            resp = self.session.get(self.url, params=self.params, headers=headers, stream=True,
                                    timeout=self.timeout)
        except requests.Timeout as exc:
            raise _StreamError("timeout", f"timed out connecting: {short_reason(exc)}") from None
        except requests.RequestException as exc:
            raise _StreamError("connection", f"connection failed: {short_reason(exc)}") from None
        self._response = resp
        if self._stop.is_set():
            self._abort()
        with resp:
            if resp.status_code == 204:
                # The spec's way for a server to say "do not reconnect".
                with self._lock:
                    self._ended = "the server ended the stream (HTTP 204); not reconnecting"
                self.errors.report("stream_ended", self._ended, url=self.full_url, status=204)
                return False
            if resp.status_code != 200:
                excerpt = body_excerpt(resp.raw.read(1024, decode_content=True) or b"")
                kind = "rate_limited" if resp.status_code == 429 else "server_error" \
                    if resp.status_code >= 500 else "client_error"
                raise _StreamError(kind, f"HTTP {resp.status_code} {resp.reason or ''}".rstrip()
                                   + (f"; body: {excerpt!r}" if excerpt else ""),
                                   resp.status_code)
            self.connected = True
            self.stats["connects"] += 1
            with self._lock:
                self._failing = None
            self.parser.reset_stream()
            return self._consume(resp)

    def _consume(self, resp: requests.Response) -> bool:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        got = False
        try:
            for chunk in _chunks(resp):
                if self._stop.is_set():
                    return got
                for event in self.parser.feed(decoder.decode(chunk)):
                    got = True
                    self._handle(event)
                if self.parser.pending_chars > self.max_event_bytes:
                    self.stats["too_large"] += 1
                    raise _StreamError("too_large", f"an event line exceeds max_event_bytes "
                                                    f"({self.max_event_bytes})")
        except (requests.RequestException, OSError, ValueError) as exc:
            if self._stop.is_set():
                return got
            kind = "timeout" if "timed out" in str(exc).lower() else "connection"
            raise _StreamError(kind, f"stream broke: {exc}") from None
        return got

    def _handle(self, event: SseEvent) -> None:
        self.stats["events"] += 1
        if self.event_types and event.type not in self.event_types:
            self.stats["skipped_types"] += 1
            return
        if len(event.data) > self.max_event_bytes:
            self.stats["too_large"] += 1
            self.errors.report("too_large", f"event of {len(event.data)} characters exceeds "
                                            f"max_event_bytes; id {event.id!r}", url=self.full_url)
            return
        try:
            doc = orjson.loads(event.data)
            records = self.mapper.map(extract_records(doc, self.records_path), doc, self.clock())
        except orjson.JSONDecodeError as exc:
            self.stats["malformed"] += 1
            self.errors.report("not_json", f"event data is not JSON ({exc}); "
                                           f"data: {body_excerpt(event.data.encode())!r}",
                               url=self.full_url)
            return
        except ShapeError as exc:
            self.stats["malformed"] += 1
            self.errors.report(exc.kind, f"{exc}; data: {body_excerpt(event.data.encode())!r}",
                               url=self.full_url)
            return
        with self._lock:
            for rec in records:
                if len(self._buffer) >= self.buffer_size:
                    self._buffer.popleft()  # keep the newest: a live view wants fresh data
                    self.stats["dropped"] += 1
                    self._dropped_unreported += 1
                self._buffer.append(rec)

    def _abort(self) -> None:
        """Unblock a read in progress by shutting its socket down.

        Closing the response from this thread would block on the reader's buffer lock; a
        socket shutdown makes the blocked read return at once, and the reader then closes
        the response itself.
        """
        resp = self._response
        if resp is None:
            return
        sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
        if sock is None:  # urllib3 1.x keeps it behind http.client's buffered socket file
            fp = getattr(getattr(resp.raw, "_fp", None), "fp", None)
            sock = getattr(getattr(fp, "raw", None), "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def _chunks(resp: requests.Response) -> Iterator[bytes]:
    """Bytes as soon as they arrive.

    ``iter_content(None)`` on urllib3 1.x waits for the whole body when the server does not use
    chunked encoding, which never ends on a stream; ``read1`` returns what is there now. The
    request asks for ``identity`` encoding, so the raw bytes are the text.
    """
    read1 = getattr(getattr(resp.raw, "_fp", None), "read1", None)
    if read1 is None:  # pragma: no cover - other transports
        yield from resp.iter_content(1024)
        return
    while True:
        data = read1(64 * 1024)
        if not data:
            return
        yield data


class _StreamError(Exception):
    def __init__(self, kind: str, reason: str, status: int | None = None):
        super().__init__(reason)
        self.kind, self.reason, self.status = kind, reason, status
