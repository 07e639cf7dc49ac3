"""Tests for streamdash.dashboard.alerts (banner texts and alert history rows)."""

from streamdash.dashboard import alerts

T0 = 1_700_000_000.0
ALERT = {"name": "null_rate_high", "severity": "warning", "metric": "null_rate", "op": ">",
         "threshold": 0.05, "value": 0.31, "summary": "Null rate 31.0% is above 5%",
         "starts_at": "2023-11-14T22:13:20.000Z", "state": "firing"}


def test_banner_text_shows_rule_value_threshold_and_since():
    """A banner names severity and rule and shows value vs threshold and since when."""
    text = alerts.banner_text(ALERT, T0 + 40)
    assert text.startswith("WARNING · null_rate_high — Null rate 31.0% is above 5%")
    assert "(value 0.31 > threshold 0.05)" in text
    assert text.endswith("since 2023-11-14T22:13:20.000Z (40 s)")


def test_age_text_units():
    """Ages read in seconds, minutes or hours."""
    assert alerts.age_text(T0, T0 + 5) == "5 s"
    assert alerts.age_text(T0, T0 + 600) == "10 min"
    assert alerts.age_text(T0, T0 + 7300) == "2 h"
    assert alerts.age_text(None, T0) == ""


def test_banner_slots_critical_first_and_overflow():
    """Critical alerts take the first slots, empty slots close, extras are summarised."""
    crit = {**ALERT, "name": "source_down", "severity": "critical"}
    slots, more = alerts.banner_slots([ALERT, crit], T0, 3)
    assert [s[0] for s in slots] == [True, True, False]
    assert slots[0][1] == "danger" and "source_down" in slots[0][2]
    assert slots[1][1] == "warning" and more == ""
    slots, more = alerts.banner_slots([ALERT] * 4, T0, 2)
    assert more == "… and 2 more firing alerts"


def test_history_rows():
    """Each transition becomes a row with its change, value and threshold."""
    (row,) = alerts.history_rows([{**ALERT, "previous": "pending", "at": "T"}])
    assert row["change"] == "pending → firing" and row["rule"] == "null_rate_high"
    assert row["value"] == 0.31 and row["threshold"] == 0.05 and row["at"] == "T"
    assert alerts.history_rows([{"value": None}])[0]["value"] is None
