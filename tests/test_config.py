"""Tests for streamdash.config: layering, casting and every ConfigError path."""

import pytest

from streamdash.config import Settings, load_settings, read_yaml
from streamdash.errors import ConfigError


def write(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults():
    """Without any layer the documented defaults apply."""
    s = load_settings(environ={})
    assert s.interval == 5.0
    assert s.get("queue.maxsize") == 100 and s.get("queue.policy") == "block"
    assert s.get("buffer.capacity") == 10_000
    assert s.get("source.type") == "simulated"
    assert s.get("server.port") == 8050 and s.get("server.host") == "127.0.0.1"


def test_precedence_file_env_flags(tmp_path):
    """defaults < YAML < STREAMDASH_* env < CLI overrides, key by key."""
    cfg = write(tmp_path, "source:\n  interval: 2\nqueue:\n  maxsize: 7\nlog:\n  level: debug\n")
    env = {"STREAMDASH_SOURCE__INTERVAL": "3", "STREAMDASH_LOG__FORMAT": "json"}
    s = load_settings(cfg, environ=env, overrides={"source.interval": 4.0, "server.port": None})
    assert s.interval == 4.0            # flag beats env and file
    assert s.get("log.format") == "json"  # env beats default
    assert s.get("queue.maxsize") == 7     # file beats default
    assert s.get("log.level") == "DEBUG"   # cast to upper case
    assert s.get("server.port") == 8050    # an unset flag masks nothing
    assert load_settings(cfg, environ=env).interval == 3.0  # env beats file


def test_port_env_and_config_env(tmp_path):
    """PORT sets server.port; STREAMDASH_CONFIG names the file when no --config is given."""
    cfg = write(tmp_path, "server:\n  host: 0.0.0.0\n")
    s = load_settings(environ={"PORT": "5001", "STREAMDASH_CONFIG": str(cfg)})
    assert s.get("server.port") == 5001 and s.get("server.host") == "0.0.0.0"
    assert load_settings(environ={"PORT": "5001", "STREAMDASH_SERVER__PORT": "6000"}).get(
        "server.port") == 6000


def test_open_sections_keep_unknown_keys():
    """Keys of open sections reach the component that owns them."""
    s = Settings({"source": {"type": "simulated", "seed": 7}, "schema": {"fields": {}}})
    assert s.section("source")["seed"] == 7
    assert s.get("schema.fields") == {}
    assert s.get("schema.nothing", "d") == "d" and s.get("source.url") is None


@pytest.mark.parametrize("key, named, suggestion", [
    ("queue.maxsze", "queue.maxsze", "maxsize"),
    ("nope.nothing", "nope.nothing", None),
    ("sever.port", "sever.port", "server"),
    ("queue.maxsize.x", "queue.maxsize.x", None),
])
def test_get_refuses_a_key_no_section_declares(key, named, suggestion):
    """Settings.get() raises ConfigError naming an undeclared key (with the closest known one)
    instead of returning None, so a typo in code never reads as an unset setting."""
    with pytest.raises(ConfigError) as err:
        Settings().get(key)
    assert err.value.key == named
    if suggestion:
        assert f"did you mean '{suggestion}'?" in str(err.value)


def test_typed_access_follows_the_same_layers():
    """settings.model gives each closed section typed, with the value every layer agreed on."""
    s = load_settings(environ={"STREAMDASH_QUEUE__MAXSIZE": "12", "STREAMDASH_LOG__LEVEL": "debug"})
    assert s.model.queue.maxsize == 12 and s.model.log.level == "DEBUG"
    assert s.model.queue.maxsize == s.get("queue.maxsize") and s.model.server.port == 8050


def test_with_overrides_and_as_dict_are_copies():
    """Settings are immutable: overrides make a new object, reads are copies."""
    s = Settings()
    t = s.with_overrides({"source.interval": 1})
    assert s.interval == 5.0 and t.interval == 1.0
    d = s.as_dict()
    d["source"]["interval"] = 99
    assert s.interval == 5.0
    assert "Settings(" in repr(s)


@pytest.mark.parametrize("values, key, words", [
    ({"source.interval": 0}, "source.interval", "between 0.1 and 3600"),
    ({"source.interval": 4000}, "source.interval", "between"),
    ({"source.interval": "fast"}, "source.interval", "expected a number"),
    ({"source.interval": True}, "source.interval", "expected a number"),
    ({"queue.maxsize": 1.5}, "queue.maxsize", "integer"),
    ({"queue.maxsize": 0}, "queue.maxsize", "between"),
    ({"queue.policy": "random"}, "queue.policy", "block, drop_oldest"),
    ({"log.format": "xml"}, "log.format", "text, json"),
    ({"log.level": "loud"}, "log.level", "one of"),
    ({"server.port": 70000}, "server.port", "between"),
    ({"server.host": ["a"]}, "server.host", "expected text"),
    ({"queue.size": 3}, "queue.size", "unknown setting"),
    ({"colour": "red"}, "colour", "unknown setting"),
    ({"queue": 3}, "queue", "mapping"),
    ({"pipeline.required": 5}, "pipeline.required", "list of field names"),
])
def test_bad_values_name_the_key(values, key, words):
    """Every bad value or unknown key raises ConfigError naming the key and the problem."""
    with pytest.raises(ConfigError) as err:
        Settings(values)
    assert err.value.key == key
    assert words in str(err.value) and key in str(err.value)


def test_field_list_accepts_comma_text():
    """pipeline.required accepts a comma-separated string (handy in env vars)."""
    assert Settings({"pipeline.required": "a, b"}).get("pipeline.required") == ["a", "b"]


def test_unknown_env_variable_is_named():
    """A STREAMDASH_* variable that matches no setting names the variable."""
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"STREAMDASH_INTERVALL": "3"})
    assert err.value.key == "STREAMDASH_INTERVALL"


def test_env_values_are_typed():
    """Env values are parsed as YAML scalars, then validated like any other."""
    with pytest.raises(ConfigError, match="queue.maxsize"):
        load_settings(environ={"STREAMDASH_QUEUE__MAXSIZE": "many"})
    assert load_settings(environ={"STREAMDASH_QUEUE__MAXSIZE": "12"}).get("queue.maxsize") == 12


@pytest.mark.parametrize("text, words", [
    ("source: [unclosed\n", "not valid YAML at line"),
    ("- a\n- b\n", "must hold a mapping"),
])
def test_bad_yaml_files(tmp_path, text, words):
    """Broken YAML or a non-mapping document is a ConfigError with the file and line."""
    with pytest.raises(ConfigError, match=words):
        read_yaml(write(tmp_path, text))


def test_missing_and_empty_files(tmp_path):
    """A missing file is a ConfigError; an empty one means no settings."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml", environ={})
    assert load_settings(write(tmp_path, ""), environ={}).interval == 5.0


@pytest.mark.parametrize("values, key, suggestion, known", [
    ({"server": {"prot": 1}}, "server.prot", "port", ["host", "port"]),
    ({"sever": {}}, "sever", "server", ["buffer", "data_dir", "log", "queue", "server"]),
    ({"log": {"levle": "INFO"}}, "log.levle", "level", ["format", "level", "summary_interval"]),
])
def test_unknown_setting_suggests_the_closest_key_and_lists_every_known_key(values, key,
                                                                            suggestion, known):
    """A misspelt key is answered with the closest known key and the whole list of known keys."""
    with pytest.raises(ConfigError) as exc:
        Settings(values)
    message = str(exc.value)
    assert exc.value.key == key and f"did you mean '{suggestion}'?" in message
    listed = message.split("(known: ", 1)[1].rstrip(")").split(", ")
    assert set(known) <= set(listed)


def test_unknown_env_variable_suggests_the_closest_setting():
    """A misspelt STREAMDASH_* variable names the closest dotted setting."""
    with pytest.raises(ConfigError) as exc:
        load_settings(environ={"STREAMDASH_SOURCE_INTERVAL": "2"})
    assert "did you mean 'source.interval'?" in str(exc.value)
    assert "server.port" in str(exc.value)  # every known key is listed


def test_unknown_setting_without_a_close_key_lists_the_known_ones():
    """Nothing close: no guess, only the list."""
    with pytest.raises(ConfigError) as exc:
        Settings({"server": {"zzzzzz": 1}})
    message = str(exc.value)
    assert "did you mean" not in message
    assert "known: backlog, client_timeout, host, keepalive, max_connections, " \
        "max_request_bytes, port" in message
