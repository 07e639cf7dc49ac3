"""The server fixtures themselves: each real server starts, answers, restarts and dies on cue."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg
import redis

from tests.servers import MosquittoServer, PostgresServer, RedisServer


def test_redis_url_is_a_clean_database(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.set("k", "v")
    assert client.get("k") == b"v"


def test_redis_restart_keeps_appendonly_data(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    client.set("kept", "1")
    fresh_redis.restart()
    assert redis.Redis.from_url(fresh_redis.url).get("kept") == b"1"
    fresh_redis.kill()
    assert fresh_redis.process is not None and fresh_redis.process.poll() is not None


def test_postgres_dsn_is_a_fresh_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_postgres_survives_kill_and_restart(fresh_postgres: PostgresServer) -> None:
    with psycopg.connect(fresh_postgres.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (7)")
    fresh_postgres.kill()
    fresh_postgres.start()  # crash recovery from the WAL
    with psycopg.connect(fresh_postgres.dsn()) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (7,)


def test_mosquitto_delivers_and_restarts(mosquitto_server: MosquittoServer) -> None:
    got = threading.Event()

    def on_message(client, userdata, message):  # noqa: ARG001 - paho's callback signature
        if message.payload == b"hello":
            got.set()

    def round_trip() -> bool:
        got.clear()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_message = on_message
        client.connect("127.0.0.1", mosquitto_server.port)
        client.subscribe("t/x", qos=1)
        client.loop_start()
        try:
            # A retained message reaches the subscriber whenever its SUBACK lands.
            client.publish("t/x", b"hello", qos=1, retain=True).wait_for_publish(10)
            return got.wait(10)
        finally:
            client.loop_stop()
            client.disconnect()

    assert round_trip()
    mosquitto_server.restart()
    assert round_trip()
