"""Every metric name streamdash exposes, declared once: kind, unit, help and (quality) formula.

Four tables, one per place a name is read:

* :data:`PIPELINE` — the counters, gauges and histograms of ``runtime.metrics``
  (:class:`~streamdash.metrics.Metrics`); ``/metrics`` exports each as ``streamdash_<name>``
  with its help text.
* :data:`HEALTH` — the gauges and counters ``/metrics`` derives from ``runtime.health()``.
* :data:`SNAPSHOT` — the fields of a periodic snapshot (``reporter.derive``): what history
  keeps, ``/api/metrics`` serves and ``streamdash metrics`` prints.
* :data:`QUALITY` — the metrics an alert rule can watch, each with the function that computes
  it from a :class:`Span` of the quality window. Adding an alert metric is one entry here (see
  docs/architecture.md, "Adding an alert metric").

A name may appear in more than one table (``records_in`` is a counter and a snapshot field,
``invalid_rate`` a snapshot field and a quality metric): each table is its own namespace.
Imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

#: Where every record ends up: exactly one outcome counter ``records_<outcome>`` each.
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")
#: Outcomes making up "records processed", the denominator of the outcome rates (records the
#: queue dropped were never processed).
PROCESSED = tuple(f"records_{o}" for o in OUTCOMES if o != "dropped")
#: ``null_rate.<field>``: share of accepted records whose ``<field>`` is null.
FIELD_METRIC_PREFIX = "null_rate."


@dataclass(frozen=True)
class Metric:
    """One declared name: its ``kind`` (counter, gauge, histogram, snapshot), unit and help."""

    name: str
    kind: str
    unit: str
    help: str


class Span(Protocol):
    """What a quality metric's formula reads: the quality window between two samples.

    ``delta(counter)`` is the growth of a counter over the window (``KeyError`` for a name not
    in :data:`SAMPLED_COUNTERS`); ``seconds`` the time the window's samples span.
    """

    now: float
    seconds: float
    processed: float
    accepted: float
    null_records: float
    newest_event: float | None
    fetch_since: float | None
    waiting_since: float | None
    baseline_throughput: float | None

    def delta(self, counter: str) -> float: ...


@dataclass(frozen=True)
class QualityMetric:
    """A metric an alert rule can watch: ``compute(span)`` gives its value (``None``: no data)."""

    name: str
    unit: str
    help: str
    compute: Callable[[Span], float | None]


def _m(kind: str, unit: str, *rows: tuple[str, str]) -> tuple[Metric, ...]:
    return tuple(Metric(name, kind, unit, text) for name, text in rows)


PIPELINE: tuple[Metric, ...] = (
    *_m("counter", "records",
        ("records_in", "Records fetched from the source."),
        ("records_accepted", "Records that passed validation and were stored."),
        ("records_rejected", "Records quarantined as invalid."),
        ("records_duplicate", "Records dropped as duplicates."),
        ("records_filtered", "Records removed by filters."),
        ("records_late", "Records that arrived after the watermark."),
        ("records_dropped", "Records dropped by the queue policy or at shutdown."),
        ("records_with_null", "Accepted records with at least one null field."),
        ("state_records_published", "Live records written to the shared state store (Redis)."),
        ("state_records_dropped", "Live records never written to the state store: the local "
         "buffer overwrote them first (store unreachable, or a burst over buffer.capacity).")),
    *_m("counter", "items",
        ("state_items_dropped", "Log entries (quarantine, late, windows, errors, alerts, "
         "evaluations, snapshots) that left the local store before reaching the state store.")),
    *_m("counter", "batches",
        ("batches_in", "Non-empty batches fetched."),
        ("batches_processed", "Batches processed by the consumer."),
        ("batches_dropped", "Batches dropped by the queue policy or at shutdown."),
        ("queue_full_batches", "Times a batch found the queue full of batches."),
        ("queue_full_records", "Times a batch found the queue full of records."),
        ("queue_full_bytes", "Times a batch found the queue full of bytes.")),
    *_m("counter", "events",
        ("fetches", "Successful fetches."),
        ("fetch_errors", "Failed fetches."),
        ("ingest_errors", "Failed ingestion attempts, retries included."),
        ("thread_restarts", "Pipeline thread restarts after a crash."),
        ("ack_errors", "Stored batches a push source failed to acknowledge (delivered again)."),
        ("acks_pending_full", "Times a worker stopped reading a push source: the messages "
         "awaiting their acknowledgement reached state.max_pending_acks."),
        ("monitor_errors", "Quality evaluations that failed (monitoring went on)."),
        ("alert_transitions_pending", "Alerts that became pending."),
        ("alert_transitions_firing", "Alerts that started firing."),
        ("alert_transitions_resolved", "Firing alerts that resolved."),
        ("alert_transitions_inactive", "Pending alerts whose condition cleared before firing."),
        ("alert_notifications_sent", "Alert webhook notifications delivered."),
        ("alert_notification_errors", "Failed webhook delivery attempts, retries included."),
        ("alert_notifications_failed", "Alert webhook notifications given up after retries."),
        ("alert_notifications_dropped",
         "Alert webhook notifications dropped (queue full or shutdown)."),
        ("state_writes", "Writes of the worker's state to the state store (one per flush)."),
        ("state_write_errors", "Failed writes to the state store (retried; nothing is lost "
         "until the local buffer overflows)."),
        ("state_store_resets", "Times the state store had lost this stream (restarted without "
         "persistence, flushed) and the worker wrote what it held again."),
        ("state_keyed_refused", "Saves of the pipeline's keyed state (dedup keys, watermarks, "
         "open windows) refused: over state.max_keyed_bytes, or not encodable as JSON."),
        ("state_keyed_rejected", "Parts of a saved keyed state a worker taking the stream over "
         "could not use (bad, oversized, another version or configuration): started empty.")),
    *_m("counter", "seconds",
        ("producer_blocked_seconds", "Seconds the producer waited on a full queue (or, in a "
         "worker, on acknowledgements pending at state.max_pending_acks).")),
    *_m("gauge", "batches",
        ("queue_depth", "Batches waiting in the queue."),
        ("queue_capacity", "Batches the queue can hold.")),
    *_m("gauge", "records",
        ("queue_records", "Records waiting in the queue."),
        ("buffer_size", "Records held in the ring buffer."),
        ("buffer_capacity", "Records the ring buffer can hold."),
        ("state_backlog", "Live records held locally, not yet written to the state store."),
        ("acks_pending", "Push source messages a worker fetched and has not acknowledged: "
         "it does once the state write holding them succeeds.")),
    *_m("gauge", "bytes",
        ("queue_bytes", "Estimated memory of the records waiting in the queue."),
        ("state_keyed_bytes", "Size of the last keyed state saved to the state store.")),
    *_m("gauge", "ratio",
        ("queue_fill", "Queue fill, 0-1: the fullest of its batch, record and byte bounds.")),
    *_m("gauge", "unix_seconds",
        ("last_fetch_at", "Unix time of the last successful fetch."),
        ("last_stored_at", "Unix time the last batch became visible."),
        ("last_success_at", "Unix time of the last successful fetch.")),
    *_m("gauge", "alerts", ("alerts_firing", "Alerts firing now (at the last evaluation).")),
    *_m("histogram", "seconds",
        ("batch_processing_seconds", "Time to validate and transform one batch."),
        ("end_to_end_latency_seconds", "Time from fetch to records visible in the dashboard."),
        ("fetch_seconds", "Time one source fetch took.")),
)

HEALTH: tuple[Metric, ...] = (
    *_m("gauge", "",
        ("health_status", "1 for the current health status (ok, degraded, down)."),
        ("up", "1 unless the pipeline is down."),
        ("storage_ok", "1 when history writes succeed.")),
    *_m("gauge", "seconds",
        ("uptime_seconds", "Seconds since the runtime started."),
        ("producer_waiting_seconds", "Seconds the producer has been waiting for room in the "
                                     "full queue (0 when it is not waiting).")),
    *_m("gauge", "events",
        ("source_consecutive_failures", "Failed fetches in a row (0 after a success).")),
    *_m("gauge", "alerts", ("alerts_firing_now", "Alerts firing now.")),
    *_m("counter", "items",
        ("storage_written", "Items written to the history database."),
        ("storage_dropped", "Items the history could not keep (queue full, failing)."),
        ("storage_errors", "Failed history writes."),
        ("storage_rejected", "History rows the database refused as data (skipped).")),
    *_m("gauge", "items",
        ("storage_pending", "Items waiting to be written to the history database.")),
    *_m("info", "", ("build", "streamdash version.")),
)

SNAPSHOT: tuple[Metric, ...] = (
    *_m("snapshot", "records/s",
        ("throughput_in", "records fetched per second over the interval"),
        ("throughput_out", "records accepted (stored) per second over the interval")),
    *_m("snapshot", "seconds",
        ("latency_p50", "fetch → visible latency, median of recent batches (s)"),
        ("latency_p95", "fetch → visible latency, 95th percentile of recent batches (s)"),
        ("latency_p99", "fetch → visible latency, 99th percentile of recent batches (s)"),
        ("batch_p50", "per-batch processing time, median of recent batches (s)"),
        ("batch_p95", "per-batch processing time, 95th percentile (s)"),
        ("batch_p99", "per-batch processing time, 99th percentile (s)"),
        ("fetch_p95", "source fetch time, 95th percentile of recent fetches (s)")),
    *_m("snapshot", "ratio",
        ("error_rate", "failed fetches / fetch attempts over the interval"),
        ("invalid_rate", "quarantined / processed records over the interval"),
        ("duplicate_rate", "duplicates / processed records over the interval"),
        ("late_rate", "late / processed records over the interval"),
        ("filtered_rate", "filtered / processed records over the interval"),
        ("null_rate", "accepted records with at least one null field / accepted records over "
                      "the interval (the same definition as the alert metric null_rate)")),
    *_m("snapshot", "batches",
        ("queue_depth", "batches waiting between producer and consumer")),
    *_m("snapshot", "ratio",
        ("queue_fill", "queue depth / queue capacity"),
        ("buffer_fill", "records held / buffer capacity")),
    *_m("snapshot", "records",
        ("dropped", "records dropped over the interval (queue policy or shutdown)")),
    *_m("snapshot", "events", ("restarts", "pipeline thread restarts so far (this run)")),
    *_m("snapshot", "records",
        ("records_in", "records fetched so far (this run)"),
        ("records_accepted", "records accepted so far (this run)"),
        ("records_rejected", "records quarantined so far (this run)"),
        ("records_duplicate", "duplicates so far (this run)"),
        ("records_late", "late records so far (this run)"),
        ("records_filtered", "filtered records so far (this run)"),
        ("records_dropped", "records dropped so far (this run)")),
    *_m("snapshot", "events", ("fetch_errors", "failed fetches so far (this run)")),
    *_m("snapshot", "seconds", ("interval_s", "seconds this snapshot covers")),
)


# -- quality metrics: each one's formula next to its name ---------------------------------------
def ratio(part: float, whole: float) -> float | None:
    """``part / whole``; ``None`` (no data) when there is nothing to divide by."""
    return part / whole if whole > 0 else None


def _outcome_rate(counter: str) -> Callable[[Span], float | None]:
    return lambda s: ratio(s.delta(counter), s.processed)


def _throughput(s: Span) -> float | None:
    return s.delta("records_in") / s.seconds if s.seconds > 0 else None


def _throughput_drop(s: Span) -> float | None:
    now, base = _throughput(s), s.baseline_throughput
    return None if now is None or not base else 1.0 - now / base


def _fetch_age(s: Span) -> float | None:
    if s.fetch_since is None:
        return None
    # A producer held back by a full queue is not a source that is down: the age stops there.
    until = s.now if s.waiting_since is None else min(s.now, s.waiting_since)
    return max(0.0, until - s.fetch_since)


#: The :data:`PIPELINE` counters the quality window samples: all a formula's ``delta`` may read.
#: Only these are kept (a sample every ``alerts.interval`` over window + baseline): a formula
#: reading another counter adds it here.
SAMPLED_COUNTERS: tuple[str, ...] = (
    "records_in", *PROCESSED, "records_dropped", "fetches", "fetch_errors")

QUALITY: tuple[QualityMetric, ...] = (
    QualityMetric("null_rate", "ratio",
                  "share of accepted records with at least one null field (0–1)",
                  lambda s: ratio(s.null_records, s.accepted)),
    QualityMetric("duplicate_rate", "ratio",
                  "share of processed records dropped as duplicates (0–1)",
                  _outcome_rate("records_duplicate")),
    QualityMetric("late_rate", "ratio", "share of processed records that arrived too late (0–1)",
                  _outcome_rate("records_late")),
    QualityMetric("invalid_rate", "ratio",
                  "share of processed records rejected as invalid (0–1)",
                  _outcome_rate("records_rejected")),
    QualityMetric("filtered_rate", "ratio",
                  "share of processed records removed by filters (0–1)",
                  _outcome_rate("records_filtered")),
    QualityMetric("dropped_rate", "ratio",
                  "share of fetched records dropped by the queue policy (0–1)",
                  lambda s: ratio(s.delta("records_dropped"), s.delta("records_in"))),
    QualityMetric("fetch_error_rate", "ratio", "share of fetch attempts that failed (0–1)",
                  lambda s: ratio(s.delta("fetch_errors"),
                                  s.delta("fetches") + s.delta("fetch_errors"))),
    QualityMetric("throughput", "records/s", "records fetched per second", _throughput),
    QualityMetric("throughput_drop", "ratio",
                  "fall of throughput against the trailing baseline (0–1; <0 is a rise)",
                  _throughput_drop),
    QualityMetric("event_age_seconds", "seconds",
                  "age of the newest event time seen (freshness of the data)",
                  lambda s: None if s.newest_event is None
                  else max(0.0, s.now - s.newest_event)),
    QualityMetric("fetch_age_seconds", "seconds",
                  "seconds since the last successful fetch (not counting time the producer "
                  "spent waiting for room in a full queue)", _fetch_age),
    QualityMetric("backpressure_seconds", "seconds",
                  "seconds the producer has been waiting for room in the full queue (0 when "
                  "it is not waiting: the consumer keeps up)",
                  lambda s: 0.0 if s.waiting_since is None
                  else max(0.0, s.now - s.waiting_since)),
    QualityMetric("records", "records", "records processed in the window",
                  lambda s: s.processed),
)


# -- lookups --------------------------------------------------------------------------------------
def _index(*tables: Iterable[Metric]) -> Mapping[str, Metric]:
    return MappingProxyType({m.name: m for table in tables for m in table})


#: Every name ``/metrics`` exports (without the ``streamdash_`` prefix) → its declaration.
EXPORTED: Mapping[str, Metric] = _index(PIPELINE, HEALTH)
#: Snapshot field → its meaning (the query API and the CLI accept these names).
SNAPSHOT_FIELDS: Mapping[str, str] = MappingProxyType({m.name: m.help for m in SNAPSHOT})
#: Quality metric → its meaning (the names an alert rule's ``metric`` may take).
QUALITY_METRICS: Mapping[str, str] = MappingProxyType({m.name: m.help for m in QUALITY})


def help_text(name: str, kind: str) -> str:
    """The declared help of an exported name, or a generic one for a name not declared."""
    declared = EXPORTED.get(name)
    return declared.help if declared is not None else f"streamdash {kind} {name}."


def known_quality_metric(metric: str) -> bool:
    """True for a :data:`QUALITY` metric or a per-field ``null_rate.<field>``."""
    return metric in QUALITY_METRICS or (metric.startswith(FIELD_METRIC_PREFIX)
                                         and len(metric) > len(FIELD_METRIC_PREFIX))
