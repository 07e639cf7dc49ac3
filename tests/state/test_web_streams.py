"""Two streams through a real redis-server: ``streamdash run`` publishes each stream under its
own keys, a web process (``create_web_app``) reads every configured stream: its API per
``?stream=``, /metrics per stream label, the dashboard's callbacks per chosen stream."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from streamdash.app import create_app, create_web_app
from streamdash.dashboard.replay import CallbackClient
from streamdash.state.layout import Keys
from tests.helpers import wait_until, within
from tests.test_streams import INTERVAL, two_streams

#: Records of each stream (tests/test_streams.two_streams) and what they end as.
EXPECTED = {"quakes": {"in": 40, "accepted": 40, "rejected": 0},
            "prices": {"in": 25, "accepted": 0, "rejected": 25}}
FLUSH = 0.1  # state.flush_interval: a batch reaches Redis within it


def settings(url):
    return two_streams(state={"backend": "redis", "url": url, "read_cache": 0,
                              "flush_interval": FLUSH, "key_prefix": "multi"},
                       alerts={"rules": [{"name": "source_down", "enabled": False}]})


def test_a_web_process_reads_every_stream_from_redis(redis_url):
    """Each stream has its own keys in Redis; the web process serves each one's data on
    ?stream=, the accounting identity per stream, and a dashboard tick per chosen stream."""
    writer = create_app(settings(redis_url))
    web = create_web_app(settings(redis_url))
    try:
        assert web.state_store.streams() == ["quakes", "prices"]
        client = web.server.test_client()

        def outcomes(name):
            answer = client.get(f"/api/streams?stream={name}")
            if answer.status_code != 200:
                return None
            counts = web.stream_views.views[name].state.counts()
            return {o: counts[o] for o in EXPECTED[name]}
        # Bound: the streams' polls (5 batches at INTERVAL) then one flush to Redis.
        wait_until(lambda: all(outcomes(n) == e for n, e in EXPECTED.items()),
                   within(INTERVAL * 5, FLUSH), "both streams in Redis")
        lines = client.get("/api/streams").get_json()["streams"]
        assert [line["records_in"] for line in lines] == [40, 25]
        client_redis = web.state_store.client
        for name in EXPECTED:
            assert client_redis.exists(Keys("multi", name).pulse)
        assert client.get("/api/dlq?stream=prices").get_json()["total"] == 25
        assert client.get("/api/dlq").get_json()["total"] == 0  # the default: quakes
        assert client.get("/api/dlq?stream=nope").status_code == 404
        families = {f.name: f for f in text_string_to_metric_families(
            client.get("/metrics").get_data(as_text=True))}
        for name, expected in EXPECTED.items():
            got = {o: sum(s.value for s in families[f"streamdash_records_{o}"].samples
                          if s.labels.get("stream") == name and s.name.endswith("_total"))
                   for o in expected}  # each outcome occurs in one stream at least
            assert got == expected, name
        assert client.get("/health").get_json()["streams"].keys() == set(EXPECTED)
        tick = CallbackClient(web, "client-state.data", client.post)
        base = {"value-field.value": "temperature", "refresh-picker.value": 5,
                "tick.n_intervals": 1}
        _, _, prices = tick.call({**base, "stream.data": "prices"})
        _, _, quakes = tick.call({**base, "stream.data": "quakes"})
        assert prices["kpi-total.children"] == "25" and quakes["kpi-total.children"] == "40"
        assert "Prices" in str(prices["stream-overview.children"])
    finally:
        writer.runtimes.stop()
        web.state_store.close()
