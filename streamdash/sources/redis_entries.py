"""The ``redis-stream`` source's wire side: stream entries → records, and commands as RESP.

An entry is ``[id, [field, value, field, value, …]]`` (raw bytes, see :mod:`.resp`). With
``payload_field`` set, that field's value is the record as JSON (through the shared payload
decoder, so ``records_path``, ``fields`` and ``scalar_field`` work as for MQTT); without, the
field/value pairs are the record, values as text (``fields`` casts them: ``value:float``).
``id_field`` adds the entry id to every record: the key dedup needs so that an entry
delivered again (after a crash or a claim) counts once.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..pipeline.jsonl import Unparsed
from .push import PayloadDecoder, PushParams, Refusals
from .resp import TooLarge


def packed(args: tuple[Any, ...]) -> bytes:
    """One command in RESP (redis-py's encoder costs ~4 µs per argument: an ``XACK`` of 1,000
    ids took 4 ms)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class EntryReader:
    """Turns stream entries into records, refusing (and counting) the ones it cannot keep."""

    def __init__(self, params: PushParams, refusals: Refusals, payload_field: str = "",
                 id_field: str = ""):
        self.limit = params.max_payload_bytes
        self.decoder = PayloadDecoder(params.records_path, params.fields, params.scalar_field)
        self.refusals = refusals
        self.field = payload_field.encode()
        self.id_field = id_field
        # Nothing to map: a payload that is a JSON object is the record as it is (the common
        # case, taken without the decoder's general path). Without an id to add, it goes to
        # the pipeline undecoded (PayloadDecoder.decode says why).
        self.plain = bool(self.field) and self.decoder.passthrough
        self.raw = self.plain and not id_field

    def records(self, entries: list[Any], now: float) -> tuple[list[Any], list[bytes]]:
        """The records of ``entries`` and every entry id (refused entries' too: they are done
        with and must be acknowledged)."""
        limit, field, id_field, out = self.limit, self.field, self.id_field, []
        decode, mapper, plain, loads = self.decoder.decode, self.decoder.mapper, self.plain, \
            orjson.loads
        raw, fast_limit = self.raw, limit - len(field)
        for entry_id, pairs in entries:
            if plain and pairs is not None and len(pairs) == 2 and pairs[0] == field:
                payload = pairs[1]
                if type(payload) is bytes and len(payload) <= fast_limit:
                    if raw and payload[:1] == b"{":
                        out.append(payload)
                        continue
                    try:
                        doc = loads(payload)
                    except orjson.JSONDecodeError:
                        doc = None
                    if type(doc) is dict:
                        if id_field:
                            doc[id_field] = entry_id.decode()
                        out.append(doc)
                        continue
            if pairs is None:  # deleted from the stream while pending: nothing to store
                self.refusals.add("deleted", f"entry {entry_id.decode()} was deleted")
                continue
            if sum(len(v) if type(v) is bytes else limit + 1 for v in pairs) > limit:
                self.refusals.add("too_large", f"entry {entry_id.decode()} of {size(pairs)} "
                                               f"bytes exceeds max_payload_bytes ({limit})")
                continue
            extra = {id_field: entry_id.decode()} if id_field else None
            if field:
                payload = next((pairs[i + 1] for i in range(0, len(pairs), 2)
                                if pairs[i] == field), None)
                if payload is None:
                    out.append(Unparsed(excerpt(pairs), f"no field {field.decode()!r}"))
                else:
                    out += decode(payload, extra, now)
                continue
            rec = {pairs[i].decode("utf-8", "replace"): pairs[i + 1].decode("utf-8", "replace")
                   for i in range(0, len(pairs), 2)}
            if extra:
                rec.update(extra)
            out += mapper.map([rec], rec, now)
        return out, [entry[0] for entry in entries]


def size(pairs: list[Any]) -> int:
    """Bytes of an entry's names and values (a skipped value counts its announced size)."""
    return sum(v.size if isinstance(v, TooLarge) else len(v) for v in pairs)


def excerpt(pairs: list[Any]) -> str:
    """An entry's fields as one short text, for the quarantine."""
    return " ".join(f"{k.decode('utf-8', 'replace')}={v[:40].decode('utf-8', 'replace')!r}"
                    for k, v in zip(pairs[::2], pairs[1::2], strict=False))[:200]
