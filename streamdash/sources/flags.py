"""Command-line flags that describe the source (``streamdash run --source http --url …``).

They map onto the ``source`` settings section and so override the YAML file and environment:
``--url`` → ``source.url``, ``--records-path`` → ``source.records_path``, each
``--field NAME=PATH[:TYPE]`` → ``source.fields.NAME``, each ``--param KEY=VALUE`` →
``source.params.KEY``, each ``--header 'NAME: VALUE'`` → ``source.headers.NAME``,
``--no-conditional`` → ``source.conditional: false``, for file replay ``--file``,
``--rate``, ``--speed``, ``--time-field``, ``--loop``, and for the push sources each
``--topic`` → ``source.topic`` (a list), ``--qos``, ``--stream``, ``--group``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError

#: Scalar flag (argparse dest) → dotted settings key.
SCALAR_FLAGS = {"url": "source.url", "records_path": "source.records_path",
                "file": "source.path", "rate": "source.rate", "speed": "source.speed",
                "time_field": "source.time_field", "loop": "source.loop",
                "conditional": "source.conditional", "qos": "source.qos",
                "stream": "source.stream", "group": "source.group"}


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the source flags to ``streamdash run``."""
    g = parser.add_argument_group(
        "source", "Describe the source on the command line (see docs/sources.md). Presets: "
                  "usgs-earthquakes, open-meteo, coinbase-spot; kinds: http, sse, replay, "
                  "mqtt, redis-stream.")
    g.add_argument("--url", metavar="URL",
                   help="http/sse: the URL to poll or stream; mqtt: mqtt[s]://host[:port]; "
                        "redis-stream: redis[s]://host[:port][/db]")
    g.add_argument("--records-path", metavar="PATH",
                   help="http/sse: dotted path to the list of records (or to one record)")
    g.add_argument("--field", action="append", metavar="NAME=PATH[:TYPE]", default=None,
                   help="map a record field from a dotted path, with an optional type "
                        "(str, int, float, bool, timestamp, timestamp_s, timestamp_ms); repeat")
    g.add_argument("--param", action="append", metavar="KEY=VALUE", default=None,
                   help="http/sse: a query parameter; repeat")
    g.add_argument("--header", action="append", metavar="'NAME: VALUE'", default=None,
                   help="http/sse: a request header (never shown; ${VAR} reads the "
                        "environment); repeat")
    g.add_argument("--no-conditional", dest="conditional", action="store_false", default=None,
                   help="http: never send If-None-Match / If-Modified-Since (for feeds whose "
                        "ETag or Last-Modified misbehave; YAML: source.conditional: false)")
    g.add_argument("--file", metavar="PATH", help="replay: a .jsonl or .csv file")
    g.add_argument("--rate", type=float, metavar="N", help="replay: records per second")
    g.add_argument("--speed", type=float, metavar="X",
                   help="replay: play at X times the records' own event times")
    g.add_argument("--time-field", metavar="NAME", help="replay: the event-time field (--speed)")
    g.add_argument("--loop", action="store_true", default=None,
                   help="replay: start the file over at its end")
    g.add_argument("--topic", action="append", metavar="FILTER", default=None,
                   help="mqtt: a topic filter to subscribe to; {name} levels become fields "
                        "('sensors/{sensor}/reading'); repeat")
    g.add_argument("--qos", type=int, choices=(0, 1), help="mqtt: QoS of the subscription "
                                                          "(1: at least once, the default)")
    g.add_argument("--stream", metavar="KEY", help="redis-stream: the stream's key")
    g.add_argument("--group", metavar="NAME",
                   help="redis-stream: the consumer group (default streamdash)")


def _pairs(flag: str, items: list[str] | None, seps: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        cut = min((i for i in (item.find(s) for s in seps) if i > 0), default=-1)
        if cut < 0:
            raise ConfigError(flag, f"expected NAME{seps[0]}VALUE, got {item!r}")
        out[item[:cut].strip()] = item[cut + 1:].strip()
    return out


def source_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the source flags set (dotted keys; flags not given are left out)."""
    out: dict[str, Any] = {}
    for dest, key in SCALAR_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[key] = value
    if getattr(args, "topic", None):
        out["source.topic"] = list(args.topic)
    fields = _pairs("--field", getattr(args, "field", None), "=")
    params = _pairs("--param", getattr(args, "param", None), "=")
    headers = _pairs("--header", getattr(args, "header", None), ":=")
    for key, mapping in (("source.fields", fields), ("source.params", params),
                         ("source.headers", headers)):
        if mapping:
            out[key] = mapping
    return out
