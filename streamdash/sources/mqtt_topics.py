"""MQTT topic templates: subscription filters whose levels can name record fields.

``sensors/{sensor}/reading`` subscribes to ``sensors/+/reading`` and gives every record of a
message on ``sensors/kitchen/reading`` the field ``sensor: "kitchen"``. A ``{name}`` fills one
whole level (it is the filter's ``+``); ``+`` matches a level without naming it, ``#`` (the
last level only) matches the rest; ``$share/<group>/…`` (a shared subscription, MQTT 5) keeps
its prefix in the filter and is matched without it. Topic values are text; a field the payload
has too is replaced by the topic's (the topic is what the broker routed on).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub

from ..errors import ConfigError

_NAME = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]{0,63})\}$")
#: MQTT's own limit on a topic (or filter) in bytes.
MAX_TOPIC = 65535


@dataclass(frozen=True)
class TopicTemplate:
    """One ``topic`` setting: the filter to subscribe to and which levels are fields."""

    text: str
    filter: str
    match: str  # the filter without a ``$share/<group>/`` prefix
    fields: tuple[tuple[int, str], ...]  # (level index, field name)

    def values(self, levels: list[str]) -> dict[str, str]:
        """The fields of a topic already split into ``levels``."""
        return {name: levels[i] for i, name in self.fields if i < len(levels)}


def parse_topic(text: str, key: str) -> TopicTemplate:
    """A template from its text; ``ConfigError`` at ``key`` says what is wrong with it."""
    if not text or len(text.encode()) > MAX_TOPIC:
        raise ConfigError(key, f"a topic is 1 to {MAX_TOPIC} bytes, got {text[:80]!r}")
    prefix, rest = "", text
    if text.startswith("$share/"):
        parts = text.split("/", 2)
        if len(parts) < 3 or not parts[1] or not parts[2]:
            raise ConfigError(key, f"expected $share/<group>/<filter>, got {text!r}")
        prefix, rest = f"$share/{parts[1]}/", parts[2]
    levels, fields, names = rest.split("/"), [], set()
    for i, level in enumerate(levels):
        named = _NAME.match(level)
        if named:
            name = named.group(1)
            if name in names:
                raise ConfigError(key, f"field {name!r} appears twice in {text!r}")
            names.add(name)
            fields.append((i, name))
            levels[i] = "+"
        elif level == "#" and i != len(levels) - 1:
            raise ConfigError(key, f"'#' must be the last level, in {text!r}")
        elif level not in ("+", "#") and any(c in level for c in "+#{}"):
            raise ConfigError(key, f"level {level!r} of {text!r}: '+', '#' and '{{name}}' "
                                   f"must fill a whole level")
    match = "/".join(levels)
    return TopicTemplate(text, prefix + match, match, tuple(fields))


class TopicRouter:
    """The fields each incoming topic carries, by the first template whose filter matches."""

    def __init__(self, templates: Iterable[TopicTemplate]):
        self.templates = tuple(templates)
        self.named = any(t.fields for t in self.templates)

    @property
    def filters(self) -> list[str]:
        """What to subscribe to."""
        return [t.filter for t in self.templates]

    def fields(self, topic: str) -> dict[str, str]:
        """The named levels of ``topic`` (``{}`` when no template names any, or none matches)."""
        if not self.named:
            return {}
        levels = topic.split("/")
        if len(self.templates) == 1:  # the broker routed it by this filter: no need to match
            return self.templates[0].values(levels)
        for template in self.templates:
            if topic_matches_sub(template.match, topic):
                return template.values(levels)
        return {}


def parse_topics(value: Iterable[str], key: str) -> TopicRouter:
    """The ``topic`` setting (one template or a list of them)."""
    templates = [parse_topic(text, f"{key}[{i}]" if i else key) for i, text in enumerate(value)]
    if not templates:
        raise ConfigError(key, "at least one topic to subscribe to is required")
    return TopicRouter(templates)
