"""Tests for streamdash.redact: the one decision of what is a secret, for every output."""

from streamdash.logs import mask_settings as logs_mask_settings
from streamdash.quality.notify import mask_url as notify_mask_url
from streamdash.redact import (
    MASK,
    Redactor,
    is_secret_name,
    mask_settings,
    mask_url,
    mask_webhook_url,
    output_redactor,
    secret_values,
)
from streamdash.sources.redact import Redactor as SourceRedactor
from streamdash.sources.redact import is_secret_name as source_is_secret_name

TREE = {
    "source": {"type": "http", "url": "https://127.0.0.1/v1?appid=URLAPPID1&q=1",
               "params": {"appid": "APPIDVALUE", "key": "PARAMKEYVALUE", "city": "Oslo",
                          "station": "STATIONSECRET", "token": "${SD_TOKEN}"},
               "secret_params": ["station"], "headers": {"X-Anything": "HEADERVALUE"}},
    "transforms": [{"dedup": {"key": "sensor_id"}}, {"window": {"key": "sensor_id"}}],
    "schema": {"key": "sensor_id"},
    "auth": {"mode": "none", "token": "BEARERVALUE", "users": {"alice": "scrypt:HASHVALUE"}},
}


def test_one_module_decides_for_logs_and_sources():
    """logs and sources re-export this module's functions: one list of secret names."""
    assert logs_mask_settings is mask_settings
    assert SourceRedactor is Redactor and source_is_secret_name is is_secret_name


def test_appid_and_secret_params_are_masked_in_the_settings():
    """``params: {appid: …}`` (issue #13) and names listed in ``secret_params`` are masked,
    in params and in the URL's query alike; ordinary values stay."""
    src = mask_settings(TREE)["source"]
    assert src["params"]["appid"] == MASK and src["params"]["station"] == MASK
    assert src["params"]["key"] == MASK and src["params"]["city"] == "Oslo"
    assert src["url"] == f"https://127.0.0.1/v1?appid={MASK}&q=1"
    assert src["headers"] == {"X-Anything": MASK}


def test_field_names_called_key_and_auth_modes_are_not_secrets():
    """``key: sensor_id`` in schema/dedup/window and ``auth.mode`` stay readable and never
    become values blanked everywhere; ``auth.token`` and the user's hash are secrets."""
    masked = mask_settings(TREE)
    assert masked["schema"]["key"] == "sensor_id"
    assert masked["transforms"][0]["dedup"]["key"] == "sensor_id"
    assert masked["auth"] == {"mode": "none", "token": MASK, "users": {"alice": MASK}}
    values = secret_values(TREE, environ={})
    assert "sensor_id" not in values and "none" not in values and "BEARERVALUE" in values
    assert "scrypt:HASHVALUE" in values and "alice" not in values


def test_env_references_are_expanded_into_secret_values():
    """A secret given as ``${NAME}`` is blanked by its real value, which the source sends."""
    values = secret_values(TREE, environ={"SD_TOKEN": "REALTOKENVALUE"})
    assert "REALTOKENVALUE" in values
    for v in ("URLAPPID1", "APPIDVALUE", "PARAMKEYVALUE", "STATIONSECRET", "HEADERVALUE"):
        assert v in values
    assert values == sorted(values, key=len, reverse=True)


def test_unparseable_urls_are_masked_not_crashed_on():
    """'http://[::1' (a bad IPv6 URL) does not raise; a password in one is still masked."""
    assert mask_settings({"source": {"url": "http://[::1"}})["source"]["url"] == "http://[::1"
    assert mask_url("http://u:PASSWORD9@[::1/x") == f"http://u:{MASK}@[::1/x"
    assert "PASSWORD9" in secret_values({"source": {"url": "http://u:PASSWORD9@[::1/x"}})
    assert mask_url("http://u:PW12345@[::1]:8080/x?sig=S1") == \
        f"http://u:{MASK}@[::1]:8080/x?sig={MASK}"


def test_output_redactor_adds_what_the_source_knows():
    """The app's redactor blanks the settings' secrets and the source's own (as sent)."""

    class Source:
        redactor = Redactor(["SENT-HEADER-VALUE"])

    r = output_redactor({"source": {"params": {"appid": "APPIDVALUE"}}}, Source(), environ={})
    assert r.text("a APPIDVALUE b SENT-HEADER-VALUE") == f"a {MASK} b {MASK}"
    assert not output_redactor({}, None, environ={})


def test_webhook_urls_look_the_same_in_the_settings_and_the_notifier():
    """A webhook URL is masked by one function, whether shown in the settings or by the
    notifier: scheme, host and port stay; credentials, path and query values do not."""
    url = "https://user:PW123456@hooks.example:8443/services/T0/B0/PATHTOKEN1?code=QUERYTOKEN1"
    shown = "https://***@hooks.example:8443/***?code=***"
    assert notify_mask_url is mask_webhook_url and mask_webhook_url(url) == shown
    assert mask_settings({"alerts": {"webhook": {"urls": [url]}}})["alerts"]["webhook"] == \
        {"urls": [shown]}
    assert mask_url(url, whole_path=True) == shown


def test_a_webhook_query_token_is_blanked_everywhere_but_short_values_are_not():
    """A long query value of a webhook URL (a token under any name) is a secret value; a short
    one (``format=json``) is not, so it cannot blank ordinary words."""
    values = secret_values({"alerts": {"webhook": {"urls": [
        "https://hooks.example/x?code=QUERYTOKEN1&format=json"]}}}, environ={})
    assert "QUERYTOKEN1" in values and "json" not in values
