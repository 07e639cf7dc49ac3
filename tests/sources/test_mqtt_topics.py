"""MQTT topic templates: the filter subscribed to, the fields read from a topic, the checks."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.sources.mqtt_topics import parse_topic, parse_topics


def test_named_levels_become_a_filter_and_fields():
    """{name} levels subscribe as '+' and name the topic's level in every record."""
    router = parse_topics(["sensors/{sensor}/reading"], "source.topic")
    assert router.filters == ["sensors/+/reading"]
    assert router.fields("sensors/kitchen/reading") == {"sensor": "kitchen"}


def test_zigbee2mqtt_and_tasmota_shapes():
    """Several templates: the first whose filter matches the topic names its fields."""
    router = parse_topics(["zigbee2mqtt/{device}", "tele/{device}/{kind}", "home/+/{room}/#"],
                          "source.topic")
    assert router.filters == ["zigbee2mqtt/+", "tele/+/+", "home/+/+/#"]
    assert router.fields("zigbee2mqtt/hallway_sensor") == {"device": "hallway_sensor"}
    assert router.fields("tele/plug-1/SENSOR") == {"device": "plug-1", "kind": "SENSOR"}
    assert router.fields("home/x/attic/t/1") == {"room": "attic"}
    assert router.fields("elsewhere/a") == {}


def test_unnamed_filters_add_nothing():
    """Without {name} levels no topic is split at all."""
    router = parse_topics(["a/+/#"], "source.topic")
    assert not router.named and router.fields("a/b/c") == {}


def test_shared_subscription_prefix_stays_in_the_filter_only():
    """$share/<group>/ is subscribed as given and matched without the prefix."""
    t = parse_topic("$share/dash/sensors/{id}", "source.topic")
    assert t.filter == "$share/dash/sensors/+" and t.match == "sensors/+"
    assert parse_topics([t.text], "k").fields("sensors/7") == {"id": "7"}


@pytest.mark.parametrize(("text", "problem"), [
    ("", "1 to 65535 bytes"), ("a/#/b", "must be the last level"),
    ("a/b+/c", "whole level"), ("a/{x}{y}", "whole level"), ("a/{x}/{x}", "appears twice"),
    ("$share/g", "expected $share"), ("a" * 70000, "1 to 65535 bytes"),
    ("a/{1x}", "whole level")])
def test_bad_templates_are_config_errors(text, problem):
    """Each malformed template is refused at start-up, naming the key and the problem."""
    with pytest.raises(ConfigError, match=problem.replace("$", r"\$")) as err:
        parse_topics(["ok/topic", text], "source.topic")
    assert err.value.key == "source.topic[1]"
    with pytest.raises(ConfigError, match="at least one topic"):
        parse_topics([], "source.topic")
