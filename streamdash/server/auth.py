"""Login in front of the dashboard and the API, with dash-auth (Basic or OpenID Connect).

* Users: dash-auth's ``BasicAuth`` with an ``auth_func`` that checks salted password hashes
  (werkzeug.security), or dash-auth's ``OIDCAuth`` (needs ``authlib``: ``streamdash[oidc]``).
* Machines: ``/metrics``, ``/api/*`` and ``/health`` also accept ``Authorization: Bearer
  <token>`` (Prometheus' ``authorization`` scrape setting); tokens are configured apart from the
  users, stored as SHA-256 hashes and compared in constant time.
* ``/health/live`` and ``/health/ready`` stay public: they say nothing but a status.

What we add to the library, and why: its Basic check raises (HTTP 500) on a header that is not
well-formed Basic (``Bearer …``, bad base64) and it parses the body of a Dash callback before
checking who is asking, so a stranger's malformed body would be a 500 with a traceback; both
are answered 401 here before the library looks. A verified password is remembered (keyed by an
HMAC of user and password, one entry per user) because the browser sends it on every request and
one scrypt check costs ~50-150 ms of CPU; at most ``MAX_CONCURRENT_CHECKS`` hashes are computed
at once so a flood of wrong passwords cannot take every core.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from dash import Dash
from dash_auth import BasicAuth
from flask import Response, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from ..auth_config import AuthSettings
from ..errors import ConfigError
from ..logs import log_event

log = logging.getLogger("streamdash.auth")

#: Paths anyone may call: the probes of a platform or orchestrator (they show only a status).
PUBLIC_PATHS = frozenset({"/health/live", "/health/ready"})
#: Password hashes computed at the same time, at most (the rest wait, then are refused).
MAX_CONCURRENT_CHECKS = 2
#: Seconds a password check waits for a free slot before the attempt is refused.
CHECK_WAIT = 5.0
#: Longest ``Authorization`` header value looked at (longer ones are refused unread).
MAX_HEADER = 4096
#: Seconds between two "login failed" lines: a flood of guesses must not flood the log (the
#: failures in between are counted in the next line).
FAILURE_LOG_EVERY = 10.0


def is_machine_path(path: str) -> bool:
    """Routes a bearer token opens: Prometheus metrics, the JSON API and the full health."""
    return path in ("/metrics", "/health") or path.startswith("/api/")


class Credentials:
    """Checks user passwords and API tokens against the configured hashes; thread-safe."""

    def __init__(self, users: dict[str, str], tokens: dict[str, str],
                 clock: Callable[[], float] = time.monotonic):
        self._users = dict(users)
        self._tokens = [(name, bytes.fromhex(digest.split(":", 1)[1]))
                        for name, digest in tokens.items()]
        self._key = secrets.token_bytes(32)  # per process: the remembered keys mean nothing
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)
        self._dummy = ""
        self._clock = clock
        self._failures = 0
        self._logged_at = float("-inf")

    def check_password(self, user: str, password: str) -> bool:
        """True when ``password`` matches ``user``'s hash (same cost for unknown users)."""
        mark = hmac.new(self._key, f"{user}\0{password}".encode("utf-8", "replace"),
                        hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, mark):
            return True
        if not self._slots.acquire(timeout=CHECK_WAIT):
            self._failed("login refused: too many password checks at once", user)
            return False
        try:
            digest = self._users.get(user)
            if digest is None:  # spend the same time, so the answer does not tell who exists
                check_password_hash(self._dummy_hash(), password)
                ok = False
            else:
                ok = check_password_hash(digest, password)
        finally:
            self._slots.release()
        if ok:
            with self._lock:  # one entry per configured user: bounded by the config
                self._verified[user] = mark
        else:
            self._failed("login failed", user)
        return ok

    def _failed(self, message: str, user: str) -> None:
        """Log a failed login, at most once every FAILURE_LOG_EVERY seconds."""
        with self._lock:
            self._failures += 1
            now = self._clock()
            if now - self._logged_at < FAILURE_LOG_EVERY:
                return
            count, self._failures, self._logged_at = self._failures, 0, now
        log_event(log, logging.WARNING, message, user=user[:64], failures=count,
                  remote=request.remote_addr if request else None)

    def check_token(self, token: str) -> str | None:
        """The name of the API token ``token`` is, or None; constant-time comparisons."""
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        found = None
        for name, expected in self._tokens:  # compare with all, whichever matches
            if hmac.compare_digest(digest, expected):
                found = name
        return found

    def _dummy_hash(self) -> str:
        if not self._dummy:
            self._dummy = generate_password_hash(secrets.token_hex(16))
        return self._dummy


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """User and password from a ``Basic`` header; None when it is anything else or malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class _Gate:
    """What streamdash adds to a dash-auth ``Auth``: probes, bearer tokens, a safe order."""

    credentials: Credentials
    app: Dash

    def _protect(self) -> None:
        # Registered before the library's own hook, which reads body["output"] and
        # body["inputs"] unchecked (a malformed body would be a 500 with a traceback): a
        # stranger gets 401 here, a user's malformed body 400, before the library parses it.
        @self.app.server.before_request
        def _refuse_strangers_first() -> Response | None:
            if not request.path.endswith("/_dash-update-component"):
                return None
            if not self.is_authorized():
                return self.login_request()
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("output"), str) \
                    or not isinstance(body.get("inputs"), list):
                return Response('{"error": "malformed callback request"}', status=400,
                                mimetype="application/json")
            return None

        super()._protect()  # type: ignore[misc]

    def is_authorized(self) -> bool:
        """Probes: always; a bearer token: on machine routes; else the login of the mode."""
        if request.path in PUBLIC_PATHS:
            return True
        header = request.headers.get("Authorization", "")
        if len(header) > MAX_HEADER:
            return False
        token = _bearer(header)
        if token is not None:
            return is_machine_path(request.path) and \
                self.credentials.check_token(token) is not None
        return self._user_authorized(header)

    def _user_authorized(self, header: str) -> bool:
        raise NotImplementedError

    def _refuse_machine(self) -> Response:
        return Response('{"error": "authentication required"}', status=401,
                        mimetype="application/json",
                        headers={"WWW-Authenticate": 'Bearer realm="streamdash"'})


class StreamdashBasicAuth(_Gate, BasicAuth):
    """dash-auth's ``BasicAuth`` checking salted hashes, with probes public and API tokens."""

    def __init__(self, app: Dash, auth: AuthSettings, credentials: Credentials):
        self.credentials = credentials
        self.realm = auth.realm
        super().__init__(app, auth_func=credentials.check_password)

    def _user_authorized(self, header: str) -> bool:
        found = _basic_credentials(header)
        return found is not None and self._auth_func(*found)

    def login_request(self) -> Response:
        """401 asking the browser for a password (same answer for the API)."""
        return Response("Login required", status=401,
                        headers={"WWW-Authenticate": f'Basic realm="{self.realm}", '
                                                     'charset="UTF-8"'})


def _oidc_class() -> type:
    """dash-auth's OIDC class, or a ConfigError saying what to install."""
    try:
        from dash_auth.oidc_auth import OIDCAuth
    except ImportError:
        raise ConfigError("auth.mode", "oidc needs the authlib package: "
                                       "pip install 'streamdash[oidc]'") from None

    class StreamdashOIDCAuth(_Gate, OIDCAuth):
        """dash-auth's ``OIDCAuth`` with probes public, API tokens, and an e-mail allow-list."""

        def __init__(self, app: Dash, auth: AuthSettings, credentials: Credentials):
            self.credentials = credentials
            oidc = auth.oidc
            self.allowed = oidc.allowed_emails
            super().__init__(app, secret_key=oidc.secret_key or secrets.token_urlsafe(32),
                             force_https_callback=oidc.https_callback)
            self.register_provider(oidc.name, client_id=oidc.client_id,
                                   client_secret=oidc.client_secret,
                                   server_metadata_url=oidc.server_metadata_url,
                                   client_kwargs={"scope": oidc.scope})

        def _user_authorized(self, header: str) -> bool:
            if not OIDCAuth.is_authorized(self):
                return False
            user = session.get("user")
            return user is None or _email_allowed(user, self.allowed)  # None: the login routes

        def login_request(self, idp: str | None = None) -> Any:
            """Machines and the page's callbacks get 401 (a redirect to the provider cannot be
            followed by a script); browsers go to the provider's login page."""
            if is_machine_path(request.path) or request.path.endswith("/_dash-update-component"):
                return self._refuse_machine()
            if session.get("user"):  # logged in, not allowed: the provider would say yes again
                return Response("This account may not see this dashboard.", status=403)
            return super().login_request(idp)

    return StreamdashOIDCAuth


def _email_allowed(user: dict[str, Any], allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    email = str(user.get("email") or "").lower()
    verified = user.get("email_verified", True) is not False
    return verified and any(email == a or (a.startswith("@") and email.endswith(a))
                            for a in allowed)


def install_auth(app: Dash, auth: AuthSettings) -> Any:
    """Put the login of ``auth`` in front of every route of ``app``; None when it is open."""
    if not auth.login_required:
        return None
    credentials = Credentials(dict(auth.users), dict(auth.api_tokens))
    if auth.mode == "basic":
        return StreamdashBasicAuth(app, auth, credentials)
    return _oidc_class()(app, auth, credentials)
