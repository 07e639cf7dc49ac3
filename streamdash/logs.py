"""Logging setup: every line has a UTC ISO-8601 timestamp, level, logger, message and context.

Context travels in ``extra={"ctx": {...}}`` (see :func:`log_event`). ``text`` renders it as
``key=value`` pairs after the message; ``json`` writes one JSON object a line.

Secrets never reach the output: the settings logged at start-up are masked, and
:func:`configure_logging` takes the secret values themselves and blanks them in every line,
whichever component logged them. What is a secret is decided by :mod:`streamdash.redact` (the
one module every output uses; ``mask_settings``, ``secret_values`` and ``redact`` are
re-exported here for the callers that set up logging).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from .models import utc_iso
from .redact import MASK, Redactor, mask_settings, redact, secret_values

__all__ = ["MASK", "JsonFormatter", "RedactingFormatter", "TextFormatter", "configure_logging",
           "log_event", "log_settings", "mask_settings", "redact", "secret_values"]

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def log_event(logger: logging.Logger, level: int, msg: str, **ctx: Any) -> None:
    """Log ``msg`` with structured context fields (source, batch size, …)."""
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"ctx": ctx})


def _context(record: logging.LogRecord) -> dict[str, Any]:
    ctx = dict(getattr(record, "ctx", None) or {})
    for key, value in record.__dict__.items():
        if key not in _RESERVED and key != "ctx":
            ctx.setdefault(key, value)
    return ctx


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z INFO streamdash.producer message key=value …``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [utc_iso(record.created), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_short(v)}" for k, v in _context(record).items()]
        line = " ".join(str(p) for p in parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``logger``, ``msg``, context fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": utc_iso(record.created), "level": record.levelname,
                               "logger": record.name, "msg": record.getMessage()}
        for key, value in _context(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (" " in text or not text) else text


def configure_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None,
                      secrets: Redactor | Iterable[str] = ()) -> logging.Handler:
    """Send the ``streamdash`` loggers to ``stream`` (stderr) in the chosen format.

    ``secrets`` are values (API keys, tokens) replaced by ``***`` in every line written.
    Replaces a handler installed by an earlier call, so calling it twice does not double lines.
    """
    logger = logging.getLogger("streamdash")
    for handler in list(logger.handlers):
        if getattr(handler, "_streamdash", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(RedactingFormatter(formatter, secrets) if secrets else formatter)
    handler._streamdash = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # urllib3 warns about each retry and discarded pooled connection through Python's
    # last-resort handler, unformatted; streamdash already logs every failed fetch in one line.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    return handler


# -- secrets (what is one: streamdash.redact) ------------------------------------------------------
class RedactingFormatter(logging.Formatter):
    """Wraps another formatter and blanks known secret values in whatever it produced.

    ``secrets`` are the values (or a :class:`~streamdash.redact.Redactor`); the redactor
    decides which forms of them are blanked (raw and URL-encoded, none under ``MIN_SECRET``).
    """

    def __init__(self, inner: logging.Formatter, secrets: Redactor | Iterable[str]):
        super().__init__()
        self.inner = inner
        self.redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.text(self.inner.format(record))


def log_settings(logger: logging.Logger, settings: Any) -> None:
    """Log the effective settings: a one-line summary at INFO, the whole tree ("config loaded",
    secrets masked) at DEBUG — the console at INFO is for people, not for a settings dump."""
    tree = mask_settings(settings.as_dict())
    source = tree.get("source", {})
    log_event(logger, logging.INFO, "settings", source=source.get("type"),
              interval=source.get("interval"), data_dir=tree.get("data_dir") or "(memory)",
              log=f"{tree['log']['level']} {tree['log']['format']}")
    log_event(logger, logging.DEBUG, "config loaded", config=tree)
