"""Prometheus exposition of a runtime's metrics, on a registry owned by one app.

:class:`RuntimeCollector` reads ``runtime.metrics.snapshot()`` and ``runtime.health()`` at each
scrape (no second copy of the numbers to keep in step) and yields counters, gauges and
histograms named ``streamdash_*``. :func:`build_registry` puts it, with the process and
platform collectors, on a fresh ``CollectorRegistry``: never the global one, so several apps in
one process do not clash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

NAMESPACE = "streamdash"

#: HELP text of the pipeline's known metrics (others get a generic one).
HELP = {
    "records_in": "Records fetched from the source.",
    "records_accepted": "Records that passed validation and were stored.",
    "records_rejected": "Records quarantined as invalid.",
    "records_duplicate": "Records dropped as duplicates.",
    "records_filtered": "Records removed by filters.",
    "records_late": "Records that arrived after the watermark.",
    "records_dropped": "Records dropped by the queue policy or at shutdown.",
    "records_with_null": "Accepted records with at least one null field.",
    "batches_in": "Non-empty batches fetched.",
    "batches_processed": "Batches processed by the consumer.",
    "batches_dropped": "Batches dropped by the queue policy or at shutdown.",
    "fetches": "Successful fetches.",
    "fetch_errors": "Failed fetches.",
    "ingest_errors": "Failed ingestion attempts, retries included.",
    "thread_restarts": "Pipeline thread restarts after a crash.",
    "producer_blocked_seconds": "Seconds the producer waited on a full queue.",
    "queue_depth": "Batches waiting in the queue.",
    "queue_capacity": "Batches the queue can hold.",
    "queue_records": "Records waiting in the queue.",
    "queue_bytes": "Estimated memory of the records waiting in the queue.",
    "queue_fill": "Queue fill, 0-1: the fullest of its batch, record and byte bounds.",
    "queue_full_batches": "Times a batch found the queue full of batches.",
    "queue_full_records": "Times a batch found the queue full of records.",
    "queue_full_bytes": "Times a batch found the queue full of bytes.",
    "buffer_size": "Records held in the ring buffer.",
    "buffer_capacity": "Records the ring buffer can hold.",
    "last_fetch_at": "Unix time of the last successful fetch.",
    "last_stored_at": "Unix time the last batch became visible.",
    "last_success_at": "Unix time of the last successful fetch.",
    "batch_processing_seconds": "Time to validate and transform one batch.",
    "end_to_end_latency_seconds": "Time from fetch to records visible in the dashboard.",
    "fetch_seconds": "Time one source fetch took.",
}


def metric_name(name: str) -> str:
    """``streamdash_<name>`` with anything outside ``[a-zA-Z0-9_]`` replaced by ``_``."""
    return f"{NAMESPACE}_{re.sub(r'[^a-zA-Z0-9_]', '_', name)}"


def _help(name: str, kind: str) -> str:
    return HELP.get(name, f"streamdash {kind} {name}.")


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class RuntimeCollector(Collector):
    """Yields the runtime's counters, gauges, histograms and health at each scrape."""

    def __init__(self, runtime: Any):
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        snap = self.runtime.metrics.snapshot()
        for name, value in sorted(snap["counters"].items()):
            yield CounterMetricFamily(metric_name(name), _help(name, "counter"), value=value)
        for name, value in sorted(snap["gauges"].items()):
            if value is not None:
                yield GaugeMetricFamily(metric_name(name), _help(name, "gauge"), value=value)
        for name, hist in sorted(snap["histograms"].items()):
            buckets = [(_le(bound), count) for bound, count in hist["buckets"]]
            yield HistogramMetricFamily(metric_name(name), _help(name, "histogram"),
                                        buckets=buckets, sum_value=hist["sum"])
        yield from self._health()

    def _health(self) -> Iterator[Metric]:
        report = self.runtime.health()
        comps = report["components"]
        status = GaugeMetricFamily(metric_name("health_status"),
                                   "1 for the current health status (ok, degraded, down).",
                                   labels=["status"])
        for name in ("ok", "degraded", "down"):
            status.add_metric([name], 1.0 if report["status"] == name else 0.0)
        yield status
        yield GaugeMetricFamily(metric_name("up"), "1 unless the pipeline is down.",
                                value=0.0 if report["status"] == "down" else 1.0)
        yield GaugeMetricFamily(metric_name("uptime_seconds"), "Seconds since the runtime started.",
                                value=report["uptime_s"])
        source = comps.get("source", {})
        yield GaugeMetricFamily(metric_name("source_consecutive_failures"),
                                "Failed fetches in a row (0 after a success).",
                                value=source.get("consecutive_failures") or 0)
        waiting = source.get("waiting_since")
        yield GaugeMetricFamily(metric_name("producer_waiting_seconds"),
                                "Seconds the producer has been waiting for room in the full "
                                "queue (0 when it is not waiting).",
                                value=max(0.0, self.runtime.clock() - waiting) if waiting else 0.0)
        alerts = comps.get("alerts") or {}
        yield GaugeMetricFamily(metric_name("alerts_firing_now"), "Alerts firing now.",
                                value=alerts.get("firing") or 0)
        storage = comps.get("storage") or {}
        if storage.get("enabled"):
            yield GaugeMetricFamily(metric_name("storage_ok"), "1 when history writes succeed.",
                                    value=1.0 if storage.get("ok") else 0.0)
            yield CounterMetricFamily(metric_name("storage_written"),
                                      "Items written to the history database.",
                                      value=storage.get("written", 0))
            yield CounterMetricFamily(metric_name("storage_dropped"),
                                      "Items the history could not keep (queue full, failing).",
                                      value=storage.get("dropped", 0))
            yield CounterMetricFamily(metric_name("storage_errors"),
                                      "Failed history writes.", value=storage.get("errors", 0))
            yield GaugeMetricFamily(metric_name("storage_pending"),
                                    "Items waiting to be written to the history database.",
                                    value=storage.get("pending", 0)
                                    + storage.get("queue", {}).get("depth", 0))
        yield InfoMetricFamily(metric_name("build"), "streamdash version.",
                               value={"version": str(report.get("version", ""))})


def build_registry(runtime: Any) -> CollectorRegistry:
    """A fresh registry with the runtime's collector and the process/platform/GC collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(runtime))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
