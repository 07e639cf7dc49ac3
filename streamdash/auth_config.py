"""The ``auth`` settings and the secure-default rule (no Flask here: the core may import it).

``auth`` in the settings::

    auth:
      mode: basic            # basic | oidc | none; unset = basic when users are given
      users:                 # name: salted hash printed by `streamdash hash-password`
        alice: "scrypt:32768:8:1$…$…"
      api_tokens:            # name: hash printed by `streamdash hash-password --token`
        prometheus: "sha256:…"
      oidc: {client_id: …, client_secret: …, server_metadata_url: …}

The environment fills the same keys: ``STREAMDASH_AUTH__USERS__ALICE=<hash>``,
``STREAMDASH_AUTH__API_TOKENS__PROMETHEUS=<hash>`` (names are lower-cased).

The rule (:func:`check_exposure`): a server bound to loopback only needs no login; on any other
address it refuses to start unless a login is configured or ``auth.mode`` is explicitly
``none``. Passwords and tokens are only ever stored as hashes; a plain value is refused
without being echoed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

MODES = ("basic", "oidc", "none")
#: Password hashes werkzeug.security produces (``method$salt$hash``); nothing else is accepted.
PASSWORD_HASH = re.compile(r"^(scrypt|pbkdf2)(:[\w:]+)?\$[^$]+\$[0-9a-f]{32,}$")
#: API token hashes: SHA-256 of the token (tokens are long random strings, no salt needed).
TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
#: A user or token name: what logs and the config show instead of the secret.
NAME = re.compile(r"^[\w.@+-]{1,64}$")
OIDC_KEYS = ("name", "client_id", "client_secret", "server_metadata_url", "scope",
             "secret_key", "allowed_emails", "https_callback")
KEYS = ("mode", "users", "api_tokens", "oidc", "realm")
HASH_HELP = "a hash printed by 'streamdash hash-password'"


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID Connect identity provider (dash-auth's ``OIDCAuth.register_provider``)."""

    client_id: str
    client_secret: str
    server_metadata_url: str
    name: str = "sso"
    scope: str = "openid email"
    #: Signs the session cookie; empty = a random key per process (a restart logs users out).
    secret_key: str = ""
    #: Who may log in (e-mail addresses, or ``@example.com`` for a domain); empty = anyone the
    #: provider authenticates.
    allowed_emails: tuple[str, ...] = ()
    #: Build the callback URL with https (behind a proxy that terminates TLS).
    https_callback: bool = False


@dataclass(frozen=True)
class AuthSettings:
    """The validated ``auth`` section.

    ``mode`` is ``basic``, ``oidc``, ``none`` (explicitly open) or ``""`` (nothing configured:
    open on loopback, refused elsewhere).
    """

    mode: str = ""
    users: Mapping[str, str] = field(default_factory=dict)
    api_tokens: Mapping[str, str] = field(default_factory=dict)
    oidc: OidcSettings | None = None
    realm: str = "streamdash"

    @property
    def login_required(self) -> bool:
        """True when users must log in (``basic`` or ``oidc``)."""
        return self.mode in ("basic", "oidc")


def auth_settings(section: Mapping[str, Any] | None) -> AuthSettings:
    """Validate the ``auth`` section (``settings.section("auth")``); errors name the key."""
    section = dict(section or {})
    for key in section:
        if key not in KEYS:
            raise ConfigError(f"auth.{key}",
                              f"unknown setting (known in 'auth': {', '.join(KEYS)})")
    users = _hashes(section.get("users"), "auth.users", PASSWORD_HASH, HASH_HELP)
    tokens = _hashes(section.get("api_tokens"), "auth.api_tokens", TOKEN_HASH,
                     "a hash printed by 'streamdash hash-password --token' (sha256:<64 hex>)")
    mode = section.get("mode") or ""
    if mode and mode not in MODES:
        raise ConfigError("auth.mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    oidc = _oidc(section.get("oidc")) if section.get("oidc") is not None else None
    if not mode:
        mode = "basic" if users else "oidc" if oidc else ""
    if mode == "basic" and not users:
        raise ConfigError("auth.users", "auth.mode basic needs at least one user "
                                        "(STREAMDASH_AUTH__USERS__<NAME>=<hash>)")
    if mode == "oidc" and oidc is None:
        raise ConfigError("auth.oidc", "auth.mode oidc needs client_id, client_secret and "
                                       "server_metadata_url")
    if mode == "none" and (users or tokens or oidc):
        raise ConfigError("auth.mode", "is none (no login) but users, api_tokens or oidc are "
                                       "configured: remove them or choose basic/oidc")
    if tokens and mode not in ("basic", "oidc"):
        raise ConfigError("auth.api_tokens", "tokens protect /api and /metrics only beside a "
                                             "login: set auth.users or auth.oidc")
    realm = section.get("realm") or "streamdash"
    if not isinstance(realm, str) or not re.fullmatch(r"[\w .-]{1,64}", realm):
        raise ConfigError("auth.realm", "expected up to 64 letters, digits, spaces, '.', '-'")
    return AuthSettings(mode=mode, users=users, api_tokens=tokens, oidc=oidc, realm=realm)


def _hashes(value: Any, key: str, pattern: re.Pattern[str], what: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, "expected a mapping of name: hash")
    out: dict[str, str] = {}
    for name, digest in value.items():
        name = str(name)
        if not NAME.match(name):
            raise ConfigError(f"{key}.{name[:64]}", "a name is 1-64 letters, digits or . @ + - _")
        # Never echo the value: a plain password pasted here must not reach the error output.
        if not isinstance(digest, str) or not pattern.match(digest):
            raise ConfigError(f"{key}.{name}", f"expected {what} (plain secrets are refused)")
        out[name] = digest
    return out


def _oidc(value: Any) -> OidcSettings:
    if not isinstance(value, dict):
        raise ConfigError("auth.oidc", "expected a mapping (client_id, client_secret, "
                                       "server_metadata_url …)")
    for key in value:
        if key not in OIDC_KEYS:
            raise ConfigError(f"auth.oidc.{key}",
                              f"unknown setting (known in 'auth.oidc': {', '.join(OIDC_KEYS)})")
    for key in ("client_id", "client_secret", "server_metadata_url"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ConfigError(f"auth.oidc.{key}", "required for auth.mode oidc")
    url = value["server_metadata_url"]
    if not re.match(r"^https?://[^/\s]+/\S*$", url):
        raise ConfigError("auth.oidc.server_metadata_url",
                          "expected the provider's http(s) URL of "
                          "/.well-known/openid-configuration")
    name = str(value.get("name") or "sso")
    if not re.fullmatch(r"[\w.-]{1,32}", name):
        raise ConfigError("auth.oidc.name", "expected 1-32 letters, digits, '.', '-', '_'")
    emails = value.get("allowed_emails") or []
    if isinstance(emails, str):
        emails = [e.strip() for e in emails.split(",") if e.strip()]
    if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
        raise ConfigError("auth.oidc.allowed_emails",
                          "expected a list of e-mail addresses or @domains")
    scope = str(value.get("scope") or "openid email")
    if "openid" not in scope.split():
        raise ConfigError("auth.oidc.scope", f"must include 'openid', got {scope!r}")
    https = value.get("https_callback", False)
    if not isinstance(https, bool):
        raise ConfigError("auth.oidc.https_callback", f"expected true or false, got {https!r}")
    return OidcSettings(client_id=value["client_id"], client_secret=value["client_secret"],
                        server_metadata_url=url, name=name, scope=scope,
                        secret_key=str(value.get("secret_key") or ""),
                        allowed_emails=tuple(e.lower() for e in emails), https_callback=https)


def hash_token(token: str) -> str:
    """The hash of an API token for ``auth.api_tokens``: ``sha256:<64 hex>``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random API token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1`` (brackets allowed)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_hosts(binds: Iterable[str]) -> list[str]:
    """The hosts of gunicorn-style binds (``0.0.0.0:8000``, ``[::1]:80``, ``unix:/path``).

    A unix socket or an inherited descriptor counts as exposed: whatever proxies it is unknown.
    """
    hosts = []
    for bind in binds:
        bind = bind.strip()
        if bind.startswith(("unix:", "fd://")) or ":" not in bind:
            hosts.append(bind if ":" in bind else bind or "(unknown)")
        else:
            hosts.append(bind.rsplit(":", 1)[0])
    return hosts


def hosts_from_env(environ: Mapping[str, str]) -> list[str] | None:
    """The addresses gunicorn.conf.py found (``STREAMDASH_BIND``), None when not run by it."""
    raw = environ.get("STREAMDASH_BIND")
    return bind_hosts(raw.split(",")) if raw else None


def check_exposure(auth: AuthSettings, hosts: Iterable[str] | None) -> str | None:
    """Apply the secure default to a server listening on ``hosts``.

    ``hosts`` is ``None`` when the address is not known (a WSGI server other than ours):
    that counts as exposed. Raises ``ConfigError`` naming ``auth.users`` when a non-loopback
    address has no login; returns a warning to log when the user chose ``auth.mode: none``.
    """
    hosts = list(hosts) if hosts is not None else None
    exposed = [h for h in hosts if not is_loopback(h)] if hosts is not None else ["(unknown)"]
    if auth.login_required or not exposed:
        return None
    if auth.mode == "none":
        return (f"auth.mode is none: serving {', '.join(exposed)} WITHOUT a login; anyone who "
                "can reach it sees the data")
    where = "an address that is not loopback" if hosts is None else ", ".join(exposed)
    raise ConfigError("auth.users", f"refusing to serve on {where} without a login: set "
                                    "STREAMDASH_AUTH__USERS__<NAME>=<hash from 'streamdash "
                                    "hash-password'> (or auth.oidc), or auth.mode: none to "
                                    "serve it open")


def enforce_secure_default(settings: Any, hosts: Iterable[str] | None,
                           logger: logging.Logger) -> AuthSettings:
    """Check ``settings``' auth section for a server on ``hosts`` (see :func:`check_exposure`).

    Raises ``ConfigError`` when the server may not start; logs the ``auth.mode: none``
    warning (at every start, on purpose) when the user chose to serve without a login.
    """
    auth = auth_settings(settings.section("auth"))
    warning = check_exposure(auth, hosts)
    if warning:
        logger.warning(warning)
    return auth
