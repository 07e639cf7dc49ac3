"""The quality monitor: samples the pipeline, evaluates the rules, keeps and announces alerts."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..events import EventBus
from ..logs import log_event
from ..metrics import Metrics
from ..models import utc_iso
from ..store.recent import newer_than
from ..threads import ThreadRunner
from .notify import WebhookNotifier
from .rules import FIELD_METRIC_PREFIX, AlertState, Rule, alert_view, step, transition_view
from .window import BatchStats, QualityWindow, null_counters, pick

log = logging.getLogger("streamdash.quality")

_LEVELS = {"critical": logging.ERROR, "warning": logging.WARNING, "info": logging.WARNING}


class QualityMonitor:
    """Evaluates data-quality rules on a sliding window, in its own thread.

    Every ``interval`` seconds (wall time) it samples the pipeline counters, computes the
    quality metrics over the last ``window`` seconds of ``clock`` time and steps each rule's
    state machine (see ``quality/rules.py``). Each transition is logged (firing at WARNING, or
    ERROR when critical; resolved and pending at INFO), kept in the in-memory history,
    published on the event bus topic ``alert`` (a JSON-ready dict) and, for firing/resolved,
    handed to the webhook notifier. ``observe_batch`` must be registered as a batch listener.

    **Read API** (thread-safe; every call returns fresh copies of JSON-ready data):

    * ``active() -> list[dict]`` — alerts firing now (alert dicts, newest first)
    * ``alerts() -> list[dict]`` — every rule's current alert (any state), in rule order
    * ``history(limit=100, state=None, since=None) -> list[dict]`` — transitions, newest first;
      ``state`` filters on the new state, ``since`` (epoch seconds) on the transition time
    * ``rates() -> dict[str, float | None]`` — latest value of every quality metric
      (``None`` = no data), including ``null_rate.<field>`` per field
    * ``series(metrics=None, limit=None) -> dict[str, list]`` — recent values for charts:
      ``{"at": [ISO times], "ts": [epoch s], "<metric>": [values…], …}`` (oldest first)
    * ``thresholds() -> dict[str, list[tuple[name, op, threshold, severity]]]`` — per metric
    * ``rules() -> list[dict]`` — the rules as configured; ``describe()`` — health summary
    * ``enabled``, ``evaluations`` (a count: the version of the above), ``window_seconds``

    An alert dict holds ``name``, ``fingerprint``, ``state``, ``severity``, ``metric``, ``op``,
    ``threshold``, ``value`` (latest), ``fired_value``, ``no_data``, ``summary``, ``labels``,
    ``annotations``, ``active_at``, ``starts_at``, ``ends_at``, ``last_evaluated`` (UTC
    ISO-8601 to the ms, or ``None``). A history entry adds ``previous``, ``at`` and ``at_ts``.
    """

    def __init__(self, rules: Iterable[Rule], *, metrics: Metrics,
                 source_health: Any = None, events: EventBus | None = None,
                 notifier: WebhookNotifier | None = None, clock: Callable[[], float] = time.time,
                 interval: float = 1.0, window: float = 60.0, baseline: float = 600.0,
                 time_field: str = "", history_size: int = 1000, series_size: int = 600,
                 enabled: bool = True, fetch_interval: Callable[[], float] | None = None):
        self.enabled = enabled
        # Rules as configured; ``rule_list`` holds them scaled to the effective fetch interval
        # (``fetch_interval()``, read at every evaluation: a server may change it).
        self._configured = list(rules)
        self.fetch_interval = fetch_interval
        self._scaled_for: float | None = None
        self.rule_list = list(self._configured)
        self.metrics = metrics
        self.source_health = source_health
        self.events = events
        self.notifier = notifier
        self.clock = clock
        self.interval = interval
        self.window = QualityWindow(window, baseline)
        self.stats = BatchStats(time_field)
        self._fields = sorted({r.metric[len(FIELD_METRIC_PREFIX):] for r in self.rule_list
                               if r.metric.startswith(FIELD_METRIC_PREFIX)})
        self._states: dict[str, AlertState] = {r.name: AlertState() for r in self.rule_list}
        self._history: deque[dict[str, Any]] = deque(maxlen=history_size)
        self._series: deque[tuple[float, dict[str, float | None]]] = deque(maxlen=series_size)
        self._rates: dict[str, float | None] = {}
        # Transitions and series points ever added (the deques keep the newest): what a
        # follower (the state publisher) reads incrementally with ``transitions_since``.
        self._transitions = 0
        self._points = 0
        self._lock = threading.Lock()
        self._eval_lock = threading.Lock()
        self.watch_since: float | None = None
        self.evaluations = 0
        self._runner = ThreadRunner("monitor", self._run)
        self.stopping = self._runner.stopping

    # -- wiring ----------------------------------------------------------------------------
    def observe_batch(self, batch: Any, result: Any) -> None:
        """Batch listener (consumer thread): count nulls and the newest event time."""
        self.stats(batch, result)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start evaluating (and the notifier) unless already running or disabled."""
        if not self.enabled or self._runner.alive:
            return
        # The first sample is the baseline the first evaluation's window is measured from.
        self.sample()
        if self.notifier is not None:
            self.notifier.start()
        self._runner.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the evaluation and notifier threads; True when both ended within ``timeout``
        (a hanging webhook receiver holds the notifier up to its POST timeout)."""
        self._runner.request_stop()
        if self.notifier is not None:
            self.notifier.request_stop()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for both threads (``timeout`` bounds the whole wait); True when they ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self._runner.join(timeout)
        if self.notifier is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done = self.notifier.join(left) and done
        return done

    @property
    def alive(self) -> bool:
        """True while the evaluation thread runs."""
        return self._runner.alive

    def __enter__(self) -> QualityMonitor:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.evaluate()
            except Exception:
                # A bug in one evaluation must not end monitoring: log it, count it, go on.
                self.metrics.inc("monitor_errors")
                log.exception("quality evaluation failed")

    # -- evaluation --------------------------------------------------------------------------
    def sample(self, now: float | None = None) -> None:
        """Add a sample of the cumulative counters at ``now`` to the window."""
        now = self.clock() if now is None else now
        if self.watch_since is None:
            self.watch_since = now
        counters = self.metrics.snapshot()["counters"]
        self.window.add(now, pick(counters), null_counters(self.stats.snapshot()))

    def evaluate(self, now: float | None = None) -> list[dict[str, Any]]:
        """Sample, compute the metrics and step every rule; returns this tick's transitions."""
        with self._eval_lock:  # the thread and a test (or API) may both ask
            now = self.clock() if now is None else now
            self.sample(now)
            health = self.source_health.snapshot() if self.source_health is not None else {}
            values = self.window.compute(now, newest_event=self.stats.snapshot()["newest_event"],
                                         last_success=health.get("last_success"),
                                         watch_since=self.watch_since, fields=self._fields,
                                         waiting_since=health.get("waiting_since"))
            transitions = []
            interval = self.fetch_interval() if self.fetch_interval is not None else None
            with self._lock:
                if interval is not None and interval != self._scaled_for:
                    self._scaled_for = interval
                    self.rule_list = [r.scaled(interval) for r in self._configured]
                for rule in self.rule_list:
                    new, tr = step(rule, self._states[rule.name], values.get(rule.metric), now)
                    self._states[rule.name] = new
                    if tr is not None:
                        view = transition_view(tr)
                        self._history.append(view)
                        self._transitions += 1
                        transitions.append(view)
                self._rates = values
                self._series.append((now, values))
                self._points += 1
                firing = [alert_view(r, self._states[r.name]) for r in self.rule_list
                          if self._states[r.name].state == "firing"]
            self.evaluations += 1
            self.metrics.set_gauge("alerts_firing", len(firing))
            for view in transitions:
                self._announce(view)
            if self.notifier is not None:
                self.notifier.remind(firing, now)
            return transitions

    def _announce(self, view: dict[str, Any]) -> None:
        state = view["state"]
        level = _LEVELS[view["severity"]] if state == "firing" else logging.INFO
        log_event(log, level, f"alert {view['name']} {state}", alert=view["name"],
                  previous=view["previous"], severity=view["severity"], metric=view["metric"],
                  value=view["value"], op=view["op"], threshold=view["threshold"],
                  summary=view["summary"], starts_at=view["starts_at"], ends_at=view["ends_at"],
                  fingerprint=view["fingerprint"])
        self.metrics.inc(f"alert_transitions_{state}")
        if self.events is not None:
            self.events.publish("alert", dict(view))
        if self.notifier is not None and state in ("firing", "resolved"):
            # Remind-tracking starts at the firing time, not at the next tick.
            self.notifier.notify(view, view["at_ts"])

    # -- read API ----------------------------------------------------------------------------
    def active(self) -> list[dict[str, Any]]:
        """Alerts firing now, most recently started first."""
        with self._lock:
            views = [alert_view(r, self._states[r.name]) for r in self.rule_list
                     if self._states[r.name].state == "firing"]
        return sorted(views, key=lambda v: v["starts_at"] or "", reverse=True)

    def alerts(self) -> list[dict[str, Any]]:
        """Every rule's current alert (inactive ones too), in rule order."""
        with self._lock:
            return [alert_view(r, self._states[r.name]) for r in self.rule_list]

    def history(self, limit: int | None = 100, state: str | None = None,
                since: float | None = None) -> list[dict[str, Any]]:
        """Transitions, newest first, optionally only to ``state`` and at or after ``since``."""
        with self._lock:
            items = list(self._history)
        items.reverse()
        out = [dict(i) for i in items if (state is None or i["state"] == state)
               and (since is None or i["at_ts"] >= since)]
        return out[:limit] if limit else out

    def transitions_since(self, seen: int) -> tuple[list[dict[str, Any]], int]:
        """Transitions after the ``seen``-th still held (oldest first) and how many there
        have been (see ``store.recent.newer_than``)."""
        with self._lock:
            items = newer_than(self._history, self._transitions, seen)
            return [dict(i) for i in items], self._transitions

    def points_since(self, seen: int) -> tuple[list[tuple[float, dict[str, Any]]], int]:
        """Series points ``(ts, {metric: value})`` after the ``seen``-th still held (oldest
        first) and how many there have been."""
        with self._lock:
            items = newer_than(self._series, self._points, seen)
            return [(t, dict(v)) for t, v in items], self._points

    def rates(self) -> dict[str, float | None]:
        """The latest quality metric values (``None`` = no data in the window)."""
        with self._lock:
            return dict(self._rates)

    def series(self, metrics: Iterable[str] | None = None, limit: int | None = None
               ) -> dict[str, list[Any]]:
        """Recent metric values, oldest first, column-wise: ``at``, ``ts`` and one list a metric."""
        with self._lock:
            points = list(self._series)
        if limit:
            points = points[-limit:]
        names = list(metrics) if metrics is not None else sorted({k for _, v in points for k in v})
        out: dict[str, list[Any]] = {"at": [utc_iso(t) for t, _ in points],
                                     "ts": [t for t, _ in points]}
        for name in names:
            out[name] = [v.get(name) for _, v in points]
        return out

    def thresholds(self) -> dict[str, list[tuple[str, str, float, str]]]:
        """Per metric, the rules watching it: ``(rule name, op, threshold, severity)``."""
        out: dict[str, list[tuple[str, str, float, str]]] = {}
        for r in self.rule_list:
            out.setdefault(r.metric, []).append((r.name, r.op, r.threshold, r.severity))
        return out

    @property
    def window_seconds(self) -> float:
        """Seconds the quality metrics cover (``alerts.window``)."""
        return self.window.window

    def rules(self) -> list[dict[str, Any]]:
        """The configured rules (JSON-ready)."""
        return [r.describe() for r in self.rule_list]

    def describe(self) -> dict[str, Any]:
        """A summary for health output (webhook URLs masked)."""
        with self._lock:
            firing = sum(1 for s in self._states.values() if s.state == "firing")
            pending = sum(1 for s in self._states.values() if s.state == "pending")
        out: dict[str, Any] = {"enabled": self.enabled, "alive": self.alive,
                               "rules": len(self.rule_list),
                               "firing": firing, "pending": pending,
                               "evaluations": self.evaluations,
                               "window": self.window.window, "interval": self.interval}
        if self.notifier is not None:
            out["notifier"] = {"alive": self.notifier.alive, **self.notifier.describe()}
        return out
