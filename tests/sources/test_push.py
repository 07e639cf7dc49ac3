"""What the push sources share: payload decoding through the field mapping, refusal reports,
TLS files, and the bounds of the common settings."""

from __future__ import annotations

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.models import Batch
from streamdash.pipeline import build_processor
from streamdash.pipeline.jsonl import Unparsed, decode_line
from streamdash.sources.base import FieldHints, parse_source
from streamdash.sources.fields import parse_fields
from streamdash.sources.ingest_log import IngestLog
from streamdash.sources.push import PayloadDecoder, PushParams, Refusals, tls_context

NOW = 1_700_000_000.0


def test_json_object_payload_with_extra_fields():
    """An object is one record; extra fields (topic levels, entry id) are added to it."""
    records = PayloadDecoder().decode(b'{"t": 21.5, "sensor": "x"}', {"sensor": "k"}, NOW)
    assert records == [{"t": 21.5, "sensor": "k"}]


def test_list_payload_and_the_field_map():
    """A list is a record per object, through records_path and the http source's fields."""
    decoder = PayloadDecoder("data", parse_fields("fields", {"temp": "t:float",
                                                             "at": "ts:timestamp_ms"}))
    payload = b'{"data": [{"t": "21.5", "ts": 1700000000000}, {"t": 3}]}'
    assert decoder.decode(payload, None, NOW) == [
        {"temp": 21.5, "at": "2023-11-14T22:13:20.000Z"}, {"temp": 3.0}]


def test_payloads_that_are_not_records_reach_the_quarantine_whole():
    """Not JSON, or a wrong records_path: an Unparsed record with the text (quarantined as
    rule json); a bare JSON value stays a value (rejected as rule object)."""
    broken = PayloadDecoder().decode(b"ON", None, NOW)
    assert isinstance(broken[0], Unparsed) and broken[0].text == "ON"
    missing = PayloadDecoder("data").decode(b'{"other": 1}', None, NOW)
    assert isinstance(missing[0], Unparsed) and "records_path" in missing[0].error
    assert PayloadDecoder().decode(b"21.5", {"sensor": "k"}, NOW) == [21.5]


def test_objects_with_nothing_to_map_go_to_the_pipeline_undecoded():
    """With no mapping and nothing to add, a payload opening a JSON object is handed on as
    it is (the pipeline's typed decoder decodes it in C); arrays, bare values and payloads
    with extra fields still take the general path."""
    decoder = PayloadDecoder()
    assert decoder.decode(b'{"t": 1}', None, NOW) == [b'{"t": 1}']
    assert decoder.decode(b'{"t": 1}', {"sensor": "k"}, NOW) == [{"t": 1, "sensor": "k"}]
    assert decoder.decode(b'[{"t": 1}, {"t": 2}]', None, NOW) == [{"t": 1}, {"t": 2}]
    assert decoder.decode(b" {\"t\": 1}", None, NOW) == [{"t": 1}]
    assert PayloadDecoder("data").decode(b'{"data": [{"t": 1}]}', None, NOW) == [{"t": 1}]


@pytest.mark.parametrize("typed", [True, False])
def test_raw_objects_and_decoded_records_in_one_batch_are_judged_as_decoded(typed):
    """A push source's batch mixes raw objects with what it decoded itself (a list payload's
    records, an Unparsed), in any order: the outcome is that of the same batch decoded, with
    orjson's message for a broken object, whichever comes first."""
    settings = Settings({"schema": {"fields": {"t": {"type": "float"}}}})
    payloads = [b'{"t": 1}', b'[{"t": 2}, {"t": "x"}]', b'{"t": "y"}', b"{broken", b"ON"]
    decoder = PayloadDecoder()
    mixed = [r for p in payloads for r in decoder.decode(p, None, NOW)]
    assert {type(r) for r in mixed} == {bytes, dict, Unparsed}
    decoded = [decode_line(r) for r in mixed]
    for batch in (mixed, mixed[1:] + mixed[:1]):
        expected = decoded if batch is mixed else decoded[1:] + decoded[:1]
        got = build_processor(settings, FieldHints(), typed=typed).process(
            batch, Batch(batch, NOW, "s"))
        ref = build_processor(settings, FieldHints(), typed=typed).process(
            expected, Batch(expected, NOW, "s"))
        assert got.accepted == ref.accepted and len(got.accepted) == 2
        assert [(str(x.record), x.reasons) for x in got.rejected] == \
            [(str(x.record), x.reasons) for x in ref.rejected]
        assert got.counts == ref.counts


def test_scalar_field_wraps_bare_values():
    """With scalar_field, a bare value (JSON or plain text, as Tasmota sends) is a record."""
    decoder = PayloadDecoder(scalar_field="state")
    assert decoder.decode(b"21.5", {"dev": "plug"}, NOW) == [{"state": 21.5, "dev": "plug"}]
    assert decoder.decode(b" ON ", None, NOW) == [{"state": "ON"}]
    assert decoder.decode(b'{"state": "OFF"}', None, NOW) == [{"state": "OFF"}]


def test_refusals_are_reported_once_per_kind_and_flush():
    """A flood of refused messages is one ingestion error per kind per fetch, with the
    count and the first example; totals are kept."""
    refusals, log, events = Refusals(), IngestLog("s"), []
    log.add_listener(events.append)
    for i in range(1000):
        refusals.add("too_large", f"message {i} of 999999 bytes")
    refusals.add("deleted", "entry 1-0 was deleted")
    refusals.flush(log, "mqtt://h")
    refusals.flush(log, "mqtt://h")  # nothing new: nothing reported
    assert log.total == 2 and log.by_kind == {"too_large": 1, "deleted": 1}
    assert events[0]["reason"].startswith("1000 message(s) refused: message 0 of 999999")
    assert log.last["reason"] == "1 message(s) refused: entry 1-0 was deleted"
    assert log.snapshot()["by_kind"]["too_large"] == 1
    assert refusals.snapshot() == {"too_large": 1000, "deleted": 1}


@pytest.mark.parametrize(("key", "value"), [
    ("batch_size", 0), ("batch_size", 100_001), ("batch_time", "0s"), ("batch_time", "2m"),
    ("max_in_flight", 0), ("max_payload_bytes", 10), ("max_payload_bytes", 2**30),
    ("connect_timeout", 0), ("backoff_max", -1), ("tls", "yes"), ("fields", 3)])
def test_each_bound_of_the_common_settings(key, value):
    """A value outside its bound is a ConfigError naming source.<key>."""
    with pytest.raises(ConfigError) as err:
        parse_source(PushParams, {key: value})
    assert err.value.key.startswith(f"source.{key}")


def test_password_reads_the_environment(monkeypatch):
    """password: ${NAME} is read from the environment; an unset variable is named."""
    monkeypatch.setenv("BROKER_PW", "s3cret-pw")
    assert parse_source(PushParams, {"password": "${BROKER_PW}"}).password == "s3cret-pw"
    with pytest.raises(ConfigError, match="NOPE_PW is not set"):
        parse_source(PushParams, {"password": "${NOPE_PW}"})


def test_tls_files_are_checked_at_start(tmp_path):
    """An unreadable CA file, a key without its certificate, or a file that is no certificate
    is a ConfigError naming the key."""
    with pytest.raises(ConfigError) as err:
        tls_context(PushParams(tls=True, ca_file=str(tmp_path / "missing.pem")))
    assert err.value.key == "source.ca_file"
    key = tmp_path / "k.pem"
    key.write_text("x")
    with pytest.raises(ConfigError) as err:
        tls_context(PushParams(tls=True, key_file=str(key)))
    assert err.value.key == "source.key_file"
    with pytest.raises(ConfigError, match="not a usable certificate"):
        tls_context(PushParams(tls=True, ca_file=str(key)))
    insecure = tls_context(PushParams(tls=True, tls_insecure=True))
    assert insecure.check_hostname is False
