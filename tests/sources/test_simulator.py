"""Tests for streamdash.sources.simulator and the source registry."""

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.sources import build_source
from streamdash.sources.simulator import SimulatedSource
from streamdash.testing import FakeClock


def make(**kw):
    return SimulatedSource(clock=FakeClock(1_700_000_000.0), **kw)


def test_same_seed_same_records():
    """Same seed and clock give identical records; another seed differs."""
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    assert [a.fetch() for _ in range(3)] == [b.fetch() for _ in range(3)]
    assert a.fetch() != c.fetch()


def test_records_are_realistic():
    """Without faults, records carry sensor, id, UTC timestamp and plausible values."""
    src = make(seed=1, sensors=3, batch_size=100, **{k: 0.0 for k in (
        "null_rate", "duplicate_rate", "late_rate", "invalid_rate", "outlier_rate")})
    recs = src.fetch()
    assert len(recs) == 100
    assert {r["sensor"] for r in recs} <= {"sensor-01", "sensor-02", "sensor-03"}
    assert len({r["id"] for r in recs}) == 100
    assert all(r["ts"].endswith("Z") and r["ts"].startswith("2023-11-14") for r in recs)
    assert all(5 < r["temperature"] < 40 and 0 <= r["humidity"] <= 100 for r in recs)


@pytest.mark.parametrize("fault, check", [
    ("null_rate", lambda r: r.get("temperature") is None or r.get("humidity") is None),
    ("invalid_rate", lambda r: "sensor" not in r or r.get("temperature") == "abc"
     or r.get("ts") == "not-a-time"),
    ("outlier_rate", lambda r: isinstance(r["temperature"], float) and r["temperature"] > 45
     or r["temperature"] < -5),
    ("late_rate", lambda r: r["ts"] < "2023-11-14T22:12"),
])
def test_fault_rates_inject_faults(fault, check):
    """Each fault rate injects its kind of bad record at about that rate."""
    rates = {k: 0.0 for k in ("null_rate", "duplicate_rate", "late_rate", "invalid_rate",
                              "outlier_rate")}
    rates[fault] = 0.5
    recs = make(seed=2, batch_size=400, **rates).fetch()
    hits = sum(1 for r in recs if check(r))
    assert 140 < hits < 260


def test_duplicates_are_exact_copies():
    """Duplicates repeat an earlier record exactly (same id)."""
    recs = make(seed=3, batch_size=500, duplicate_rate=0.2).fetch()
    ids = [r["id"] for r in recs]
    assert 50 < len(ids) - len(set(ids)) < 150


def test_count_bounds_the_stream_and_set_rates():
    """count stops the stream; set_rates changes faults from the next record on."""
    src = make(seed=4, batch_size=30, count=50)
    assert [len(src.fetch()) for _ in range(3)] == [30, 20, 0]
    src.set_rates(null_rate=1.0, duplicate_rate=0.0)
    assert src.rates["null_rate"] == 1.0
    with pytest.raises(TypeError):
        src.set_rates(bogus=1)
    with pytest.raises(TypeError):
        make(bogus=1)
    assert src.describe()["kind"] == "simulated"


def test_registry_validates_simulator_params():
    """Unknown or bad simulator settings are ConfigErrors naming source.<key>."""
    source = build_source(Settings({"source": {"seed": 9, "null_rate": 0.2}}))
    assert source.rates["null_rate"] == 0.2
    for params, key in [({"sede": 1}, "source.sede"), ({"null_rate": 2}, "source.null_rate"),
                        ({"batch_size": 0}, "source.batch_size"), ({"seed": "x"}, "source.seed"),
                        ({"sensors": True}, "source.sensors")]:
        with pytest.raises(ConfigError) as err:
            build_source(Settings({"source": params}))
        assert err.value.key == key


def test_simulator_sizes_are_bounded():
    """A sensor count or batch size past its bound is refused before anything is allocated."""
    for params, key in [({"sensors": 10_001}, "source.sensors"),
                        ({"batch_size": 1_000_001}, "source.batch_size")]:
        with pytest.raises(ConfigError, match="must be between 1 and") as err:
            build_source(Settings({"source": params}))
        assert err.value.key == key
