"""Tests for streamdash.status: the one ok / degraded / down policy."""

from streamdash.status import DOWN_AFTER_FAILURES, QUEUE_FILL_LIMIT, judge

WARN = {"name": "null_rate_high", "severity": "warning", "summary": "Null rate 9.0% is above 5%"}
CRIT = {"name": "source_down", "severity": "critical", "summary": "Source down: no fetch for 16 s"}
INFO = {"name": "fyi", "severity": "info", "summary": "just so you know"}


def test_ok_when_running_and_nothing_fires():
    """A running pipeline with no firing alert and healthy components is ok (HTTP 200)."""
    s = judge(running=True, queue_fill=0.1)
    assert (s.state, s.reasons, s.firing, s.http_code) == ("ok", (), (), 200)
    assert s.hover_text().startswith("OK")


def test_a_warning_or_info_alert_degrades():
    """Any non-critical firing alert makes the status degraded, named in the reasons."""
    for alert in (WARN, INFO):
        s = judge(running=True, firing=[alert])
        assert s.state == "degraded" and s.http_code == 200
        assert s.firing == (alert["name"],) and alert["name"] in s.hover_text()
    assert "Null rate 9.0% is above 5%" in judge(running=True, firing=[WARN]).reasons[0]


def test_a_critical_alert_means_down_and_comes_first():
    """A critical firing alert makes the status down (HTTP 503), listed before warnings."""
    s = judge(running=True, firing=[WARN, CRIT])
    assert s.state == "down" and s.http_code == 503
    assert s.reasons[0].startswith("source_down (critical)")
    assert s.firing == ("null_rate_high", "source_down")


def test_source_failures_degrade_then_mean_unreachable():
    """Failed fetches in a row degrade the status, and make it down at DOWN_AFTER_FAILURES."""
    assert judge(running=True, source_failures=1).state == "degraded"
    assert judge(running=True, source_failures=DOWN_AFTER_FAILURES - 1).state == "degraded"
    s = judge(running=True, source_failures=DOWN_AFTER_FAILURES)
    assert s.state == "down" and "source unreachable" in s.reasons[0]


def test_restarting_thread_full_queue_and_storage_degrade():
    """A restarting thread, a queue over the fill limit and failing storage each degrade."""
    assert "producer restarting" in judge(running=True, restarting=["producer"]).reasons[0]
    assert judge(running=True, queue_fill=QUEUE_FILL_LIMIT).state == "ok"
    s = judge(running=True, queue_fill=0.85)
    assert s.state == "degraded" and "queue 85% full" in s.reasons[0]
    assert judge(running=True, queue_fill=None).state == "ok"  # unknown fill: no opinion
    s = judge(running=True, storage_error="database or disk is full")
    assert s.state == "degraded" and "disk is full" in s.reasons[0]


def test_not_running_or_dead_thread_is_down():
    """A stopped pipeline or a dead thread is down whatever else holds."""
    assert judge(running=False).reasons == ("pipeline not running",)
    assert judge(running=True, threads_alive=False).state == "down"
