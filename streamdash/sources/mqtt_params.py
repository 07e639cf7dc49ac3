"""The settings of ``source.type: mqtt`` (see docs/sources.md); the common push settings come
from :class:`~.push.PushParams`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..params import Bool, Duration
from .options import NameList, Text, url_of
from .push import PushParams


class MqttParams(PushParams):
    """Settings of ``source.type: mqtt`` (and :class:`~.push.PushParams`)."""

    url: url_of("mqtt", "mqtts") | None = None  # type: ignore[valid-type]
    topic: Annotated[NameList, Field(max_length=64)] = ()
    qos: Annotated[int, Field(ge=0, le=1, strict=True)] = 1
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: Annotated[str, Field(max_length=256)] = ""  # "": streamdash-<source name>
    clean_session: Bool = False
    session_expiry: Annotated[Duration, Field(ge=0, le=4294967295)] = 86400.0
    keepalive: Annotated[Duration, Field(ge=5, le=65535)] = 30.0
    topic_field: Text = ""
    max_topic_bytes: Annotated[int, Field(ge=16, le=65535, strict=True)] = 1024
    # Payload bytes held between paho's thread and the next fetch (messages alone bound nothing
    # when each may be max_payload_bytes): past it, paho's thread stops reading.
    max_buffer_bytes: Annotated[int, Field(ge=1024, le=1 << 34, strict=True)] = 64 * 1024 * 1024
