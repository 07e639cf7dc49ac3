"""The producer→consumer queue: bounded in batches, records and bytes; big fetches split."""

from __future__ import annotations

import queue
import threading

import pytest

from streamdash.metrics import Metrics
from streamdash.models import Batch
from streamdash.pipeline.batchqueue import BatchQueue, approx_bytes
from streamdash.pipeline.workers import Producer, SourceHealth
from streamdash.testing import ListSource


def batch(n: int) -> Batch:
    return Batch([{"id": i} for i in range(n)], 0.0, "s")


def by_count(records):
    """A sizer that makes a record one byte, so byte limits are easy to reason about."""
    return len(records)


def test_full_by_batches_records_or_bytes_names_the_limit():
    """A put that would exceed any of the three limits is refused, naming that limit."""
    q = BatchQueue(maxsize=2, max_records=10, max_bytes=1_000, sizer=by_count)
    q.put_nowait(batch(4))
    with pytest.raises(queue.Full, match="records"):
        q.put_nowait(batch(7))
    q.put_nowait(batch(6))
    with pytest.raises(queue.Full, match="batches"):
        q.put_nowait(batch(0))
    small = BatchQueue(maxsize=10, max_records=1_000, max_bytes=5, sizer=by_count)
    small.put_nowait(batch(3))
    with pytest.raises(queue.Full, match="bytes"):
        small.put_nowait(batch(3))


def test_an_empty_queue_takes_an_oversized_batch_and_fill_says_so():
    """One batch above a limit still passes (else nothing would), and fill exceeds 1."""
    q = BatchQueue(maxsize=10, max_records=5, max_bytes=1_000, sizer=by_count)
    q.put_nowait(batch(8))
    assert q.fill() == pytest.approx(1.6)
    assert q.get_nowait().records[-1] == {"id": 7}
    assert q.stats() == {"depth": 0, "capacity": 10, "records": 0, "max_records": 5,
                         "bytes": 0, "max_bytes": 1_000, "fill": 0.0}


def test_blocked_put_resumes_when_the_consumer_makes_room():
    """A put waiting for record room goes through once get() frees enough records."""
    q = BatchQueue(maxsize=10, max_records=10, max_bytes=10**6)
    q.put(batch(8))
    done = threading.Event()
    threading.Thread(target=lambda: (q.put(batch(5), timeout=5), done.set()), daemon=True).start()
    assert not done.wait(0.05)  # waiting for room (8 + 5 > 10)
    assert len(q.get(timeout=1).records) == 8
    assert done.wait(5) and q.qsize() == 1
    with pytest.raises(queue.Full):
        q.put(batch(6), timeout=0.01)
    with pytest.raises(queue.Empty):
        BatchQueue(1, 1, 1).get(timeout=0.01)


def test_approx_bytes_scales_a_sample_to_the_batch():
    """The byte estimate grows with the records and their values, from a sample."""
    small = approx_bytes([{"a": 1}] * 1000)
    big = approx_bytes([{"a": "x" * 1000}] * 1000)
    assert 1000 * 100 < small < big and approx_bytes([]) == 0
    assert approx_bytes([b"raw line"] * 10) > 0


def test_producer_splits_a_big_fetch_into_bounded_batches():
    """A fetch of 12 records with max_batch_records 5 is queued as batches of 5, 5 and 2."""
    q = BatchQueue(maxsize=10, max_records=100, max_bytes=10**6)
    metrics = Metrics()
    producer = Producer(ListSource([[{"id": i} for i in range(12)]]), q, metrics, SourceHealth(),
                        interval=1, max_batch_records=5)
    assert producer.fetch_once() == 12
    sizes = [len(q.get_nowait().records) for _ in range(q.qsize())]
    assert sizes == [5, 5, 2]
    assert metrics.counter("records_in") == 12


def test_drop_oldest_makes_room_by_records_and_counts_the_limit():
    """With drop_oldest, a record-full queue drops old batches; queue_full_records counts it."""
    q = BatchQueue(maxsize=100, max_records=10, max_bytes=10**6)
    metrics = Metrics()
    producer = Producer(ListSource([[{"id": i} for i in range(6)]] * 3), q, metrics,
                        SourceHealth(), interval=1, policy="drop_oldest")
    for _ in range(3):
        producer.fetch_once()
    assert q.qsize() == 1 and q.stats()["records"] == 6
    assert metrics.counter("records_dropped") == 12
    assert metrics.counter("queue_full_records") == 2
