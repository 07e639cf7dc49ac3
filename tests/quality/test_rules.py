"""The pure alert state machine, driven with made-up times."""

from __future__ import annotations

import pytest

from streamdash.quality.rule_params import parse_rule
from streamdash.quality.rules import AlertState, Rule, alert_view, step, transition_view
from streamdash.testing import FakeClock

T0 = 1_700_000_000.0


def run(rule: Rule, values: list[tuple[float, float | None]]):
    """Step ``rule`` through ``(time, value)`` pairs; returns the final state and transitions."""
    st, transitions = AlertState(), []
    for now, value in values:
        st, tr = step(rule, st, value, now)
        if tr is not None:
            transitions.append(tr)
    return st, transitions


def test_pending_then_firing_after_for():
    """A true condition goes pending at once and fires only when it has held for ``for``."""
    rule = Rule("nulls", "null_rate", ">", 0.05, for_=10)
    clock = FakeClock(T0)
    st, tr = step(rule, AlertState(), 0.2, clock())
    assert (st.state, tr.previous, tr.state.state) == ("pending", "inactive", "pending")
    assert st.active_at == T0 and st.starts_at is None
    clock.advance(9.9)
    st, tr = step(rule, st, 0.3, clock())
    assert st.state == "pending" and tr is None
    clock.advance(0.1)
    st, tr = step(rule, st, 0.4, clock())
    assert st.state == "firing" and tr.previous == "pending"
    assert st.starts_at == T0 + 10 and st.fired_value == 0.4 and st.last_evaluated == T0 + 10


def test_pending_clears_when_condition_goes_false():
    """A pending alert whose condition turns false returns to inactive without firing."""
    rule = Rule("nulls", "null_rate", ">", 0.05, for_=10)
    st, trs = run(rule, [(T0, 0.2), (T0 + 5, 0.01), (T0 + 20, 0.01)])
    assert st.state == "inactive" and st.active_at is None
    assert [(t.previous, t.state.state) for t in trs] == [("inactive", "pending"),
                                                         ("pending", "inactive")]


def test_for_zero_fires_immediately_and_resolves_when_false():
    """With ``for: 0`` the first true evaluation fires; the first false one resolves."""
    rule = Rule("down", "fetch_age_seconds", ">", 15, severity="critical")
    st, trs = run(rule, [(T0, 16.0), (T0 + 1, 17.0), (T0 + 2, 0.5)])
    assert [(t.previous, t.state.state, t.at) for t in trs] == [
        ("inactive", "firing", T0), ("firing", "resolved", T0 + 2)]
    assert st.starts_at == T0 and st.ends_at == T0 + 2 and st.value == 0.5


def test_flapping_with_keep_firing_for_gives_one_firing_and_one_resolve():
    """An input flapping around the threshold fires once and resolves once with keep_firing_for."""
    rule = Rule("dups", "duplicate_rate", ">", 0.02, keep_firing_for=5)
    values = [(T0 + i, 0.5 if i % 2 == 0 else 0.0) for i in range(20)]   # flaps every second
    values += [(T0 + 20 + i, 0.0) for i in range(10)]                   # then calm
    st, trs = run(rule, values)
    assert [t.state.state for t in trs] == ["firing", "resolved"]
    # The last true value was at T0+18; false since T0+19; resolved 5 s later.
    assert st.starts_at == T0 and st.ends_at == T0 + 24


def test_flapping_without_keep_firing_for_fires_each_time():
    """Without keep_firing_for the same flapping input resolves and re-fires each time."""
    rule = Rule("dups", "duplicate_rate", ">", 0.02)
    _, trs = run(rule, [(T0 + i, 0.5 if i % 2 == 0 else 0.0) for i in range(6)])
    assert [t.state.state for t in trs] == ["firing", "resolved"] * 3


def test_resolved_alert_fires_again_through_pending():
    """After resolving, a new true condition starts a new pending period and a new starts_at."""
    rule = Rule("nulls", "null_rate", ">", 0.05, for_=2)
    st, trs = run(rule, [(T0, 0.1), (T0 + 2, 0.1), (T0 + 3, 0.0), (T0 + 10, 0.1),
                         (T0 + 12, 0.1)])
    assert [t.state.state for t in trs] == ["pending", "firing", "resolved", "pending", "firing"]
    assert st.starts_at == T0 + 12 and st.ends_at is None and st.active_at == T0 + 10


@pytest.mark.parametrize("op,threshold,value,holds", [
    (">", 1, 2, True), (">", 1, 1, False), (">=", 1, 1, True), ("<", 1, 0.5, True),
    ("<=", 1, 1, True), ("<=", 1, 1.5, False), ("==", 0, 0, True), ("!=", 0, 0, False),
])
def test_every_operator(op, threshold, value, holds):
    """Each comparison operator compares ``value op threshold``."""
    assert Rule("r", "throughput", op, threshold).holds(value) is holds


def test_no_data_keep_last_keeps_state():
    """With no data and ``keep_last`` the state (firing here) stays, flagged as no data."""
    rule = Rule("nulls", "null_rate", ">", 0.05)
    st, trs = run(rule, [(T0, 0.5), (T0 + 1, None), (T0 + 60, None)])
    assert st.state == "firing" and st.no_data and st.last_evaluated == T0 + 60
    assert len(trs) == 1 and st.value == 0.5


def test_no_data_ok_resolves():
    """With no data and ``ok`` a firing alert resolves (the condition counts as false)."""
    rule = Rule("nulls", "null_rate", ">", 0.05, no_data="ok")
    st, trs = run(rule, [(T0, 0.5), (T0 + 1, None)])
    assert [t.state.state for t in trs] == ["firing", "resolved"] and st.ends_at == T0 + 1
    assert st.value is None and st.no_data


def test_no_data_alerting_fires():
    """With no data and ``alerting`` the alert goes pending then fires, with no value."""
    rule = Rule("fresh", "event_age_seconds", ">", 30, for_=5, no_data="alerting")
    st, trs = run(rule, [(T0, None), (T0 + 5, None)])
    assert [t.state.state for t in trs] == ["pending", "firing"]
    assert st.value is None and st.starts_at == T0 + 5
    assert "n/a" in rule.render_summary(None)


def test_views_are_json_ready_with_utc_millisecond_times():
    """Alert and transition views carry the fields, labels and ISO-8601 ms UTC times."""
    rule = Rule("nulls", "null_rate", ">", 0.05, labels={"team": "data"},
                summary="Null rate {value:.1%} above {threshold:.0%}", description="see {metric}")
    st, trs = run(rule, [(T0 + 0.1234, 0.25)])
    view = transition_view(trs[0])
    assert view["starts_at"] == "2023-11-14T22:13:20.123Z" and view["ends_at"] is None
    assert view["at"] == view["last_evaluated"] == view["starts_at"]
    assert view["labels"] == {"alertname": "nulls", "severity": "warning", "team": "data"}
    assert view["annotations"] == {"summary": "Null rate 25.0% above 5%",
                                   "description": "see null_rate"}
    assert view["fingerprint"] == rule.fingerprint and len(rule.fingerprint) == 16
    assert alert_view(rule, st)["state"] == "firing"


def test_templates_show_labels_and_tolerate_unknown_ones():
    """``{labels[x]}`` shows a label; a label the rule lacks renders empty, never failing."""
    rule = parse_rule({"name": "t", "metric": "null_rate", "op": ">", "threshold": 0.1,
                       "labels": {"team": "data"},
                       "summary": "{labels[alertname]} for {labels[team]}{labels[source]}"},
                      "alerts.rules[t]")
    assert rule.render_summary(0.2) == "t for data"


def test_fingerprint_is_stable_and_depends_on_labels():
    """The fingerprint is the same for the same label set and differs when labels differ."""
    a = Rule("nulls", "null_rate", ">", 0.05, labels={"team": "a"})
    assert a.fingerprint == Rule("nulls", "null_rate", ">", 0.9, labels={"team": "a"}).fingerprint
    assert a.fingerprint != Rule("nulls", "null_rate", ">", 0.05, labels={"team": "b"}).fingerprint
