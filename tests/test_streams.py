"""Tests for streamdash.streams and the app factory with several streams: a runtime per
stream, its own history, errors keyed where the user wrote them, start/stop of all."""

from pathlib import Path

import pytest

from streamdash.app import check_settings, create_app
from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.streams import StreamRuntimes, stream_error
from streamdash.testing import ListSource
from tests.helpers import wait_until, within

INTERVAL = 0.1
NO_FAULTS = {"null_rate": 0, "duplicate_rate": 0, "late_rate": 0, "invalid_rate": 0,
             "outlier_rate": 0}
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")


def settled(runtime, records):
    """All ``records`` fetched and processed: ``in`` counts at the fetch, the outcomes once
    the consumer is through the batch."""
    counts = runtime.counts()
    return counts["in"] == records == sum(counts[o] for o in OUTCOMES)


def two_streams(**extra):
    """Two simulated streams with bounded counts (quakes: 40 records; prices: 25, all
    invalid), polled every INTERVAL."""
    return Settings({"streams": {
        "quakes": {"source": {"type": "simulated", "name": "Quakes", "interval": INTERVAL,
                              "seed": 1, "batch_size": 10, "count": 40, **NO_FAULTS}},
        "prices": {"source": {"type": "simulated", "name": "Prices", "interval": INTERVAL,
                              "seed": 2, "batch_size": 5, "count": 25, "sensors": 2,
                              **{**NO_FAULTS, "invalid_rate": 1.0}}},
    }, **extra})


@pytest.fixture
def app():
    app = create_app(two_streams(), start=False)
    yield app
    app.runtimes.stop()


def test_one_runtime_per_stream_each_with_its_own_source_and_buffer(app):
    """Each stream is its own runtime (source, buffer, monitor); app.runtime is the default
    stream's and app.live its view."""
    rts = app.runtimes
    assert list(rts) == ["quakes", "prices"] and len(rts) == 2
    assert app.runtime is rts["quakes"] is rts.first
    assert rts["quakes"].source.name == "Quakes" and rts["prices"].source.name == "Prices"
    assert rts["quakes"].buffer is not rts["prices"].buffer
    assert app.live.state.runtime is rts["quakes"]
    assert app.stream_views.names == ["quakes", "prices"]


def test_start_and_stop_run_every_stream_and_the_counts_stay_apart(app):
    """start() starts every stream, each ingests only its own records, stop() ends all."""
    app.runtimes.start()
    assert app.runtimes.running and app.runtimes.started_at is not None
    quakes, prices = app.runtimes["quakes"], app.runtimes["prices"]
    wait_until(lambda: settled(quakes, 40) and settled(prices, 25), within(INTERVAL * 5),
               "both streams' records")
    assert quakes.counts()["accepted"] == 40 and prices.counts()["rejected"] == 25
    assert prices.counts()["accepted"] == 0 and quakes.counts()["rejected"] == 0
    assert app.runtimes.stop(2) is True
    assert not quakes.running and not prices.running and not app.runtimes.running
    assert app.runtimes.stop() is True  # a second stop does nothing


def test_each_stream_keeps_its_history_in_its_own_folder(tmp_path):
    """With several streams each history is <data_dir>/streams/<name>/; one stream keeps
    <data_dir>/history.sqlite3 as before."""
    app = create_app(two_streams(data_dir=str(tmp_path)), start=False)
    try:
        for name in ("quakes", "prices"):
            location = app.runtimes[name].history.store.location
            assert location == str(tmp_path / "streams" / name / "history.sqlite3")
    finally:
        app.runtimes.close()
    one = create_app(Settings({"data_dir": str(tmp_path)}), ListSource([]), start=False)
    try:
        assert one.runtime.history.store.location == str(tmp_path / "history.sqlite3")
        assert list(one.runtimes) == ["default"]
    finally:
        one.runtimes.close()


@pytest.mark.parametrize(("stream", "expected"), [
    ({"source": {"type": "http"}}, "streams.prices.source.url: "),
    ({"source": {"type": "simulated", "sensors": 0}}, "streams.prices.source.sensors: "),
    ({"alerts": {"rules": [{"name": "nope_rule", "metric": "nope"}]}},
     "streams.prices.alerts.rules[nope_rule].metric: unknown metric 'nope'"),
    ({"dashboard": {"table_rows": 1}}, "streams.prices.dashboard.table_rows: "),
    ({"transforms": [{"nope": {}}]}, "streams.prices.transforms"),
])
def test_a_stream_built_wrong_names_its_key_under_streams(stream, expected):
    """A component's own check (source, rules, dashboard, transforms) names the key as the
    user wrote it: streams.<name>.<section>…; check_settings (check-config) finds it too."""
    settings = Settings({"streams": {"quakes": {}, "prices": stream}})
    with pytest.raises(ConfigError) as info:
        check_settings(settings)
    assert str(info.value).startswith(expected), str(info.value)


def test_a_global_key_is_not_moved_under_a_stream():
    """Only stream sections are re-keyed: a storage or auth error keeps its own key."""
    assert str(stream_error("q", ConfigError("storage.url", "x"))) == "storage.url: x"
    assert str(stream_error("q", ConfigError("source.url", "x"))) == "streams.q.source.url: x"
    assert str(stream_error("q", ConfigError("schema[0]", "x"))) == "streams.q.schema[0]: x"


def test_runtimes_built_so_far_are_closed_when_a_later_stream_fails():
    """A bad second stream leaves no open source of the first behind."""
    closed = []

    class Closing(ListSource):
        def close(self):
            closed.append(self.name)

    settings = Settings({"streams": {"a": {}, "b": {"source": {"type": "http"}}}})
    with pytest.raises(ConfigError, match=r"^streams\.b\.source\.url"):
        StreamRuntimes(settings, Closing([], name="first"))
    assert closed == ["first"]


def test_the_example_config_builds_every_stream():
    """docs/examples/two-streams.yaml passes check-config."""
    from streamdash.config import load_settings

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "two-streams.yaml"
    check_settings(load_settings(example, environ={}))


def test_each_stream_keeps_its_history_in_its_own_postgres_schema(postgres_dsn):
    """With storage.backend postgres, one database: stream NAME writes the schema
    streamdash_NAME, so each stream's history holds its own rows only."""
    import time

    from streamdash.store.history import StorageOptions, open_store

    app = create_app(two_streams(storage={"backend": "postgres", "url": postgres_dsn}))
    try:
        wait_until(lambda: app.runtimes["prices"].counts()["rejected"] == 25
                   and app.runtimes["quakes"].counts()["accepted"] == 40,
                   within(INTERVAL * 5), "both streams' records")
    finally:
        assert app.runtimes.stop(5)  # the history writers flush on stop
    rows = {name: open_store(postgres_dsn, StorageOptions(schema=f"streamdash_{name}"))
            .reader.events("dlq", 0.0, time.time() + 60, 100) for name in ("quakes", "prices")}
    assert len(rows["prices"]) == 25 and rows["quakes"] == []
