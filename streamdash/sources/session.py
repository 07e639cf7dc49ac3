"""What the HTTP-based sources (``http``, ``sse``) share: one ``requests`` session, secrets
redaction, the ingestion error log and the field mapper; and the helpers that show a body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from .base import FieldHints, Source
from .fields import NUMERIC, TIMESTAMPS, FieldSpec, RecordMapper
from .ingest_log import IngestLog
from .redact import GuardedSession, Redactor, is_secret_name

USER_AGENT = "streamdash (+https://github.com/streamdash)"
EXCERPT_CHARS = 200


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
    """Base of the HTTP-based sources; subclasses set ``headers``, ``params`` and ``fields``
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
