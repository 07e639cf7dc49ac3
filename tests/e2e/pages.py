"""Checks on the dashboard page shared by browser tests."""

from __future__ import annotations

from tests.helpers import ROUND_TRIP


def number(text: str) -> int:
    """A KPI's integer (``1,234`` → 1234), or -1 while it shows no number."""
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else -1


def assert_counts_and_update_time_move(dash_duo, tick: float) -> None:
    """The record count appears and grows, and the last-update time changes, each within
    ``tick`` (a new record shows within a fetch interval plus a refresh: ``tests.helpers.within``)
    — the first one a round trip later, as it waits for the page too; the browser console stays
    empty."""
    first = tick + ROUND_TRIP
    dash_duo.wait_for_element("#kpi-total", timeout=first)
    dash_duo._wait_for(lambda _: number(dash_duo.find_element("#kpi-total").text) > 0,
                       timeout=first, msg="#kpi-total never showed a number")
    first_count = number(dash_duo.find_element("#kpi-total").text)
    first_update = dash_duo.find_element("#last-update").text
    dash_duo._wait_for(lambda _: number(dash_duo.find_element("#kpi-total").text) > first_count,
                       timeout=tick, msg="record count did not grow")
    # The update time is shown to the second: it changes within a second plus a tick.
    dash_duo._wait_for(lambda _: dash_duo.find_element("#last-update").text != first_update,
                       timeout=tick + 1, msg="last-update time did not change")
    assert dash_duo.get_logs() == []
