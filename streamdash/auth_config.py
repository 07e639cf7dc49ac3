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
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from .errors import ConfigError
from .params import Bool, Params, comma_list, parse

MODES = ("basic", "oidc", "none")
#: Password hashes werkzeug.security produces (``method$salt$hash``); nothing else is accepted.
PASSWORD_HASH = re.compile(r"^(scrypt|pbkdf2)(:[\w:]+)?\$[^$]+\$[0-9a-f]{32,}$")
#: API token hashes: SHA-256 of the token (tokens are long random strings, no salt needed).
TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
#: A user or token name: what logs and the config show instead of the secret.
NAME = re.compile(r"^[\w.@+-]{1,64}$")
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


def _secret_map(pattern: re.Pattern[str], what: str) -> Any:
    """A ``name: hash`` mapping type whose errors never echo a value (it may be a password)."""
    def check_hash(digest: Any) -> str:
        if not isinstance(digest, str) or not pattern.match(digest):
            raise ValueError(f"expected {what} (plain secrets are refused)")
        return digest

    def check_map(value: Any) -> Any:
        if value is None or value == "":
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("expected a mapping of name: hash")
        return value
    return Annotated[dict[Annotated[str, BeforeValidator(_user_name)],
                          Annotated[str, BeforeValidator(check_hash)]],
                     BeforeValidator(check_map)]


def _user_name(name: Any) -> str:
    if not NAME.match(str(name)):
        raise ValueError("a name is 1-64 letters, digits or . @ + - _")
    return str(name)


def _matching(pattern: str, problem: str, default: str = "") -> Any:
    """Text matching ``pattern`` (empty or unset: ``default``); ``problem`` otherwise."""
    def check(value: Any) -> str:
        value = default if value is None or value == "" else value
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ValueError(problem)
        return value
    return Annotated[str, BeforeValidator(check)]


def _required(value: Any) -> str:
    if not isinstance(value, str) or not value:  # never echoed: client_secret is a secret
        raise ValueError("required for auth.mode oidc")
    return value


def _mode(value: Any) -> str:
    if value and value not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}, got {value!r}")
    return value or ""


def _scope(value: Any) -> str:
    scope = str(value or "openid email")
    if "openid" not in scope.split():
        raise ValueError(f"must include 'openid', got {scope!r}")
    return scope


def _emails(value: Any) -> Any:
    emails = comma_list(value or [])
    if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
        raise ValueError("expected a list of e-mail addresses or @domains")
    return [e.lower() for e in emails]


def _oidc_mapping(value: Any) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise ValueError("expected a mapping (client_id, client_secret, server_metadata_url …)")
    return value


Required = Annotated[str, BeforeValidator(_required)]
Users = _secret_map(PASSWORD_HASH, HASH_HELP)
Tokens = _secret_map(TOKEN_HASH, "a hash printed by 'streamdash hash-password --token' "
                                 "(sha256:<64 hex>)")
ProviderName = _matching(r"[\w.-]{1,32}", "expected 1-32 letters, digits, '.', '-', '_'", "sso")
Realm = _matching(r"[\w .-]{1,64}", "expected up to 64 letters, digits, spaces, '.', '-'",
                  "streamdash")


class OidcParams(Params):
    """``auth.oidc``: one OpenID Connect provider (see :class:`OidcSettings`)."""

    client_id: Required = Field("", validate_default=True)
    client_secret: Required = Field("", validate_default=True)
    server_metadata_url: Required = Field("", validate_default=True)
    name: ProviderName = "sso"
    scope: Annotated[str, BeforeValidator(_scope)] = "openid email"
    secret_key: Annotated[str, BeforeValidator(lambda v: str(v or ""))] = ""
    allowed_emails: Annotated[list[str], BeforeValidator(_emails)] = []
    https_callback: Bool = False

    @field_validator("server_metadata_url")
    @classmethod
    def _metadata_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+/\S*$", url):
            raise ValueError("expected the provider's http(s) URL of "
                             "/.well-known/openid-configuration")
        return url


class AuthParams(Params):
    """The ``auth`` section as written; :func:`auth_settings` checks how the keys combine."""

    mode: Annotated[str, BeforeValidator(_mode)] = ""
    users: Users = {}
    api_tokens: Tokens = {}
    oidc: Annotated[OidcParams | None, BeforeValidator(_oidc_mapping)] = None
    realm: Realm = "streamdash"


def auth_settings(section: Mapping[str, Any] | None) -> AuthSettings:
    """Validate the ``auth`` section (``settings.section("auth")``); errors name the key."""
    p = parse(AuthParams, section, "auth")
    users, tokens, oidc = dict(p.users), dict(p.api_tokens), p.oidc
    mode = p.mode or ("basic" if users else "oidc" if oidc else "")
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
    return AuthSettings(mode=mode, users=users, api_tokens=tokens, realm=p.realm,
                        oidc=None if oidc is None else OidcSettings(
                            **oidc.model_dump(exclude={"allowed_emails"}),
                            allowed_emails=tuple(oidc.allowed_emails)))


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
