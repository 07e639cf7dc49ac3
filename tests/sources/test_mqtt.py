"""The mqtt source against a real mosquitto: exact accounting, acknowledgement after storing,
a broker restart mid-stream, backpressure, TLS and passwords, and every bound."""

from __future__ import annotations

import shutil
import time

import orjson
import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError, SourceError
from streamdash.pipeline.jsonl import Unparsed
from streamdash.runtime import Runtime
from streamdash.sources import build_source
from streamdash.sources.mqtt import MqttSource
from tests.helpers import wait_for, within
from tests.mqtt_helpers import SecureMosquitto, publish, readings
from tests.servers import _workdir, mosquitto_binary
from tests.tls_certs import make_certs

BATCH_TIME = 0.05
SCHEMA = {"key": "seq", "fields": {"seq": "int", "value": "float", "sensor": "str"}}


def source_settings(url: str, **source) -> dict:
    return {"type": "mqtt", "url": url, "topic": "sensors/{sensor}/reading",
            "batch_time": BATCH_TIME, "interval": 0.2, "backoff_base": 0.05,
            "backoff_max": 0.2, **source}


def make(url: str, **source) -> MqttSource:
    src = build_source(Settings({"source": source_settings(url, **source)}))
    assert isinstance(src, MqttSource)
    return src


def connected(src: MqttSource) -> None:
    src.start()
    assert wait_for(lambda: src.connected, within(BATCH_TIME)), src.describe()
    time.sleep(0.2)  # the SUBACK: the broker routes messages once the subscription exists


def drain(src: MqttSource, n: int, ack: bool = True, timeout: float = 0.0,
          tokens: list | None = None) -> list:
    """Fetch (and acknowledge, as the consumer does after storing, unless ``ack`` is false:
    then the tokens go to ``tokens``) until ``n`` records."""
    out: list = []
    deadline = time.monotonic() + (timeout or within(BATCH_TIME * n / 100))
    while len(out) < n and time.monotonic() < deadline:
        try:
            got = src.fetch()
        except SourceError:
            continue
        # Objects with nothing to map come undecoded, for the pipeline's typed decoder.
        out += [orjson.loads(r) if type(r) is bytes else r for r in got]
        if getattr(got, "token", None):
            src.ack(got.token) if ack else (tokens if tokens is not None else []).append(got.token)
    return out


def runtime(url: str, **source) -> Runtime:
    return Runtime(Settings({"source": source_settings(url, **source), "schema": SCHEMA,
                             "transforms": ["dedup"], "buffer": {"capacity": 20_000}}))


def settled(rt: Runtime, n: int) -> dict:
    def done():
        c = rt.counts()
        return c["accepted"] + c["rejected"] >= n
    assert wait_for(done, within(BATCH_TIME * n / 200, 0.2)), (rt.counts(), rt.source.describe())
    return rt.counts()


def test_ten_thousand_messages_are_accounted_for_exactly(mosquitto_server):
    """10,000 QoS 1 messages in: each accepted or quarantined exactly once (non-JSON payloads
    included), each with its topic's sensor, and every one acknowledged."""
    rt = runtime(mosquitto_server.url, batch_size=500)
    with rt:
        connected(rt.source)
        publish(mosquitto_server.port, readings(10_000, bad_every=100))
        counts = settled(rt, 10_000)
        assert wait_for(lambda: rt.source.stats["acked"] == 10_000, within(BATCH_TIME))
    assert counts == {"in": 10_000, "accepted": 9_900, "rejected": 100, "duplicate": 0,
                      "filtered": 0, "late": 0, "dropped": 0}
    stored = [r for _, r in rt.buffer.snapshot()]
    assert sorted(r["seq"] for r in stored) == [i for i in range(10_000) if i % 100 != 3]
    assert all(r["sensor"] == f"s{r['seq'] % 5}" for r in stored)
    assert rt.source.describe()["unacked"] == 0


def test_unacknowledged_messages_come_again_to_the_same_client_id(mosquitto_server):
    """Received but never acknowledged (a crash before storing), QoS 1 messages are sent
    again by the broker to the next client with the same id (a persistent session)."""
    first = make(mosquitto_server.url)
    connected(first)
    publish(mosquitto_server.port, readings(100))
    assert len(drain(first, 100, ack=False)) == 100
    first.close()
    again = make(mosquitto_server.url)
    connected(again)
    assert sorted(r["seq"] for r in drain(again, 100)) == list(range(100))
    again.close()


def test_batches_drained_at_shutdown_are_still_acknowledged(mosquitto_server):
    """interrupt() (the runtime stopping) ends fetching but not the connection: the batches
    the consumer still stores are acknowledged, so they do not come again at the next start."""
    src = make(mosquitto_server.url)
    connected(src)
    publish(mosquitto_server.port, readings(50))
    tokens: list = []
    assert len(drain(src, 50, ack=False, tokens=tokens)) == 50
    src.interrupt()
    for token in tokens:
        src.ack(token)
    src.close()
    assert src.stats["acked"] == 50 and not src.alive
    again = make(mosquitto_server.url)
    connected(again)
    publish(mosquitto_server.port, [("sensors/a/reading", '{"seq": 99}')])
    assert [r["seq"] for r in drain(again, 1)] == [99]  # not one of the 50 again
    again.close()


def test_broker_restart_mid_stream_loses_nothing_at_qos1(mosquitto_server):
    """The broker (with persistence) restarted while messages are queued for streamdash:
    the source reconnects to its session and every message is stored once (a message sent
    again counts as a duplicate)."""
    rt = runtime(mosquitto_server.url, batch_size=200)
    with rt:
        connected(rt.source)
        publish(mosquitto_server.port, readings(5_000))
        assert wait_for(lambda: rt.counts()["accepted"] >= 500, within(1.0))
        mosquitto_server.restart()
        assert wait_for(lambda: rt.source.connected, within(0.2, 1.0))
        publish(mosquitto_server.port, readings(5_000, start=5_000))
        counts = settled(rt, 10_000)
    assert counts["accepted"] == 10_000 and counts["rejected"] == 0
    assert counts["in"] == counts["accepted"] + counts["duplicate"]
    assert rt.source.stats["reconnects"] >= 1
    assert rt.source.errors.by_kind.get("connection", 0) >= 1


def test_an_acknowledgement_from_an_earlier_connection_is_not_sent(mosquitto_server):
    """A token of messages received before a reconnect is not acknowledged (its packet ids
    may name other messages now): the broker sends those messages again."""
    src = make(mosquitto_server.url)
    connected(src)
    publish(mosquitto_server.port, readings(20))
    tokens: list = []
    assert len(drain(src, 20, ack=False, tokens=tokens)) == 20
    mosquitto_server.restart()
    assert wait_for(lambda: src.connected, within(0.2, 1.0))
    for token in tokens:
        src.ack(token)
    assert src.stats["stale_acks"] == 20 and src.stats["acked"] == 0
    assert sorted(r["seq"] for r in drain(src, 20)) == list(range(20))
    src.close()


def test_backpressure_stops_reading_and_drops_nothing(mosquitto_server):
    """With nobody fetching, the inbox stops at max_in_flight (QoS 0: paho's thread waits;
    QoS 1: the broker's window) and nothing is dropped: a later drain gets everything."""
    for qos in (0, 1):
        src = make(mosquitto_server.url, qos=qos, max_in_flight=50, batch_size=20,
                   client_id=f"bp-{qos}")
        connected(src)
        publish(mosquitto_server.port, readings(2_000), qos=qos)
        assert wait_for(lambda s=src: s.describe()["buffered"] == 50, within(0.5))
        time.sleep(0.2)  # were anything read past the bound, it would show now
        assert src.describe()["buffered"] == 50
        assert sorted(r["seq"] for r in drain(src, 2_000)) == list(range(2_000))
        src.close()


def test_payload_bytes_waiting_for_a_fetch_are_bounded(mosquitto_server):
    """With nobody fetching, paho's thread stops reading once max_buffer_bytes of payload
    wait (QoS 0: nothing acknowledges them); a later drain still gets every message."""
    src = make(mosquitto_server.url, qos=0, max_buffer_bytes=10_000, batch_size=20)
    connected(src)
    publish(mosquitto_server.port, [("sensors/a/reading", f'{{"seq": {i}, "pad": "{"x" * 990}"}}')
                                    for i in range(200)], qos=0)
    assert wait_for(lambda: src.describe()["buffered_bytes"] >= 10_000, within(0.5))
    time.sleep(0.2)  # were anything read past the bound, it would show now
    assert src.describe()["buffered_bytes"] < 10_000 + 1_100
    assert sorted(r["seq"] for r in drain(src, 200)) == list(range(200))
    src.close()


def test_a_payload_over_max_payload_bytes_is_refused_acknowledged_and_reported(
        mosquitto_server):
    """A payload over max_payload_bytes is refused (counted, reported as too_large) and
    acknowledged; so is a topic over max_topic_bytes; the messages around them arrive. (A
    packet over max_payload_bytes + max_topic_bytes + 1 KB the broker does not even send:
    MQTT 5's Maximum Packet Size.)"""
    src = make(mosquitto_server.url, max_payload_bytes=1024, max_topic_bytes=32,
               topic="sensors/#")
    events: list = []
    src.errors.add_listener(events.append)
    connected(src)
    publish(mosquitto_server.port, [("sensors/a", '{"seq": 1}'), ("sensors/a", "x" * 1500),
                                    ("sensors/" + "t" * 40, '{"seq": 2}'),
                                    ("sensors/a", '{"seq": 3}')])
    assert [r["seq"] for r in drain(src, 2)] == [1, 3]
    assert wait_for(lambda: src.stats["acked"] == 4, within(BATCH_TIME))
    assert src.refusals.snapshot() == {"too_large": 1, "bad_topic": 1}
    reasons = " ".join(e["reason"] for e in events)
    assert "payload of 1500 bytes exceeds max_payload_bytes (1024)" in reasons
    assert "topic of 48 bytes exceeds max_topic_bytes (32)" in reasons
    src.close()


def test_a_packet_over_the_limit_is_never_read_whole(mosquitto_server):
    """MQTT 3.1.1 (no packet size limit in the protocol): a 3 MB message over the client's
    limit is read past as it arrives (never held), refused as too_large and acknowledged, so
    the broker does not send it again; the connection goes on."""
    src = make(mosquitto_server.url, protocol="3.1.1", max_payload_bytes=1024,
               max_topic_bytes=64)
    events: list = []
    src.errors.add_listener(events.append)
    connected(src)
    publish(mosquitto_server.port, [("sensors/a/reading", "x" * 3_000_000),
                                    ("sensors/a/reading", '{"seq": 9}')])
    assert [r["seq"] for r in drain(src, 1)] == [9]
    assert wait_for(lambda: src.stats["acked"] == 2, within(BATCH_TIME))
    assert src.refusals.snapshot() == {"too_large": 1}
    assert "a message of 3000021 bytes exceeds the packet limit" in events[0]["reason"]
    assert src.stats["connects"] == 1 and src._client._sock._buf.__len__() < 600_000
    src.close()


def test_bare_values_with_scalar_field_tasmota_style(mosquitto_server):
    """Tasmota's stat/<device>/POWER carries a bare ON/OFF: scalar_field makes it a record."""
    src = make(mosquitto_server.url, topic="stat/{device}/POWER", scalar_field="power",
               topic_field="topic")
    connected(src)
    publish(mosquitto_server.port, [("stat/plug-1/POWER", "ON"), ("stat/plug-2/POWER", "{")])
    assert drain(src, 2) == [{"power": "ON", "device": "plug-1", "topic": "stat/plug-1/POWER"},
                             {"power": "{", "device": "plug-2", "topic": "stat/plug-2/POWER"}]
    src.close()


def test_unreachable_broker_fails_the_fetch_and_keeps_retrying(closed_port):
    """Nothing listening: each attempt is an ingestion error, a fetch with nothing buffered
    fails (disconnected), and stop() ends the reader within its bound."""
    src = make(f"mqtt://user:pw-secret-1@127.0.0.1:{closed_port}")
    src.start()
    assert wait_for(lambda: src.errors.total >= 2, within(0.2))
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "disconnected" and "Connection refused" in str(err.value)
    assert "pw-secret-1" not in str(err.value) + str(src.describe())
    assert src.stop(within()) is True and not src.alive


def test_tls_and_password(tmp_path, monkeypatch):
    """Over TLS with the broker's CA and a password from the environment: connects and
    receives; a wrong password is reported as auth and never shown; a CA that did not sign
    the broker's certificate fails the connection."""
    certs = make_certs(tmp_path / "certs")
    server = SecureMosquitto(_workdir("sd-mqtt-"), mosquitto_binary(), certs, "broker-pw-42")
    server.start()
    try:
        monkeypatch.setenv("MQTT_PW", "broker-pw-42")
        url = f"mqtts://127.0.0.1:{server.port}"
        good = make(url, username="dash", password="${MQTT_PW}", ca_file=str(certs.ca))
        connected(good)
        assert "broker-pw-42" not in str(good.describe())
        good.close()
        bad = make(url, username="dash", password="wrong-pw-77", ca_file=str(certs.ca))
        bad.start()
        assert wait_for(lambda: bad.errors.by_kind.get("auth"), within(0.2))
        assert "wrong-pw-77" not in str(bad.errors.snapshot())
        bad.close()
        other = make_certs(tmp_path / "other", name="other")
        untrusted = make(url, username="dash", password="broker-pw-42",
                         ca_file=str(other.ca))
        untrusted.start()
        assert wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in str(untrusted.errors.last),
                        within(0.2))
        untrusted.close()
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("url", "http://h", "mqtt://"), ("url", None, "required"), ("topic", [], "required"),
    ("topic", ["a/#/b"], "last level"), ("qos", 2, "between 0 and 1"),
    ("protocol", "4", "one of 5, 3.1.1"), ("keepalive", 1, "between 5 and"),
    ("max_topic_bytes", 8, "between 16 and 65535"),
    ("client_id", "c" * 300, "at most 256"), ("topic", ["t"] * 65, "at most 64"),
    ("max_buffer_bytes", 10, "between 1024 and")])
def test_bad_settings_name_their_key(key, value, problem):
    """Each bad setting is a ConfigError at source.<key> saying what is wrong."""
    source = {**source_settings("mqtt://127.0.0.1:1"), key: value}
    if value is None:
        del source[key]
    with pytest.raises(ConfigError, match=problem) as err:
        build_source(Settings({"source": source}))
    assert err.value.key.startswith(f"source.{key}")


def test_unparsed_payloads_and_describe(mosquitto_server):
    """A payload that is not JSON is an Unparsed record; describe() tells the session."""
    src = make(mosquitto_server.url, qos=0)
    connected(src)
    publish(mosquitto_server.port, [("sensors/a/reading", "{nope")], qos=0)
    [record] = drain(src, 1)
    assert isinstance(record, Unparsed) and record.text == "{nope"
    info = src.describe()
    assert info["client_id"] == "streamdash-mqtt" and info["topics"] == ["sensors/{sensor}/reading"]
    assert info["connected"] and info["reader_alive"] and info["stats"]["connects"] == 1
    src.close()
