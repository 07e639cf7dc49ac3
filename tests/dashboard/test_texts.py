"""Tests for streamdash.dashboard.texts (what the header and KPI cards say)."""

from streamdash.dashboard import texts

T0 = 1_700_000_000.0


def test_last_update_and_status_badge():
    """The last update shows UTC time and age; the badge maps health to a colour."""
    assert texts.last_update_text(T0, T0 + 3.9) == "2023-11-14T22:13:20.000Z (3 s ago)"
    assert texts.last_update_text(None, T0) == "never"
    assert texts.status_badge("ok") == ("OK", "success")
    assert texts.status_badge("degraded") == ("DEGRADED", "warning")
    assert texts.status_badge("down") == ("DOWN", "danger")


def test_stale_only_without_a_successful_fetch_for_three_intervals():
    """Data is stale once more than 3 intervals pass without a successful fetch."""
    assert texts.freshness_message(T0, T0, T0, T0 + 15, 5) is None
    text, color = texts.freshness_message(T0, T0, T0, T0 + 16, 5)
    assert color == "warning" and "stale: no successful fetch for 16 s" in text
    assert "3 intervals of 5 s" in text
    assert texts.freshness_message(None, None, T0, T0 + 10, 5) is None
    text, _ = texts.freshness_message(None, None, T0, T0 + 20, 5)
    assert "since the start" in text and "stale" in text
    assert texts.freshness_message(None, None, None, T0, 5) is None


def test_a_source_that_answers_without_new_records_is_not_stale():
    """Successful fetches without new records (a 304) say "no new data", never "stale"."""
    text, color = texts.freshness_message(T0 + 59, T0, T0, T0 + 60, 5)
    assert color == "info" and text.startswith("No new data since 2023-11-14T22:13:20")
    assert "no new records for 60 s" in text and "last successful fetch 1 s ago" in text
    assert "stale" not in text.lower() and "down" not in text.lower()
    text, color = texts.freshness_message(T0 + 59, None, T0, T0 + 60, 5)
    assert color == "info" and "no records received in 60 s" in text
    assert texts.freshness_message(T0 + 59, T0 + 50, T0, T0 + 60, 5) is None


def test_interval_text_says_why_it_is_not_the_configured_one():
    """The header names the effective interval and, when raised, what raised it."""
    assert texts.interval_text(5, "configured") == "polling every 5 s"
    assert texts.interval_text(60, "min_interval") == \
        "polling every 60 s (the source's minimum)"
    assert "Cache-Control" in texts.interval_text(120, "server")


def test_refresh_props_pause_and_intervals():
    """A refresh choice becomes interval ms; 0 or None pauses (max_intervals 0)."""
    assert texts.refresh_props(2) == (2000, -1)
    assert texts.refresh_props(0)[1] == 0 and texts.refresh_props(None)[1] == 0


def test_kpi_texts():
    """KPI texts format counts, rates, values and alerts; missing ones show a dash."""
    k = texts.kpi_texts({"records_in": 12345, "rate": 4.04, "latest": 21.5, "mean": None,
                           "invalid": 0.5, "duplicate": 0.0, "late": None, "errors_5min": 2,
                           "active_alerts": 1})
    assert k == {"total": "12,345", "rate": "4.0", "latest": "21.50", "mean": "–",
                 "invalid": "50.00 %", "duplicate": "0.00 %", "late": "–", "errors": "2",
                 "alerts": "1"}
    assert texts.kpi_texts({"records_in": 0, "active_alerts": None})["alerts"] == "–"


def test_count_since():
    """Items are counted when their time (ISO or epoch) is at or after the limit."""
    items = [{"at": T0 - 10}, {"at": "2023-11-14T22:13:20.000Z"}, {"at": T0 + 5}, {"at": None}]
    assert texts.count_since(items, T0) == 2
