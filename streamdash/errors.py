"""Exception hierarchy for streamdash.

Every error raised on purpose by the package derives from :class:`StreamdashError`::

    StreamdashError
    ├── ConfigError        a setting, schema or rule is wrong (names the key and the problem)
    ├── SourceError        a source could not deliver records (after its own retries)
    │   └── IngestError    one failed ingestion attempt, with kind, reason and URL
    │       └── AttemptError   one failed HTTP attempt (and the server's Retry-After)
    ├── CastError          a value could not be converted to a field's type (also a ValueError)
    ├── ShapeError         a document lacks the expected shape (also a ValueError)
    ├── ProcessingError    the processing chain failed on a batch
    ├── RegistryError      two modules declare one name (a source kind, a rule, a panel)
    ├── QueryError         a bad /api/* query parameter: HTTP 400 (also a ValueError)
    ├── StorageUnavailable the history database cannot be read (missing, unreadable, corrupt)
    │   └── QueryTooSlow   a history query ran past its time bound and was interrupted
    ├── StateUnavailable   the shared state store (Redis) cannot be reached or answered badly
    └── ServeError         the dashboard cannot be served (port in use, unknown host)

This module imports nothing from the package so that every other module can import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class StreamdashError(Exception):
    """Base class of every error streamdash raises on purpose."""


class ConfigError(StreamdashError):
    """A configuration value is wrong.

    ``key`` is the dotted settings path (e.g. ``source.interval``) and ``problem`` says what is
    wrong with it, so the message always tells the user where to look.
    """

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


class SourceError(StreamdashError):
    """A source failed to fetch records; ``source`` names it."""

    def __init__(self, message: str, *, source: str = "", kind: str = "error"):
        self.source = source
        self.kind = kind
        super().__init__(message)


class IngestError(SourceError):
    """One failed ingestion attempt: what went wrong (``kind``), why and where (``url``)."""

    def __init__(self, message: str, *, source: str = "", kind: str = "error", url: str = "",
                 status: int | None = None, excerpt: str = "", retryable: bool = False):
        super().__init__(message, source=source, kind=kind)
        self.url = url
        self.status = status
        self.excerpt = excerpt
        self.retryable = retryable


class AttemptError(IngestError):
    """One failed HTTP attempt; ``retry_after`` is the server's requested wait, if any."""

    def __init__(self, message: str, *, reason: str = "", retry_after: float | None = None,
                 **kw: Any):
        super().__init__(message, **kw)
        self.reason = reason or message
        self.retry_after = retry_after


class CastError(StreamdashError, ValueError):
    """A value could not be converted to the field's type."""


class ShapeError(StreamdashError, ValueError):
    """The document does not have the expected shape; ``kind`` classifies it for the error log."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


class QueryError(StreamdashError, ValueError):
    """A bad query parameter; the message names it and says what is accepted (HTTP 400)."""


class StorageUnavailable(StreamdashError):
    """The history database cannot be read (missing, unreadable, corrupt); the message says why."""


class QueryTooSlow(StorageUnavailable):
    """A query ran past the reader's ``max_seconds`` and was interrupted."""


class StateUnavailable(StreamdashError):
    """The shared state store (Redis) cannot be reached or answered badly; the message says
    why and where (the URL, passwords masked)."""


class ProcessingError(StreamdashError):
    """The processing chain failed on a batch (a bug or a broken rule, not a bad record)."""


class RegistryError(StreamdashError):
    """A registry cannot be built: two modules declare the same name, or a module declares an
    entry that lacks what its registry needs. Raised at import, naming the modules."""


class ServeError(StreamdashError):
    """The dashboard cannot be served: the address is in use or unknown (said in the message)."""


def unknown_key(key: str, name: str, known: Iterable[str], what: str = "setting") -> ConfigError:
    """The error for an unknown ``name`` at ``key``: the closest known name, then every one.

    ``source.intervl: unknown setting; did you mean 'interval'? (known: batch_size, …)`` — a
    typo is the usual cause, so the suggestion comes first and the whole list after it. ``what``
    says what was looked up ("setting", "rule 'x'" when ``key`` does not end with the name).
    """
    import difflib  # only on the error path

    choices = sorted({str(k) for k in known})
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(key, f"unknown {what}{hint} (known: {', '.join(choices)})")
