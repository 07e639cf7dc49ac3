"""Prometheus exposition of a stream's metrics, on a registry owned by one app.

:class:`RuntimeCollector` reads a stream state's ``metrics.snapshot()`` and ``health()`` (see
:mod:`streamdash.state`: this process's runtime, or what a worker published) at each scrape
(no second copy of the numbers to keep in step) and yields counters, gauges and histograms
named ``streamdash_*``, with the kinds and help texts declared in
:mod:`streamdash.metric_catalog` (a name not declared there gets a generic help).
:func:`build_registry` puts it, with the process and platform collectors, on a fresh
``CollectorRegistry``: never the global one, so several apps in one process do not clash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from types import MappingProxyType
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

from ..metric_catalog import EXPORTED, help_text
from ..state import as_stream

NAMESPACE = "streamdash"


def metric_name(name: str) -> str:
    """``streamdash_<name>`` with anything outside ``[a-zA-Z0-9_]`` replaced by ``_``."""
    return f"{NAMESPACE}_{re.sub(r'[^a-zA-Z0-9_]', '_', name)}"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class RuntimeCollector(Collector):
    """Yields a stream's counters, gauges, histograms and health at each scrape."""

    def __init__(self, state: Any):
        self.state = as_stream(state)

    def collect(self) -> Iterator[Metric]:
        snap = self.state.metrics.snapshot()
        for name, value in sorted(snap["counters"].items()):
            yield CounterMetricFamily(metric_name(name), help_text(name, "counter"), value=value)
        for name, value in sorted(snap["gauges"].items()):
            if value is not None:
                yield GaugeMetricFamily(metric_name(name), help_text(name, "gauge"), value=value)
        for name, hist in sorted(snap["histograms"].items()):
            buckets = [(_le(bound), count) for bound, count in hist["buckets"]]
            yield HistogramMetricFamily(metric_name(name), help_text(name, "histogram"),
                                        buckets=buckets, sum_value=hist["sum"])
        yield from self._health()

    def _health(self) -> Iterator[Metric]:
        report = self.state.health()
        comps = report["components"]
        status = _family("health_status", labels=["status"])
        for name in ("ok", "degraded", "down"):
            status.add_metric([name], 1.0 if report["status"] == name else 0.0)
        yield status
        yield _family("up", value=0.0 if report["status"] == "down" else 1.0)
        yield _family("uptime_seconds", value=report["uptime_s"])
        source = comps.get("source", {})
        yield _family("source_consecutive_failures",
                      value=source.get("consecutive_failures") or 0)
        waiting = source.get("waiting_since")
        yield _family("producer_waiting_seconds",
                      value=max(0.0, self.state.clock() - waiting) if waiting else 0.0)
        alerts = comps.get("alerts") or {}
        yield _family("alerts_firing_now", value=alerts.get("firing") or 0)
        storage = comps.get("storage") or {}
        if storage.get("enabled"):
            yield _family("storage_ok", value=1.0 if storage.get("ok") else 0.0)
            for name in ("written", "dropped", "errors", "rejected"):
                yield _family(f"storage_{name}", value=storage.get(name, 0))
            yield _family("storage_pending", value=storage.get("pending", 0)
                          + storage.get("queue", {}).get("depth", 0))
        yield _family("build", value={"version": str(report.get("version", ""))})


def _family(name: str, **kw: Any) -> Metric:
    """The family of a :data:`~streamdash.metric_catalog.HEALTH` name: its kind and help."""
    declared = EXPORTED[name]
    return _FAMILIES[declared.kind](metric_name(name), declared.help, **kw)


_FAMILIES = MappingProxyType({"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
                              "info": InfoMetricFamily})


def build_registry(state: Any) -> CollectorRegistry:
    """A fresh registry with a stream state's collector (a runtime is read in place) and the
    process/platform/GC collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(state))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
