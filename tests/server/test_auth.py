"""Tests for streamdash.server.auth through the Flask test client: who may call which route."""

import base64
import logging
import sys
import threading
import time

import pytest
from werkzeug.security import generate_password_hash

import streamdash.server.auth as auth_module
from streamdash.app import create_app
from streamdash.auth_config import auth_settings, hash_token
from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.testing import ListSource

PASSWORD = "correct horse battery"
TOKEN = "machine-token-0123456789abcdef"
USERS = {"alice": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")}
MACHINE_ROUTES = ("/metrics", "/health", "/api/metrics", "/api/errors", "/api/dlq",
                  "/api/alerts", "/api/windows", "/api/alerts/active")


def basic(user: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic."""
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


BEARER = {"Authorization": f"Bearer {TOKEN}"}
ALICE = basic("alice", PASSWORD)


@pytest.fixture
def app():
    """An app with one user and one API token, its pipeline running on a looping list source."""
    settings = Settings({"source.interval": 0.1,
                         "auth": {"users": USERS, "api_tokens": {"prom": hash_token(TOKEN)}}})
    app = create_app(settings, ListSource([[{"id": 1, "value": 1.0}]], loop=True))
    yield app
    app.runtime.stop()


def test_api_and_metrics_need_a_token_or_a_login(app):
    """Every machine route answers 401 to a stranger, 200 to the bearer token and to the user."""
    client = app.server.test_client()
    for path in MACHINE_ROUTES:
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        assert "WWW-Authenticate" in anonymous.headers
        assert client.get(path, headers=BEARER).status_code in (200, 503), path
        assert client.get(path, headers=ALICE).status_code in (200, 503), path
    assert client.get("/api/dlq", headers=BEARER).get_json()["count"] == 0


def test_wrong_token_and_wrong_password_are_401(app):
    """A wrong token, a wrong password and an unknown user are all refused with 401."""
    client = app.server.test_client()
    for headers in ({"Authorization": "Bearer not-the-token"}, basic("alice", "wrong"),
                    basic("mallory", PASSWORD)):
        for path in ("/", "/api/dlq", "/metrics"):
            assert client.get(path, headers=headers).status_code == 401, (path, headers)


def test_the_dashboard_needs_a_login_and_a_token_does_not_open_it(app):
    """The page, its layout and its scripts need the user's password; a bearer token is only
    for machine routes."""
    client = app.server.test_client()
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=BEARER).status_code == 401, path
        assert client.get(path, headers=ALICE).status_code == 200, path
    page = client.get("/")
    assert page.headers["WWW-Authenticate"].startswith('Basic realm="streamdash"')


def test_probes_stay_public_and_reveal_only_a_status(app):
    """/health/live and /health/ready answer without credentials and carry nothing but a
    status (and, when ready, the time of the last successful fetch)."""
    client = app.server.test_client()
    live = client.get("/health/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    deadline = time.monotonic() + 5 + 10 * app.runtime.settings.interval
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(app.runtime.settings.interval)
    ready = client.get("/health/ready").get_json()
    assert set(ready) <= {"status", "health", "last_success", "reason"}
    full = client.get("/health", headers=BEARER).get_json()
    assert "components" in full and client.get("/health").status_code == 401


@pytest.mark.parametrize("header", ["Basic !!!not-base64", "Basic", "Digest abc", "Bearer",
                                    "Basic " + base64.b64encode(b"no-colon").decode(),
                                    "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
                                    "Bearer " + "x" * 10_000])
def test_malformed_authorization_headers_are_401_not_500(app, header, caplog):
    """Headers dash-auth's own Basic check would crash on are plain 401s, without a traceback."""
    client = app.server.test_client()
    with caplog.at_level(logging.ERROR):
        for path in ("/", "/api/dlq"):
            assert client.get(path, headers={"Authorization": header}).status_code == 401
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("body", [{}, [], "text", {"output": 1, "inputs": []},
                                  {"output": "x.children"}])
def test_callback_requests_are_checked_before_their_body_is_read(app, body, caplog):
    """A stranger's callback request is 401 whatever its body; a user's malformed one is 400;
    neither logs a traceback."""
    client = app.server.test_client()
    with caplog.at_level(logging.ERROR):
        assert client.post("/_dash-update-component", json=body).status_code == 401
        assert client.post("/_dash-update-component", json=body,
                           headers=ALICE).status_code == 400
    assert not [r for r in caplog.records if r.exc_info]


def test_a_verified_password_is_not_hashed_again(app, monkeypatch):
    """The browser sends the password with every request: it is hashed once, then remembered
    (a changed password is hashed again)."""
    calls = []
    real = auth_module.check_password_hash
    monkeypatch.setattr(auth_module, "check_password_hash",
                        lambda digest, pw: calls.append(pw) or real(digest, pw))
    client = app.server.test_client()
    for _ in range(5):
        assert client.get("/api/dlq", headers=ALICE).status_code == 200
    assert calls == [PASSWORD]
    assert client.get("/api/dlq", headers=basic("alice", "guess")).status_code == 401
    assert calls == [PASSWORD, "guess"]


def test_password_checks_run_at_most_two_at_once(app, monkeypatch):
    """A flood of password attempts computes at most MAX_CONCURRENT_CHECKS hashes at a time."""
    running, peak, lock = [0], [0], threading.Lock()

    def slow_check(digest, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(auth_module, "check_password_hash", slow_check)
    codes = []

    def attempt(i):
        codes.append(app.server.test_client().get("/", headers=basic("alice", f"g{i}"))
                     .status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(auth_module.CHECK_WAIT + 8 * 0.05 + 5)
    assert codes == [401] * 8
    assert peak[0] == auth_module.MAX_CONCURRENT_CHECKS


def test_without_auth_everything_is_open_as_before():
    """With no auth section (the loopback quick start) no route asks for credentials."""
    app = create_app(Settings(), start=False)
    client = app.server.test_client()
    assert app.auth is None
    for path in ("/", "/api/dlq", "/metrics", "/health/live"):
        assert client.get(path).status_code == 200, path


def test_oidc_without_authlib_is_a_config_error_saying_what_to_install(monkeypatch):
    """auth.mode oidc without the authlib package fails with one line naming the extra."""
    monkeypatch.setitem(sys.modules, "dash_auth.oidc_auth", None)  # import → ImportError
    settings = Settings({"auth": {"oidc": {
        "client_id": "c", "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}}})
    with pytest.raises(ConfigError) as err:
        create_app(settings, start=False)
    assert err.value.key == "auth.mode" and "streamdash[oidc]" in str(err.value)


def test_token_names_compare_every_token():
    """check_token finds the token whichever position it has, and None for any other value."""
    tokens = {f"t{i}": hash_token(f"token-number-{i:04d}-xxxxxxxx") for i in range(5)}
    creds = auth_module.Credentials({}, auth_settings({"users": USERS,
                                                       "api_tokens": tokens}).api_tokens)
    assert [creds.check_token(f"token-number-{i:04d}-xxxxxxxx") for i in range(5)] \
        == [f"t{i}" for i in range(5)]
    assert creds.check_token("token-number-0000-xxxxxxxy") is None


@pytest.fixture
def idp():
    """A local identity provider's discovery document (enough for dash-auth to redirect)."""
    from tests.httpserver import ScriptedServer, json_reply

    server = ScriptedServer().start()
    server.route("/.well-known/openid-configuration", then=json_reply({
        "issuer": server.url("/").rstrip("/"), "authorization_endpoint": server.url("/authorize"),
        "token_endpoint": server.url("/token"), "jwks_uri": server.url("/jwks"),
        "response_types_supported": ["code"]}))
    yield server
    server.stop()


def oidc_app(idp, **extra):
    """An app logging users in through ``idp``, with one API token."""
    pytest.importorskip("authlib")
    oidc = {"client_id": "streamdash-test", "client_secret": "CLIENT-SECRET-4321",
            "server_metadata_url": idp.url("/.well-known/openid-configuration"), **extra}
    return create_app(Settings({"auth": {"oidc": oidc,
                                         "api_tokens": {"prom": hash_token(TOKEN)}}}),
                      start=False)


def test_oidc_sends_browsers_to_the_provider_and_machines_get_401(idp):
    """Without a session the page redirects to the provider's authorize endpoint with our
    client id and callback; the API answers 401 (or 200 to the token); probes stay public."""
    app = oidc_app(idp)
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 302
    location = page.headers["Location"]
    assert location.startswith(idp.url("/authorize"))
    assert "client_id=streamdash-test" in location and "%2Foidc%2Fsso%2Fcallback" in location
    assert "CLIENT-SECRET-4321" not in location
    api = client.get("/api/dlq")
    assert api.status_code == 401 and api.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/dlq", headers=BEARER).status_code == 200
    assert client.get("/health/live").status_code == 200
    assert client.post("/_dash-update-component", json={}).status_code == 401


def test_oidc_session_user_must_be_in_allowed_emails(idp):
    """A logged-in user (session set by the callback) sees the page when their e-mail or
    domain is allowed, and gets 403 otherwise (a redirect to the provider, which would log
    them in again, would loop)."""
    app = oidc_app(idp, allowed_emails=["@example.com"], secret_key="cookie-key-0123456789")
    for email, status in (("ann@example.com", 200), ("eve@example.org", 403)):
        client = app.server.test_client()
        with client.session_transaction() as session:
            session["user"] = {"email": email, "email_verified": True}
        assert client.get("/").status_code == status, email
        assert client.get("/api/dlq").status_code == (200 if status == 200 else 401)


def test_failed_logins_are_logged_at_most_every_ten_seconds(caplog):
    """A flood of wrong passwords writes one WARNING per FAILURE_LOG_EVERY seconds, counting the
    failures in between, and never the password."""
    now = [0.0]
    creds = auth_module.Credentials(USERS, {}, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="streamdash.auth"):
        for i in range(20):
            assert not creds.check_password("alice", f"guess-{i}")
        now[0] += auth_module.FAILURE_LOG_EVERY
        assert not creds.check_password("nobody", "guess-last")
    lines = [r for r in caplog.records if r.name == "streamdash.auth"]
    assert [r.ctx["failures"] for r in lines] == [1, 20]
    assert lines[1].ctx["user"] == "nobody"
    assert not any("guess" in r.getMessage() + str(r.ctx) for r in lines)
