"""Secrets are masked in text and URLs."""

from __future__ import annotations

from streamdash.sources.redact import Redactor, is_secret_name


def test_known_secret_values_are_masked_in_any_text_and_encoding():
    """A secret is masked raw, URL-encoded, and (for 'Bearer x') as the bare token."""
    r = Redactor(["Bearer abc/def+123456", "k3y-value"])
    text = "auth abc/def+123456 or abc%2Fdef%2B123456 and k3y-value; Bearer abc/def+123456"
    out = r.text(text)
    assert "abc/def+123456" not in out and "abc%2Fdef%2B123456" not in out
    assert "k3y-value" not in out and out.count("***") == 4


def test_short_values_are_not_treated_as_secrets():
    """Values under 4 characters would mask innocent text, so they are ignored."""
    assert Redactor(["ab", ""]).text("abc") == "abc"


def test_urls_lose_passwords_and_secret_query_values():
    """Passwords in the URL and secret-looking query parameters are masked; others stay."""
    r = Redactor(secret_params=["sessionid"])
    url = "https://user:pw@api.example/x?api_key=K1&city=Oslo&access_token=T&sessionid=S"
    assert r.url(url) == ("https://user:***@api.example/x?api_key=***&city=Oslo"
                          "&access_token=***&sessionid=***")
    assert r.url("http://host/p") == "http://host/p"


def test_secret_names():
    """Common key/token parameter names are recognised, ordinary ones are not."""
    for name in ("key", "apikey", "api_key", "X-Api-Key", "token", "client_secret", "sig",
                 "appid", "password"):
        assert is_secret_name(name), name
    for name in ("city", "keyword", "limit", "monkey_count"):
        assert not is_secret_name(name), name
