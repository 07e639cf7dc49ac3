"""The effective poll interval: Cache-Control parsing (bounded), the rule, and what an http
source tells it from a real local server."""

from __future__ import annotations

import logging

import pytest

from streamdash.errors import ConfigError, SourceError
from streamdash.sources.base import Source
from streamdash.sources.cadence import Cadence, cache_max_age, effective_interval
from streamdash.sources.fields import parse_fields
from streamdash.sources.http import HttpSource, http_kwargs
from streamdash.sources.retry import RetryPolicy
from tests.httpserver import Reply, json_reply

ITEMS = {"items": [{"id": 1}]}


def make(url: str, **kw) -> HttpSource:
    kw.setdefault("retry", RetryPolicy(max_tries=2, max_time=5, base=0.001, cap=0.005))
    return HttpSource("test", url=url, records_path="items",
                      fields=parse_fields("source.fields", {"id": "id:int"}), **kw)


@pytest.mark.parametrize("header, expected", [
    ("max-age=60", 60.0), ("public, max-age=60, must-revalidate", 60.0),
    ('max-age="30"', 30.0), ("MAX-AGE=45", 45.0), ("s-maxage=90", 0.0),
    ("no-cache, max-age=60", 0.0), ("no-store", 0.0), ("max-age=abc", 0.0),
    ("max-age=-5", 0.0), ("", 0.0), ("max-age=999999", 300.0)])
def test_cache_max_age_parses_and_caps(header, expected):
    """max-age is read as seconds, capped; no-cache/no-store and junk mean no hint."""
    assert cache_max_age({"Cache-Control": header}, cap=300.0) == expected


def test_hostile_cache_control_is_bounded():
    """A huge number or a megabyte header neither hangs the parser nor exceeds the cap."""
    assert cache_max_age({"Cache-Control": "max-age=" + "9" * 100_000}, cap=300.0) == 0.0
    assert cache_max_age({"Cache-Control": "x" * 1_000_000 + ", max-age=60"}, cap=300.0) == 0.0
    assert cache_max_age({"Cache-Control": "max-age=9999999999"}, cap=300.0) == 300.0
    assert cache_max_age({"Cache-Control": "max-age=60"}, cap=0.0) == 0.0  # hint turned off


def test_effective_interval_is_the_largest_input():
    """The configured interval, the source's minimum and the server's hint: the largest wins."""
    assert effective_interval(5) == 5.0
    assert effective_interval(5, 60) == 60.0
    assert effective_interval(5, 60, 120) == 120.0
    assert effective_interval(90, 60, 30) == 90.0


class HintSource(Source):
    """A source whose minimum and server hint a test sets."""

    def __init__(self, minimum: float = 0.0, hint: float = 0.0):
        super().__init__("hinted")
        self.min_interval, self.hint = minimum, hint

    def interval_hint(self) -> float:
        return self.hint


def test_cadence_follows_the_source_and_logs_each_change(caplog):
    """Cadence reads the hint live, says which input decides, and logs a change once."""
    caplog.set_level(logging.INFO, "streamdash.sources")
    src = HintSource(minimum=60)
    cadence = Cadence(5, src)
    assert cadence.current() == 60.0 and cadence.reason() == "min_interval"
    assert cadence.current() == 60.0
    src.hint = 120
    assert cadence.describe() == {"effective": 120.0, "configured": 5.0, "min_interval": 60.0,
                                  "server": 120.0, "reason": "server"}
    assert cadence.current() == 120.0
    src.hint, src.min_interval = 0, 0
    assert cadence.current() == 5.0 and cadence.reason() == "configured"
    assert [r.getMessage() for r in caplog.records] == [  # the start-up value is not news
        "polling every 120 s", "polling every 5 s"]
    assert Cadence(5, Source("plain")).current() == 5.0  # a source without hints


def test_http_source_hint_from_cache_control_and_304(server):
    """A good response's max-age becomes the hint (capped); a 304 carries its own."""
    def reply(req):
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers={"Cache-Control": "max-age=90"})
        return json_reply(ITEMS, headers={"ETag": '"v1"', "Cache-Control": "public, max-age=60"})
    server.route("/data", reply)
    src = make(server.url("/data"), max_cache_age=75)
    assert src.interval_hint() == 0.0
    src.fetch()
    assert src.interval_hint() == 60.0
    assert src.fetch() == [] and src.interval_hint() == 75.0  # 90 capped at max_cache_age
    assert src.describe()["interval_hint"] == 75.0


def test_bad_body_leaves_the_hint_alone(server):
    """A response whose body fails keeps the previous hint (like the validators)."""
    server.route("/data", json_reply(ITEMS, headers={"Cache-Control": "max-age=30"}),
                 Reply(200, b"not json", {"Cache-Control": "max-age=3000"}))
    src = make(server.url("/data"))
    src.fetch()
    with pytest.raises(SourceError):
        src.fetch()
    assert src.interval_hint() == 30.0


def test_retry_after_pause_is_the_hint_while_it_lasts(server):
    """A Retry-After beyond the retry budget is the hint until the pause is over."""
    now = [1000.0]
    server.route("/data", Reply(429, headers={"Retry-After": "120"}), then=json_reply(ITEMS))
    src = make(server.url("/data"), monotonic=lambda: now[0])
    with pytest.raises(SourceError):
        src.fetch()
    assert src.interval_hint() == 120.0
    now[0] += 121
    assert src.interval_hint() == 0.0


def test_max_cache_age_setting_is_validated():
    """source.max_cache_age takes 0–3600 seconds (default 300) and refuses anything else."""
    assert http_kwargs({"url": "http://h/"})["max_cache_age"] == 300.0
    assert http_kwargs({"url": "http://h/", "max_cache_age": 0})["max_cache_age"] == 0.0
    with pytest.raises(ConfigError) as err:
        http_kwargs({"url": "http://h/", "max_cache_age": 86400})
    assert err.value.key == "source.max_cache_age"
