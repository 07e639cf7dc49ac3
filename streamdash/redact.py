"""What is a secret, and how it is kept out of every output: the one redaction module.

Every output uses this module: the log lines (the "config loaded" line included), ``/health``,
``/metrics``, the ``/api/*`` answers, the dashboard's page and callbacks, the ingestion error
log. It decides:

* **secret names** — :data:`SECRET_NAME`, the one list (``api_key``, ``appid``, ``token``,
  ``password``, ``X-Api-Key`` …) plus the names a source lists in ``secret_params``; the value
  of a setting, query parameter or header so named is a secret;
* **secret containers** — every value under ``headers``, ``cookies``, ``users`` or
  ``api_tokens`` (the login's hashes), and the items of a
  list under a secret name, are secrets; a *mapping* under a secret name (``auth: {mode: …}``)
  is judged key by key, so words like ``none`` never become "secrets" blanked everywhere;
* **URLs** — their password and secret query values; a webhook URL (Slack, Discord …: any
  setting under a ``webhook`` key, and the notifier's targets) shows only its scheme, host and
  port (:func:`mask_webhook_url`);
* **values** — ``${NAME}`` references in secret settings are expanded from the environment, so
  the key a source really sends is masked too; a reference to a URL anywhere (``state.url:
  ${REDIS_URL}``) makes that URL's password a secret.

:func:`mask_settings` gives a copy of the settings safe to show; :func:`secret_values` the
raw values to blank; :class:`Redactor` blanks them (raw and URL-encoded) in any text or URL.
Values shorter than :data:`MIN_SECRET` are never treated as secrets (they would blank
innocent text). Imports nothing from the package.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Shortest value treated as a secret (masking 1–3 characters would blank innocent text).
MIN_SECRET = 4
#: Names whose values are secrets: setting keys, query parameters and header names alike
#: (matched whole, case-insensitive; a prefix ending in ``_`` or ``-`` is allowed:
#: ``client_secret``, ``X-Api-Key``, ``owm_appid``).
SECRET_NAME = re.compile(
    r"^(.*[_-])?(api_?key|apikey|app_?id|app_?key|key|token|access_?token|refresh_?token|"
    r"id_?token|secret|password|passwd|pwd|passphrase|auth|authorization|credentials?|cookie|"
    r"session_?id|signature|sig|private_?key)$", re.IGNORECASE)
#: Mappings whose every value is a secret, whatever the names inside (``auth.users`` maps
#: user names to password hashes, ``auth.api_tokens`` names to token hashes).
SECRET_CONTAINERS = frozenset({"headers", "cookies", "users", "api_tokens"})
#: Secret names that are also ordinary setting names: ``key`` names a field in ``schema``,
#: ``dedup`` and ``window`` (``key: sensor``). They are secrets only as query parameters (in
#: a ``params`` mapping or a URL), where ``?key=…`` is an API key.
PARAM_ONLY = frozenset({"key"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_USERINFO = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True when a setting, query parameter or header called ``name`` carries a secret."""
    return bool(SECRET_NAME.match(str(name))) or str(name).lower() in {e.lower() for e in extra}


# -- settings ------------------------------------------------------------------------------------
def _is_url(value: str) -> bool:
    try:
        return "://" in value and bool(urlsplit(value).netloc)
    except ValueError:  # 'http://[::1' — not parseable, still maybe carrying a password
        return "://" in value


def _url_secrets(url: str, whole_path: bool, extra: Iterable[str]) -> list[str]:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        match = _USERINFO.search(url)
        return [match.group(0)[len(match.group(1)):-1]] if match else []
    # A webhook's query values are all shown masked: the long ones (tokens, whatever their
    # name) are blanked in other text too; short ones (``?format=json``) would blank words.
    found = [v for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if is_secret_name(k, extra) or (whole_path and len(v) >= 8)]
    if password:
        found.append(password)
    if whole_path and parts.path.strip("/"):
        # The whole path, and its last segment (the token) should it be shown alone.
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        found += [parts.path.rstrip("/")] + ([last] if len(last) >= 8 else [])
    return found


def mask_url(url: str, whole_path: bool = False, extra: Iterable[str] = ()) -> str:
    """``url`` without its password and secret query values; a webhook URL (``whole_path``)
    as :func:`mask_webhook_url` shows it."""
    if whole_path:
        return mask_webhook_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here rather than below
    except ValueError:
        return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_secret_name(k, extra) else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_webhook_url(url: str) -> str:
    """A webhook URL safe to show anywhere: scheme, host and port stay, the rest is masked.

    Webhook URLs carry their token in the path (Slack, Discord) or the query, under any name:
    ``https://hooks.slack.com/services/T0/B0/XyZ`` → ``https://hooks.slack.com/***``; the
    credentials become ``***@`` and every query value ``***`` (the names stay); a URL that
    does not parse is ``***`` altogether.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    netloc = (f"{MASK}@" if parts.username or parts.password else "") + host
    if port:
        netloc += f":{port}"
    path = f"/{MASK}" if parts.path.strip("/") else ""
    query = ""
    if parts.query:
        query = "?" + "&".join(f"{kv.split('=', 1)[0]}={MASK}" for kv in parts.query.split("&"))
    return f"{parts.scheme}://{netloc}{path}{query}"


def _walk(node: Any, key: str, secret: bool, webhook: bool, extra: frozenset[str],
          found: list[str], parent: str = "") -> Any:
    """Mask one settings node; collect the secret values found in it."""
    named = bool(key) and is_secret_name(key, extra) \
        and (key.lower() not in PARAM_ONLY or parent.lower() == "params")
    webhook = webhook or "webhook" in key.lower()
    if isinstance(node, dict):
        names = node.get("secret_params")
        if isinstance(names, list):
            extra = extra | {str(n).lower() for n in names}
        inner = secret or key.lower() in SECRET_CONTAINERS
        return {k: _walk(v, str(k), inner, webhook, extra, found, key)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, key, secret or named, webhook, extra, found, parent) for v in node]
    if node is None or isinstance(node, bool):
        return node
    if secret or named:
        found.append(str(node))
        return MASK
    if isinstance(node, str) and _is_url(node):
        found.extend(_url_secrets(node, webhook, extra))
        return mask_url(node, webhook, extra)
    return node


def mask_settings(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a settings tree safe to log or show (see the module docstring)."""
    return _walk(dict(tree), "", False, False, frozenset(), [])


def secret_values(tree: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values in a settings tree, ``${NAME}`` references expanded from ``environ``
    (default ``os.environ``); longest first, values under :data:`MIN_SECRET` skipped."""
    env = os.environ if environ is None else environ
    found: list[str] = []
    _walk(dict(tree), "", False, False, frozenset(), found)
    for value in list(found):
        refs = _ENV_REF.findall(value)
        if refs:
            found += [env[n] for n in refs if n in env]
            found.append(_ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value))
    # Any setting that is a ${NAME} reference to a URL (state.url: ${REDIS_URL}): the URL's
    # password, which no setting shows, is a secret too.
    for value in _references(tree):
        expanded = _ENV_REF.sub(lambda m: env.get(m.group(1), ""), value)
        if _is_url(expanded):
            found.extend(_url_secrets(expanded, False, ()))
    return sorted({v for v in found if len(v) >= MIN_SECRET}, key=len, reverse=True)


def _references(node: Any) -> list[str]:
    """Every text in a settings tree holding a ``${NAME}`` reference."""
    if isinstance(node, Mapping):
        return [ref for v in node.values() for ref in _references(v)]
    if isinstance(node, list):
        return [ref for v in node for ref in _references(v)]
    return [node] if isinstance(node, str) and _ENV_REF.search(node) else []


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every value of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


# -- values ----------------------------------------------------------------------------------------
class Redactor:
    """Masks known secret values (and secret-looking query parameters) in text and URLs."""

    def __init__(self, secrets: Iterable[str] = (), secret_params: Iterable[str] = ()):
        self.secret_params = tuple(secret_params)
        forms: set[str] = set()
        for secret in secrets:
            # "Bearer <token>": the token alone may be echoed back, so mask it alone too.
            parts = [secret] + [p for p in secret.split() if len(p) >= 8]
            for part in parts:
                if len(part) >= MIN_SECRET:
                    forms.update({part, quote(part, safe=""), quote_plus(part)})
        self._secrets = sorted(forms, key=len, reverse=True)

    @property
    def secrets(self) -> list[str]:
        """Every form masked (raw and URL-encoded), longest first."""
        return list(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``***``."""
        return redact(value, self._secrets)

    def url(self, url: str) -> str:
        """``url`` without its password and with secret query values masked."""
        return self.text(mask_url(url, extra=self.secret_params))


def output_redactor(settings: Mapping[str, Any], source: Any = None,
                    environ: Mapping[str, str] | None = None) -> Redactor:
    """The redactor for everything a running app shows: the secrets of its settings and those
    its source knows (``source.redactor``: header and parameter values as sent)."""
    values = secret_values(settings, environ)
    own = getattr(source, "redactor", None)
    return Redactor(values + (own.secrets if isinstance(own, Redactor) else []))
