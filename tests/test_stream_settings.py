"""Tests for streamdash.stream_settings and the 'streams' section of Settings: valid configs,
one-line dotted errors, and hostile configs (10,000 streams, long names, odd characters)."""

import time
from pathlib import Path

import pytest
import yaml

from streamdash.config import Settings, known_keys, load_settings
from streamdash.errors import ConfigError
from streamdash.stream_settings import DEFAULT_STREAM, MAX_STREAM_NAME, STREAM_KEYS

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "two-streams.yaml"
TWO = {"streams": {"quakes": {"source": {"type": "simulated", "interval": 1, "seed": 1}},
                   "prices": {"source": {"type": "simulated", "interval": 2},
                              "buffer": {"capacity": 50},
                              "dashboard": {"value_field": "temperature"}}}}


def error(values):
    with pytest.raises(ConfigError) as info:
        Settings(values)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_config_without_streams_is_the_default_stream_unchanged():
    """No 'streams': one stream, named as the state layer names it, whose settings are the
    settings themselves."""
    s = Settings({"source.interval": 2})
    assert not s.multi and s.stream_names() == [DEFAULT_STREAM] == ["default"]
    assert s.default_stream == "default" and s.for_stream("default") is s
    assert s.get("streams") is None and "streams" not in s.as_dict()
    with pytest.raises(KeyError):
        s.for_stream("other")


def test_each_stream_has_its_own_sections_and_the_first_is_the_default():
    """Streams keep config order; each one's settings carry its own sections (defaults filled
    in) and the global ones; the top-level stream sections read as the default stream's."""
    s = Settings({**TWO, "server": {"port": 9000}, "api": {"max_limit": 500}})
    assert s.multi and s.stream_names() == ["quakes", "prices"] and s.default_stream == "quakes"
    assert s.get("source.interval") == 1.0 and s.get("buffer.capacity") == 10_000
    prices = s.for_stream("prices")
    assert not prices.multi and prices.get("streams") is None
    assert prices.get("source.interval") == 2.0 and prices.get("buffer.capacity") == 50
    assert prices.get("dashboard.value_field") == "temperature"
    assert prices.get("queue.maxsize") == 100  # a section it did not set: the defaults
    assert prices.get("server.port") == 9000 and prices.get("api.max_limit") == 500


def test_each_stream_gets_its_own_history_location():
    """SQLite: a folder per stream under data_dir; PostgreSQL: a schema per stream."""
    s = Settings({**TWO, "data_dir": "/var/lib/sd", "storage": {"schema": "prod"}})
    quakes = s.for_stream("quakes")
    assert quakes.get("data_dir") == str(Path("/var/lib/sd/streams/quakes"))
    assert quakes.get("storage.schema") == "prod_quakes"
    assert Settings(TWO).for_stream("prices").get("data_dir") == ""  # none: memory only
    long_schema = {**TWO, "storage": {"schema": "s" * 60}}
    with pytest.raises(ConfigError, match=r"^streams\.quakes: its PostgreSQL schema .* longer "
                                          "than 63"):
        Settings(long_schema).for_stream("quakes")


def test_flags_and_environment_reach_the_default_stream_and_named_ones(tmp_path):
    """A flag or STREAMDASH_SOURCE__* changes the default (first) stream; STREAMDASH_STREAMS__
    NAME__* any stream; the file's other streams stay as written."""
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(TWO, sort_keys=False))
    env = {"STREAMDASH_SOURCE__INTERVAL": "3", "STREAMDASH_STREAMS__PRICES__BUFFER__CAPACITY": "70"}
    s = load_settings(cfg, environ=env)
    assert s.get("streams.quakes.source.interval") == 3.0 and s.interval == 3.0
    assert s.get("streams.quakes.source.seed") == 1  # the rest of its source kept
    assert s.get("streams.prices.source.interval") == 2.0
    assert s.for_stream("prices").get("buffer.capacity") == 70
    flagged = load_settings(cfg, environ={}, overrides={"source.interval": 4.0})
    assert flagged.for_stream("quakes").get("source.interval") == 4.0


def test_settings_read_back_are_the_same_settings():
    """as_dict() → Settings → as_dict() is stable (the default stream's copy at the top level
    is laid over it again without changing it), and with_overrides changes only its key."""
    s = Settings(TWO)
    assert Settings(s.as_dict()).as_dict() == s.as_dict()
    changed = s.with_overrides({"streams.prices.source.interval": 7})
    assert changed.get("streams.prices.source.interval") == 7.0
    assert changed.get("streams.quakes.source.interval") == 1.0 == changed.interval


@pytest.mark.parametrize(("values", "expected"), [
    ({"streams": {"q": {"source": {"interval": 0}}}},
     "streams.q.source.interval: must be between 0.1 and 3600, got 0"),
    ({"streams": {"q": {"sorce": {}}}},
     "streams.q.sorce: unknown setting in 'streams.q'; did you mean 'source'?"),
    ({"streams": {"q": {"buffer": {"capacty": 3}}}},
     "streams.q.buffer.capacty: unknown setting in 'streams.q.buffer'; did you mean 'capacity'?"),
    ({"streams": {"q": {"queue": {"policy": "drop"}}}},
     "streams.q.queue.policy: must be one of block, drop_oldest"),
    ({"streams": {"q": {"dashboard": {"value_field": [1]}}}},
     "streams.q.dashboard.value_field: expected text"),
    ({"streams": {"q": {"server": {"port": 1}}}},
     "streams.q.server: unknown setting in 'streams.q'"),
    ({"streams": {}}, "streams: declare at least one stream"),
    ({"streams": [1, 2]}, "streams: expected a mapping of stream names"),
    ({"streams": {"q": 3}}, "streams.q: expected a mapping of settings, got 3"),
    ({"max_streams": 0}, "max_streams: must be between 1 and 256, got 0"),
])
def test_a_wrong_stream_setting_is_one_line_naming_its_dotted_key(values, expected):
    """Every mistake inside a stream is a one-line ConfigError at streams.<name>.<key>."""
    assert error(values).startswith(expected)


@pytest.mark.parametrize("name", [
    "Quakes", "1st", "_x", "a-b", "a:b", "a.b", "a b", "../etc", "a/b", "<script>", "ä",
    "x" * (MAX_STREAM_NAME + 1), "", "a\nb", "a%2F",
])
def test_a_stream_name_must_be_a_safe_identifier(name):
    """Names become URLs, Redis keys, folders, schemas and labels: only [a-z][a-z0-9_]{0,31};
    the error quotes a bounded part of the name."""
    message = error({"streams": {name: {}}})
    assert message.startswith("streams: stream name ") and "lower-case letters" in message
    assert len(message) < 200


def test_a_name_that_is_not_text_is_refused():
    """YAML keys may be numbers or null: neither is a stream name."""
    assert error({"streams": {7: {}}}).startswith("streams: stream name '7'")
    assert error({"streams": {None: {}}}).startswith("streams: stream name 'None'")


def test_ten_thousand_streams_are_refused_before_any_is_validated():
    """The count is checked first (max_streams, default 16): 10,000 streams cost a len()."""
    flood = {"streams": {f"s{i}": {"source": {"interval": "bad"}} for i in range(10_000)}}
    started = time.process_time()
    assert error(flood) == "streams: 10000 streams, more than max_streams (16)"
    assert time.process_time() - started < 1.0  # not 10,000 validations
    assert Settings({"max_streams": 20, "streams": {f"s{i}": {} for i in range(20)}}).multi


def test_a_long_name_in_an_error_is_cut():
    """A 100 kB name is not repeated whole in the message."""
    assert len(error({"streams": {"A" * 100_000: {}}})) < 200


def test_streams_keys_are_known_and_the_stream_sections_are_declared_once():
    """'streams' and 'max_streams' are known keys (a typo gets a suggestion); the stream
    sections are the documented ones."""
    assert {"streams", "max_streams"} <= set(known_keys())
    assert set(STREAM_KEYS) == {"source", "schema", "transforms", "alerts", "dashboard", "buffer",
                                "queue", "pipeline"}
    with pytest.raises(ConfigError, match="did you mean 'streams'"):
        Settings({"stream": {}})


def test_the_example_config_has_two_streams():
    """docs/examples/two-streams.yaml declares two streams on the simulator."""
    s = load_settings(EXAMPLE, environ={})
    assert s.stream_names() == ["sensors", "lab"]
    assert {s.for_stream(n).get("source.type") for n in s.stream_names()} == {"simulated"}


def test_each_streams_alerts_carry_its_name_as_a_label():
    """Alerts (webhooks, /api/alerts) say which stream they are about: label stream=NAME,
    unless the stream's own labels set one."""
    s = Settings({"streams": {"a": {}, "b": {"alerts": {"labels": {"stream": "mine", "x": "1"},
                                                        "interval": 2}}}})
    assert s.for_stream("a").get("alerts.labels") == {"stream": "a"}
    assert s.for_stream("b").get("alerts.labels") == {"stream": "mine", "x": "1"}
    assert s.for_stream("b").get("alerts.interval") == 2
    assert Settings().get("alerts") is None  # one stream: as before
