"""Logging setup: every line has a UTC ISO-8601 timestamp, level, logger, message and context.

Context travels in ``extra={"ctx": {...}}`` (see :func:`log_event`). ``text`` renders it as
``key=value`` pairs after the message; ``json`` writes one JSON object a line.

Secrets never reach the output: :func:`mask_settings` masks them in the settings logged at
start-up (API keys and other secret-named keys, every header value, URL passwords and secret
query parameters, the path of webhook URLs), and :func:`configure_logging` takes the secret
values themselves (:func:`secret_values`) and blanks them in every line, whichever component
logged them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

from .models import utc_iso

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
                      secrets: Any = ()) -> logging.Handler:
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


# -- secrets --------------------------------------------------------------------------------------
MASK = "***"
#: Setting names whose values are secrets (``api_key``, ``token``, ``password``, ``auth`` …).
SECRET_KEY = re.compile(r"(^|[_-])(api_?key|apikey|key|token|secret|password|passwd|pwd|auth|"
                        r"authorization|credentials?|cookie|signature|sig|private_key)$",
                        re.IGNORECASE)
#: Shortest value treated as a secret (masking 1–3 characters would blank innocent text).
MIN_SECRET = 4


def _is_url(value: str) -> bool:
    return "://" in value and bool(urlsplit(value).netloc)


def _url_secrets(url: str, whole_path: bool) -> list[str]:
    parts = urlsplit(url)
    found = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if SECRET_KEY.search(k)]
    if parts.password:
        found.append(parts.password)
    if whole_path and parts.path.strip("/"):
        # The whole path, and its last segment (the token) should it be logged alone.
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        found += [parts.path.rstrip("/")] + ([last] if len(last) >= 8 else [])
    return found


def _mask_url(url: str, whole_path: bool) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    if parts.username:
        host = f"{parts.username}:{MASK}@{host}" if parts.password else f"{parts.username}@{host}"
    if whole_path:  # webhook URLs carry their token in the path (Slack, Discord, …)
        return f"{parts.scheme}://{host}/{MASK}" if parts.path.strip("/") else f"{parts.scheme}://{host}"
    query = "&".join(f"{k}={MASK if SECRET_KEY.search(k) else v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{host}{parts.path}" + (f"?{query}" if query else "")


def _walk(node: Any, key: str, secret: bool, webhook: bool, found: list[str]) -> Any:
    """Mask one settings node; collect the secret values found in it."""
    secret = secret or bool(SECRET_KEY.search(key))
    webhook = webhook or "webhook" in key.lower()
    if isinstance(node, dict):
        headers = key.lower() == "headers"
        return {k: _walk(v, str(k), secret or headers, webhook, found) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, key, secret, webhook, found) for v in node]
    if node is None or isinstance(node, bool):
        return node
    if secret:
        found.append(str(node))
        return MASK
    if isinstance(node, str) and _is_url(node):
        found.extend(_url_secrets(node, webhook))
        return _mask_url(node, webhook)
    return node


def mask_settings(tree: dict[str, Any]) -> dict[str, Any]:
    """A copy of a settings tree safe to log or show (see the module docstring)."""
    return _walk(tree, "", False, False, [])


def secret_values(tree: dict[str, Any]) -> list[str]:
    """The secret values in a settings tree (longest first; values under 4 characters skipped)."""
    found: list[str] = []
    _walk(tree, "", False, False, found)
    return sorted({v for v in found if len(v) >= MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: Any) -> str:
    """``text`` with every value of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """Wraps another formatter and blanks known secret values in whatever it produced."""

    def __init__(self, inner: logging.Formatter, secrets: Any):
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET},
                              key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def log_settings(logger: logging.Logger, settings: Any) -> None:
    """Log the effective settings: a one-line summary at INFO, the whole tree ("config loaded",
    secrets masked) at DEBUG — the console at INFO is for people, not for a settings dump."""
    tree = mask_settings(settings.as_dict())
    source = tree.get("source", {})
    log_event(logger, logging.INFO, "settings", source=source.get("type"),
              interval=source.get("interval"), data_dir=tree.get("data_dir") or "(memory)",
              log=f"{tree['log']['level']} {tree['log']['format']}")
    log_event(logger, logging.DEBUG, "config loaded", config=tree)
