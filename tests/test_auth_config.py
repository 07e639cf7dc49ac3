"""Tests for streamdash.auth_config: the auth section and the secure-default rule."""

import logging

import pytest
from werkzeug.security import generate_password_hash

from streamdash.auth_config import (
    AuthSettings,
    auth_settings,
    bind_hosts,
    check_exposure,
    enforce_secure_default,
    hash_token,
    hosts_from_env,
    is_loopback,
)
from streamdash.config import Settings, load_settings
from streamdash.errors import ConfigError

HASH = generate_password_hash("correct horse", "pbkdf2:sha256:1000")
TOKEN_HASH = hash_token("a-long-random-machine-token")
OIDC = {"client_id": "streamdash", "client_secret": "client-secret-value",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost",
                                  "LOCALHOST"])
def test_loopback_addresses(host):
    """127.0.0.0/8, ::1 (bracketed or not) and localhost are loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com",
                                  "", "127.0.0.1.example.com", "unix:/tmp/s.sock"])
def test_other_addresses_are_not_loopback(host):
    """Any other address, name or socket counts as exposed."""
    assert not is_loopback(host)


def test_nothing_configured_is_open_on_loopback_only():
    """Without an auth section a loopback bind needs no login; 0.0.0.0 is refused naming the
    variable to set; an unknown bind (another WSGI server) counts as exposed."""
    auth = auth_settings({})
    assert auth.mode == "" and not auth.login_required
    assert check_exposure(auth, ["127.0.0.1", "::1"]) is None
    for hosts in (["0.0.0.0"], ["127.0.0.1", "192.168.1.5"], None):
        with pytest.raises(ConfigError) as err:
            check_exposure(auth, hosts)
        assert err.value.key == "auth.users"
        assert "STREAMDASH_AUTH__USERS__<NAME>" in str(err.value)
        assert "auth.mode: none" in str(err.value) and "\n" not in str(err.value)


def test_explicit_mode_none_serves_openly_with_a_warning():
    """``auth.mode: none`` lets an exposed server start and returns the warning to log."""
    auth = auth_settings({"mode": "none"})
    warning = check_exposure(auth, ["0.0.0.0"])
    assert "WITHOUT a login" in warning and "0.0.0.0" in warning
    assert check_exposure(auth, ["127.0.0.1"]) is None


def test_users_imply_basic_and_allow_any_address():
    """Configured users switch Basic login on; then every address may be served."""
    auth = auth_settings({"users": {"alice": HASH}, "api_tokens": {"prom": TOKEN_HASH}})
    assert auth.mode == "basic" and auth.login_required
    assert auth.users == {"alice": HASH} and auth.api_tokens == {"prom": TOKEN_HASH}
    assert check_exposure(auth, ["0.0.0.0"]) is None


@pytest.mark.parametrize("section, key", [
    ({"users": {"alice": "plain-password"}}, "auth.users.alice"),
    ({"users": {"alice": "scrypt:32768:8:1"}}, "auth.users.alice"),
    ({"users": {"bad name!": HASH}}, "auth.users.bad name!"),
    ({"users": ["alice"]}, "auth.users"),
    ({"users": {"alice": HASH}, "api_tokens": {"prom": "the-token-itself"}},
     "auth.api_tokens.prom"),
    ({"mode": "basic"}, "auth.users"),
    ({"mode": "ldap"}, "auth.mode"),
    ({"mode": "none", "users": {"alice": HASH}}, "auth.mode"),
    ({"api_tokens": {"prom": TOKEN_HASH}}, "auth.api_tokens"),
    ({"password": "x"}, "auth.password"),
    ({"users": {"alice": HASH}, "realm": 'a"b'}, "auth.realm"),
])
def test_bad_auth_sections_name_the_key(section, key):
    """Each wrong auth setting is a ConfigError naming its key."""
    with pytest.raises(ConfigError) as err:
        auth_settings(section)
    assert err.value.key == key


def test_a_plain_password_is_refused_without_being_echoed():
    """A password pasted where its hash belongs is refused, and the error does not repeat it."""
    with pytest.raises(ConfigError) as err:
        auth_settings({"users": {"alice": "MySecretPassw0rd"}})
    assert "MySecretPassw0rd" not in str(err.value)
    assert "streamdash hash-password" in str(err.value)


def test_oidc_section_is_validated():
    """An OIDC provider needs client id, secret and an http(s) metadata URL; others are checked."""
    auth = auth_settings({"oidc": {**OIDC, "allowed_emails": "a@x.org, @example.com"}})
    assert auth.mode == "oidc" and auth.oidc.name == "sso" and auth.oidc.scope == "openid email"
    assert auth.oidc.allowed_emails == ("a@x.org", "@example.com")
    assert check_exposure(auth, ["0.0.0.0"]) is None
    bad = [({"mode": "oidc"}, "auth.oidc"),
           ({"oidc": {k: v for k, v in OIDC.items() if k != "client_secret"}},
            "auth.oidc.client_secret"),
           ({"oidc": {**OIDC, "server_metadata_url": "idp.example.com"}},
            "auth.oidc.server_metadata_url"),
           ({"oidc": {**OIDC, "scope": "email"}}, "auth.oidc.scope"),
           ({"oidc": {**OIDC, "allowed_emails": ["nobody"]}}, "auth.oidc.allowed_emails"),
           ({"oidc": {**OIDC, "tenant": "x"}}, "auth.oidc.tenant"),
           ({"oidc": "yes"}, "auth.oidc")]
    for section, key in bad:
        with pytest.raises(ConfigError) as err:
            auth_settings(section)
        assert err.value.key == key, section


def test_users_and_tokens_come_from_the_environment():
    """``STREAMDASH_AUTH__USERS__<NAME>`` and ``STREAMDASH_AUTH__API_TOKENS__<NAME>`` fill the
    section (names lower-cased), over the YAML file."""
    settings = load_settings(environ={"STREAMDASH_AUTH__USERS__ALICE": HASH,
                                      "STREAMDASH_AUTH__API_TOKENS__PROMETHEUS": TOKEN_HASH})
    auth = auth_settings(settings.section("auth"))
    assert auth.users == {"alice": HASH} and auth.api_tokens == {"prometheus": TOKEN_HASH}
    assert auth_settings(load_settings(environ={"STREAMDASH_AUTH__MODE": "none"})
                         .section("auth")).mode == "none"


def test_gunicorn_binds_give_their_hosts():
    """host:port, [v6]:port, unix sockets and descriptors; STREAMDASH_BIND carries them."""
    assert bind_hosts(["0.0.0.0:8000", "[::1]:80", "localhost:1", "unix:/tmp/s", "fd://3"]) \
        == ["0.0.0.0", "[::1]", "localhost", "unix:/tmp/s", "fd://3"]
    assert hosts_from_env({"STREAMDASH_BIND": "127.0.0.1:8050,[::1]:8050"}) \
        == ["127.0.0.1", "[::1]"]
    assert hosts_from_env({}) is None


def test_enforce_logs_the_open_warning_at_every_start(caplog):
    """The explicit ``mode: none`` warning is logged each time the check runs."""
    settings = Settings({"auth": {"mode": "none"}})
    logger = logging.getLogger("test.auth")
    with caplog.at_level(logging.WARNING, logger="test.auth"):
        for _ in range(2):
            assert isinstance(enforce_secure_default(settings, ["0.0.0.0"], logger),
                              AuthSettings)
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2


@pytest.mark.parametrize("section, key", [
    ({"users": ["MySecretPassw0rd"]}, "auth.users"),
    ({"users": {"alice": 123456789}}, "auth.users.alice"),
    ({"oidc": {**OIDC, "client_secret": 123456789}}, "auth.oidc.client_secret"),
    ({"oidc": {**OIDC, "client_secret": ["MySecretPassw0rd"]}}, "auth.oidc.client_secret"),
])
def test_a_secret_of_the_wrong_type_is_not_echoed_either(section, key):
    """A password or client secret that is a list or a number is refused without repeating it."""
    with pytest.raises(ConfigError) as err:
        auth_settings(section)
    assert err.value.key == key
    assert "MySecretPassw0rd" not in str(err.value) and "123456789" not in str(err.value)


def test_an_unknown_auth_key_suggests_the_closest():
    """A misspelt auth key is answered with the closest known one, in auth and in auth.oidc."""
    with pytest.raises(ConfigError, match="did you mean 'users'"):
        auth_settings({"user": {"alice": HASH}})
    with pytest.raises(ConfigError, match="did you mean 'client_id'") as err:
        auth_settings({"oidc": {**OIDC, "client_ld": "x"}})
    assert err.value.key == "auth.oidc.client_ld"
