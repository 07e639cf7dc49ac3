"""The state store's layout in Redis: one set of keys per stream, and the one JSON codec.

Per stream ``S`` under the prefix ``P`` (``state.key_prefix``)::

    P:S:meta         hash    epoch (changes when the store lost this stream), info (StreamInfo)
    P:S:pulse        hash    what changes at every write: the newest id of each channel,
                             metrics, health, freshness facts, the quality monitor's state
    P:S:alive        string  the writing worker's id; expires heartbeat_ttl after its last write
    P:S:keyed        string  the pipeline's keyed state (dedup keys, watermarks, open windows)
                             as JSON, {"v": 1, "pipeline": {"v": 1, "rules": {"<i>:<rule>":
                             {"v", "state"}}}}, or {"v": 1, "refused": why} when it was over
                             state.max_keyed_bytes; written in the same MULTI/EXEC as the
                             pulse's counters, read (with them) only by a worker taking the
                             stream over (state/keyed.py)
    P:S:records      stream  live records, in groups: an entry is a JSON array of
                             consecutive records, its id the last one's sequence number;
                             capped by XADD … MINID ~ (the newest buffer.capacity records)
    P:S:quarantine   stream  rejected records    } capped: XADD … MAXLEN ~ cap, with
    P:S:late         stream  late records        }   explicit ids "<n>-0": n is the item's
    P:S:windows      stream  closed windows      }   number in its channel (for records,
    P:S:errors       stream  ingestion errors    }   a sequence number), the same in every
    P:S:transitions  stream  alert transitions   }   process, so an id is a cursor and a
    P:S:quality      stream  quality evaluations }   writer that reconnects knows exactly
    P:S:snapshots    stream  metrics snapshots   }   what was written

Every value is JSON (orjson), never a pickle: a web process decodes data, it never executes it.
:func:`decode` is defensive — an entry too large (``state.max_entry_bytes``), not JSON, or not
of the expected type is refused with ``ValueError`` and the reader skips and counts it — because
whoever can write to Redis must not be able to break a web process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

#: Capped streams of one stream's state, in write order (``records`` is the ring buffer's).
CHANNELS = ("records", "quarantine", "late", "windows", "errors", "transitions", "quality",
            "snapshots")
#: The field holding the JSON of a stream entry.
FIELD = b"d"


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one stream (see the module docstring)."""

    prefix: str
    stream: str

    def key(self, part: str) -> str:
        return f"{self.prefix}:{self.stream}:{part}"

    @property
    def meta(self) -> str:
        return self.key("meta")

    @property
    def pulse(self) -> str:
        return self.key("pulse")

    @property
    def alive(self) -> str:
        return self.key("alive")

    @property
    def keyed(self) -> str:
        return self.key("keyed")

    def channel(self, name: str) -> str:
        """The capped Redis stream of channel ``name`` (one of :data:`CHANNELS`)."""
        return self.key(name)

    def all(self) -> list[str]:
        """Every key of the stream."""
        return [self.meta, self.pulse, self.alive, self.keyed,
                *(self.channel(c) for c in CHANNELS)]


def encode(value: Any) -> bytes:
    """``value`` as JSON bytes: datetimes as ISO-8601, NaN as null, anything odd as its text."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def decode(raw: Any, max_bytes: int, kind: type | tuple[type, ...] = dict, *,
           bound: str = "state.max_entry_bytes") -> Any:
    """JSON ``raw`` (bytes) decoded and of type ``kind``; ``ValueError`` saying why not
    (``bound`` names the setting ``max_bytes`` comes from)."""
    if not isinstance(raw, (bytes, str)):
        raise ValueError("not a JSON text")
    if len(raw) > max_bytes:
        raise ValueError(f"entry of {len(raw)} bytes ({bound}: {max_bytes})")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise ValueError(f"expected {getattr(kind, '__name__', 'a value')}, got "
                         f"{type(value).__name__}")
    return value


def entry_id(n: int) -> str:
    """The explicit stream id of the ``n``-th item of a channel."""
    return f"{n}-0"


def entry_number(raw_id: Any) -> int:
    """The item number of a stream id (``b"12-0"`` → 12); ``ValueError`` for another shape."""
    text_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
    ms, _, seq = text_id.partition("-")
    if not ms.isdigit() or seq != "0":
        raise ValueError(f"unexpected stream id {text_id[:40]!r}")
    return int(ms)


def text(raw: Any) -> str:
    """A short text from a Redis reply (bytes decoded, at most 200 characters)."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")[:200]
    return "" if raw is None else str(raw)[:200]


def number(value: Any, default: Any = None) -> Any:
    """``value`` when it is a number (not a bool), else ``default``; ``ValueError`` when no
    default is given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if default is None:
            raise ValueError("expected a number")
        return default
    return value
