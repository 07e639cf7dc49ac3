"""What the push sources (``mqtt``, ``redis-stream``) share: their common settings, the payload
decoder, TLS and credentials, and the refusals log.

A push source hands over at most ``batch_size`` records per ``fetch()``, waiting at most
``batch_time`` for them (batching by count or time), and holds at most ``max_in_flight``
messages received but not yet acknowledged: past that it stops reading, so a slow pipeline
slows the broker down instead of filling memory. A message larger than ``max_payload_bytes``
is refused: acknowledged (it would come back for ever), counted and reported as an ingestion
error, never stored whole.

Payloads are JSON and go through the same ``records_path`` and ``fields`` mapping as the
``http`` source (:mod:`.fields`). A payload that is not JSON becomes an
:class:`~streamdash.pipeline.jsonl.Unparsed` record, quarantined with its text (rule ``json``)
like a broken line of a JSON Lines file; ``scalar_field`` turns a bare value (``21.5``,
``ON``: Tasmota's and Homie's single-value topics) into ``{scalar_field: value}`` instead.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

from ..errors import ConfigError, ShapeError
from ..params import Bool, Duration, Float, Int, Params
from ..pipeline.jsonl import Unparsed
from .base import SECTION, FieldHints, Source
from .fields import RecordMapper, extract_records
from .ingest_log import IngestLog
from .options import FieldMap, Text, expand_env
from .redact import Redactor
from .retry import RetryPolicy
from .session import hints_for

log = logging.getLogger("streamdash.sources")
_loads = orjson.loads
_DecodeError = orjson.JSONDecodeError

#: Characters of a refused message shown in its report.
EXCERPT = 120

#: A password, ``${NAME}`` read from the environment (so it stays out of files).
EnvSecret = Annotated[Text, AfterValidator(lambda v: expand_env("password", v))]


class PushParams(Params):
    """Settings every push source has (``source.batch_size`` …); see docs/sources.md."""

    batch_size: Annotated[Int, Field(ge=1, le=100_000)] = 500
    batch_time: Annotated[Duration, Field(ge=0.001, le=60)] = 0.2
    max_in_flight: Annotated[Int, Field(ge=1, le=1_000_000)] = 10_000
    max_payload_bytes: Annotated[Int, Field(ge=64, le=64 * 1024 * 1024)] = 256 * 1024
    records_path: Text = ""
    fields: FieldMap = ()
    scalar_field: Text = ""
    username: Text = ""
    password: EnvSecret = ""
    tls: Bool = False
    ca_file: Text = ""
    cert_file: Text = ""
    key_file: Text = ""
    tls_insecure: Bool = False
    connect_timeout: Annotated[Duration, Field(ge=0.001, le=300)] = 5.0
    backoff_base: Annotated[Float, Field(ge=0.0, le=600)] = 0.5
    backoff_max: Annotated[Float, Field(ge=0.0, le=3600)] = 30.0


def check_tls_files(params: PushParams) -> None:
    """Refuse, at start-up and naming the key, a TLS file that cannot be read."""
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(params, key)
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"{SECTION}.{key}", f"cannot read {path!r}")
    if params.key_file and not params.cert_file:
        raise ConfigError(f"{SECTION}.key_file", "a key_file needs its cert_file")


def tls_context(params: PushParams) -> ssl.SSLContext:
    """The TLS context the settings describe: the system's CAs or ``ca_file``, a client
    certificate when given, and no verification only with ``tls_insecure``."""
    check_tls_files(params)
    try:
        ctx = ssl.create_default_context(cafile=params.ca_file or None)
        if params.cert_file:
            ctx.load_cert_chain(params.cert_file, params.key_file or None)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"{SECTION}.{'cert_file' if params.cert_file else 'ca_file'}",
                          f"not a usable certificate: {exc}") from None
    if params.tls_insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class PayloadDecoder:
    """Message payloads → records, through the ``records_path`` / ``fields`` mapping."""

    def __init__(self, records_path: str = "", fields: tuple = (), scalar_field: str = ""):
        self.records_path = records_path
        self.mapper = RecordMapper(fields)
        self.scalar_field = scalar_field
        #: Nothing to map: a payload that is a JSON object is the record as it is, so it can
        #: be handed to the pipeline undecoded, as a JSON Lines line (see :meth:`decode`).
        self.passthrough = not (records_path or fields or scalar_field)

    def decode(self, payload: bytes, extra: dict[str, Any] | None, now: float) -> list[Any]:
        """The records of one payload, each updated with ``extra`` (topic fields, an entry id).

        Never raises: a payload that is not JSON (or not of the expected shape) is one
        ``Unparsed`` record, which the pipeline quarantines with its text.

        With nothing to map or add, a payload that opens a JSON object is returned as it is
        (``bytes``): the pipeline decodes raw lines with the schema's typed decoder, in C, and
        its outcome is the same — an object is the record, broken JSON is quarantined with
        orjson's message, as here. Anything else (an array of records, a bare value) takes
        the general path below.
        """
        if self.passthrough and not extra and payload[:1] == b"{":
            return [payload]
        try:
            doc = _loads(payload)
        except _DecodeError as exc:
            if not self.scalar_field:
                return [Unparsed(payload.decode("utf-8", "replace"), str(exc))]
            doc = payload.decode("utf-8", "replace").strip()
        if self.scalar_field and not isinstance(doc, (dict, list)):
            doc = {self.scalar_field: doc}
        if type(doc) is dict and not self.records_path:
            items = [doc]  # the common case, without the general path's checks
        elif not isinstance(doc, (dict, list)):
            items = [doc]  # a bare value: the pipeline rejects it (rule object), shown whole
        else:
            try:
                items = extract_records(doc, self.records_path)
            except ShapeError as exc:
                return [Unparsed(payload.decode("utf-8", "replace"), str(exc))]
        records = self.mapper.map(items, doc, now)
        if extra:
            for rec in records:
                if type(rec) is dict:
                    rec.update(extra)
        return records


class Refusals:
    """Messages refused before they became records, reported once per kind and fetch.

    A flood of bad messages must not become a flood of log lines: each ``flush()`` reports
    how many of each kind (``too_large``, ``bad_topic`` …) since the last one, with the first
    as an example.
    """

    def __init__(self) -> None:
        self.total: dict[str, int] = {}
        self._since: dict[str, list[Any]] = {}
        self._lock = threading.Lock()  # a reader thread adds, the producer flushes

    def add(self, kind: str, example: str) -> None:
        """Count one refused message of ``kind``; ``example`` describes it (no payload)."""
        with self._lock:
            self.total[kind] = self.total.get(kind, 0) + 1
            entry = self._since.setdefault(kind, [0, example[:EXCERPT]])
            entry[0] += 1

    def snapshot(self) -> dict[str, int]:
        """Messages refused since start, by kind."""
        with self._lock:
            return dict(self.total)

    def flush(self, errors: IngestLog, url: str) -> None:
        """Report what was refused since the last flush (one ingestion error per kind)."""
        with self._lock:
            since, self._since = self._since, {}
        for kind, (count, example) in since.items():
            errors.report(kind, f"{count} message(s) refused: {example}", url=url,
                          level=logging.WARNING)


class PushSource(Source):
    """What both push sources set up alike: the settings (``self.p``), the redactor that
    masks the password everywhere, the ingestion error log, the refusals, the field hints and
    the reconnect backoff (``max_time``: how long one call keeps retrying, 0 for ever)."""

    push = True

    def __init__(self, name: str, params: PushParams, url: str, password: str, *,
                 max_time: float, on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        super().__init__(name)
        check_tls_files(params)
        self.p = params
        self.clock, self.monotonic = clock, monotonic
        self.redactor = Redactor([password] if password else [])
        self.display_url = self.redactor.url(url)
        self.errors = IngestLog(self.name, redactor=self.redactor, clock=clock)
        if on_error is not None:
            self.errors.add_listener(on_error)
        self.refusals = Refusals()
        self.hints = hints_for(params.fields) if params.fields else FieldHints()
        self.retry = RetryPolicy(max_tries=0, max_time=max_time, base=params.backoff_base,
                                 cap=params.backoff_max)

    @classmethod
    def from_params(cls, name: str, params: Any, settings: Any) -> Source:
        """The source from its validated settings (its own checks in ``__init__``)."""
        return cls(name, params)

    def bind_events(self, bus: Any) -> None:
        """Publish every ingestion error on ``bus``'s ``ingest_error`` topic."""
        self.errors.bind(bus)
