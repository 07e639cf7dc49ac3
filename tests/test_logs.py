"""Tests for streamdash.logs: text and JSON lines with timestamp, level, logger and context."""

import io
import json
import logging
import re

from streamdash.logs import configure_logging, log_event


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
