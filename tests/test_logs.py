"""Tests for streamdash.logs: text and JSON lines with timestamp, level, logger and context;
masked settings and redacted log lines."""

import io
import json
import logging
import re

from streamdash.config import Settings
from streamdash.logs import (
    MASK,
    configure_logging,
    log_event,
    log_settings,
    mask_settings,
    redact,
    secret_values,
)


def test_json_lines_carry_context():
    """JSON format writes one parseable object a line with ts, level, logger, msg and context."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    log = logging.getLogger("streamdash.test")
    log_event(log, logging.INFO, "fetched", source="sim", records=20)
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    first = json.loads(lines[0])
    assert first["level"] == "INFO" and first["logger"] == "streamdash.test"
    assert first["msg"] == "fetched" and first["source"] == "sim" and first["records"] == 20
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert "ValueError: bad" in json.loads(lines[1])["exc"]


def test_text_lines_and_no_duplicate_handlers():
    """Text format has timestamp, level, logger, message and key=value; reconfiguring replaces."""
    stream = io.StringIO()
    configure_logging("INFO", "text", io.StringIO())
    configure_logging("INFO", "text", stream)
    log = logging.getLogger("streamdash.test")
    log_event(log, logging.WARNING, "queue full", depth=5, reason="slow consumer")
    log_event(log, logging.DEBUG, "hidden")
    out = stream.getvalue()
    assert out.count("\n") == 1
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z WARNING streamdash.test queue full depth=5 "
                    r'reason="slow consumer"', out)


TREE = {
    "source": {"type": "http", "url": "https://user:pa55word@127.0.0.1/v1?api_key=K3YVALUE&q=1",
               "headers": {"X-Custom": "HEADERSECRET"}, "token": "TOKENVALUE", "interval": 5},
    "alerts": {"webhook": {"url": "http://127.0.0.1/services/T0/B0/WEBHOOKTOKEN123"}},
    "dashboard": {"key_field": "sensor"},
}


def test_mask_settings_hides_every_kind_of_secret():
    """Secret keys, header values, URL passwords, secret query values, webhook paths: masked."""
    masked = mask_settings(TREE)
    src = masked["source"]
    assert src["url"] == f"https://user:{MASK}@127.0.0.1/v1?api_key={MASK}&q=1"
    assert src["headers"] == {"X-Custom": MASK} and src["token"] == MASK
    assert src["interval"] == 5 and masked["dashboard"]["key_field"] == "sensor"
    assert masked["alerts"]["webhook"]["url"] == f"http://127.0.0.1/{MASK}"
    text = json.dumps(masked)
    for secret in ("pa55word", "K3YVALUE", "HEADERSECRET", "TOKENVALUE", "WEBHOOKTOKEN123"):
        assert secret not in text


def test_secret_values_lists_what_to_redact():
    """The raw secret values are collected (longest first) for the log filter."""
    values = secret_values(TREE)
    for secret in ("pa55word", "K3YVALUE", "HEADERSECRET", "TOKENVALUE", "WEBHOOKTOKEN123"):
        assert secret in values
    assert values == sorted(values, key=len, reverse=True)
    assert "sensor" not in values and redact("x K3YVALUE y", values) == f"x {MASK} y"


def test_log_lines_never_carry_a_configured_secret():
    """Whatever a component logs, the JSON line parses and the configured secrets are blanked."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream, secrets=secret_values(TREE))
    log = logging.getLogger("streamdash.test.secrets")
    log_event(log, logging.WARNING, "fetch failed", url=TREE["source"]["url"],
              reason="401 for key K3YVALUE")
    log_settings(log, Settings({"log": {"level": "DEBUG"}}))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["level"] == "WARNING" and lines[0]["ts"].endswith("Z")
    assert lines[0]["reason"] == f"401 for key {MASK}"
    assert lines[1]["msg"] == "settings" and lines[1]["log"] == "DEBUG text"  # the summary
    assert lines[2]["msg"] == "config loaded" and lines[2]["config"]["log"]["level"] == "DEBUG"
    assert "K3YVALUE" not in stream.getvalue() and "pa55word" not in stream.getvalue()


def test_settings_are_one_summary_line_at_info_and_the_whole_tree_at_debug():
    """At INFO the settings are one short line; the whole (masked) tree only at DEBUG."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    log_settings(logging.getLogger("streamdash.test.summary"),
                 Settings({"source": {"interval": 2}, "data_dir": "d"}))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "config loaded" not in lines[0]
    assert "settings source=simulated interval=2.0 data_dir=d" in lines[0]


def test_log_lines_blank_url_encoded_forms_of_a_secret_too():
    """The log filter is the one Redactor: a secret echoed URL-encoded is blanked as well."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream, secrets=["ab/cd+ef=SECRET"])
    log_event(logging.getLogger("streamdash.test.encoded"), logging.WARNING, "fetch failed",
              url="https://h/x?q=ab%2Fcd%2Bef%3DSECRET", raw="ab/cd+ef=SECRET")
    out = stream.getvalue()
    assert "SECRET" not in out and out.count(MASK) == 2
