"""Tests for streamdash.server.prometheus: the runtime collector on an app-owned registry."""

import shutil
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.server.prometheus import build_registry, metric_name
from streamdash.testing import ListSource


def scrape(runtime):
    """The runtime's /metrics text and its parsed families by name."""
    text = generate_latest(build_registry(runtime)).decode()
    return text, {f.name: f for f in text_string_to_metric_families(text)}


def test_exposes_counters_gauges_histograms_and_health(tmp_path):
    """Pipeline counters, gauges, latency histograms and health gauges are exposed and parse."""
    source = ListSource([[{"id": i, "value": i, "key": "a"} for i in range(5)]])
    runtime = Runtime(Settings({"source.interval": 0.1, "data_dir": str(tmp_path)}), source)
    runtime.consumer.handle(_batch(runtime))
    text, families = scrape(runtime)
    assert families["streamdash_records_accepted"].type == "counter"
    accepted = [s for s in families["streamdash_records_accepted"].samples
                if s.name == "streamdash_records_accepted_total"]
    assert accepted[0].value == 5
    assert families["streamdash_queue_capacity"].type == "gauge"
    hist = families["streamdash_batch_processing_seconds"]
    assert hist.type == "histogram"
    assert any(s.labels.get("le") == "+Inf" and s.value == 1 for s in hist.samples)
    status = {s.labels["status"]: s.value for s in families["streamdash_health_status"].samples}
    assert status == {"ok": 0.0, "degraded": 0.0, "down": 1.0}  # not started
    assert families["streamdash_storage_ok"].samples[0].value == 1.0
    assert "process_cpu_seconds_total" in text or "python_info" in text
    assert families["streamdash_producer_waiting_seconds"].samples[0].value == 0.0


def test_producer_waiting_on_a_full_queue_is_a_gauge():
    """While the producer waits for queue room, /metrics says for how long."""
    from streamdash.testing import FakeClock

    clock = FakeClock(1_700_000_000.0)
    runtime = Runtime(Settings({"source.interval": 0.1}), ListSource([]), clock=clock)
    runtime.source_health.waiting(clock())
    clock.advance(12.5)
    waited = scrape(runtime)[1]["streamdash_producer_waiting_seconds"]
    assert waited.type == "gauge" and waited.samples[0].value == 12.5
    runtime.source_health.waiting(None)
    assert scrape(runtime)[1]["streamdash_producer_waiting_seconds"].samples[0].value == 0.0


def _batch(runtime):
    from streamdash.models import Batch

    records = runtime.source.fetch()
    runtime.metrics.add_many({"records_in": len(records), "batches_in": 1})
    return Batch(records, 0.0, "list", 0.0)


def test_two_runtimes_do_not_share_a_registry():
    """Each app has its own registry: counts from one never show in the other."""
    a, b = Runtime(Settings()), Runtime(Settings())
    a.metrics.inc("records_in", 7)
    _, fa = scrape(a)
    _, fb = scrape(b)
    assert fa["streamdash_records_in"].samples[0].value == 7
    assert "streamdash_records_in" not in fb


def test_metric_names_are_sanitised():
    """Names with characters Prometheus refuses are made valid."""
    assert metric_name("alert_transitions_firing") == "streamdash_alert_transitions_firing"
    assert metric_name("a.b-c") == "streamdash_a_b_c"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_exposition():
    """``promtool check metrics`` finds no problem in the exposition."""
    runtime = Runtime(Settings())
    runtime.metrics.inc("records_in", 3)
    runtime.metrics.observe("fetch_seconds", 0.01)
    text, _ = scrape(runtime)
    done = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
