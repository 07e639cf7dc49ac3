"""``streamdash bench push``: messages per second from a broker on loopback into the ring.

Runs a real :class:`~streamdash.runtime.Runtime` (no dashboard) with an ``mqtt`` or
``redis-stream`` source and the pipeline's default chain for the workload's schema (``dedup`` on
``id``, ``late``, a 10 s ``window`` on ``value``), and times how long ``--messages`` readings
take from the first one published to the last one visible in the ring buffer.

* ``--kind redis``: the entries are added to the stream first (pipelined ``XADD``), then the
  runtime starts: the figure is how fast streamdash drains a stream.
* ``--kind mqtt``: a publisher in a child process (so it does not share this process's GIL)
  sends pre-built PUBLISH packets on a raw socket, as fast as the broker takes them; QoS 1
  keeps at most 10,000 unacknowledged. A QoS 0 message the broker does not pass on (its queue
  for a slow subscriber is full) is lost by design: the report says how many arrived.

The broker is yours (``--url``): e.g. ``mosquitto -p 1890`` or ``redis-server --port 6390
--save ''``. Each run uses a fresh stream, group or client id. Reported per run: records/s
(wall), records per CPU second of this process (the pipeline, the source and paho/redis-py;
on a loaded machine the steadier figure), and for MQTT the publisher's own rate.

The garbage collector is set up as in ``streamdash run`` and the worker
(:func:`~streamdash.gc_tuning.tune_for_streaming`), unless ``--no-gc-tuning``: the figure is
the product's, not that of CPython's defaults (a young collection every 700 net
container allocations instead of 20,000).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

#: The workload's schema; without ``transforms`` the default chain applies (dedup, late, window).
SCHEMA = {"key": "id", "event_time": "ts",
          "fields": {"id": "str", "sensor": "str", "ts": "timestamp", "value": "float"}}


def payload(i: int, t0: float) -> bytes:
    """One reading: a unique id, one of 5 sensors, a time 1 ms after the previous."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + i / 1000)) + \
        f".{i % 1000:03d}Z"
    return (f'{{"id": "r-{i}", "sensor": "s{i % 5}", "ts": "{ts}", '
            f'"value": {(i % 400) / 10}}}').encode()


# -- MQTT: a raw publisher in a child process --------------------------------------------------
def _packet(kind: int, body: bytes) -> bytes:
    n, head = len(body), bytearray([kind])
    while True:
        byte, n = n & 127, n >> 7
        head.append(byte | (128 if n else 0))
        if not n:
            return bytes(head) + body


def publish_main() -> None:
    """Child process: ``host port topic n qos t0``; prints ``ready``, waits for a line on
    stdin, publishes, prints the seconds it took."""
    host, port, topic, n, qos, t0 = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), \
        int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    sock = socket.create_connection((host, port))
    cid = f"bench-pub-{uuid.uuid4().hex[:8]}".encode()
    sock.sendall(_packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big")
                         + cid))
    assert sock.recv(4)[:1] == b"\x20", "no CONNACK"
    topic_part = len(topic).to_bytes(2, "big") + topic
    window = threading.Semaphore(10_000)
    if qos:  # count PUBACKs in a thread; each frees a place in the window
        def read_acks() -> None:
            buf = b""
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                for _ in range(len(buf) // 4):
                    window.release()
                buf = buf[len(buf) // 4 * 4:]
        threading.Thread(target=read_acks, daemon=True).start()
    packets = [_packet(0x30 | qos << 1, topic_part + (((i % 65535) + 1).to_bytes(2, "big")
                                                      if qos else b"") + payload(i, t0))
               for i in range(n)]
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.perf_counter()
    for lo in range(0, n, 500):
        chunk = packets[lo:lo + 500]
        if qos:
            for _ in chunk:
                window.acquire()
        sock.sendall(b"".join(chunk))
    print(round(time.perf_counter() - began, 4), flush=True)
    time.sleep(1.0)  # let the last PUBACKs come before the socket closes
    sock.close()


# -- one run ---------------------------------------------------------------------------------
def _settings(source: dict[str, Any], n: int) -> Any:
    from ..config import Settings
    return Settings({"source": source, "schema": SCHEMA, "buffer": {"capacity": n},
                     "log": {"summary_interval": 0}})


def _wait_visible(rt: Any, n: int, stall: float) -> float:
    """Seconds (perf_counter) when ``n`` records were visible, or when nothing new came for
    ``stall`` seconds."""
    last, since = -1, time.perf_counter()
    while True:
        seen = len(rt.buffer)
        now = time.perf_counter()
        if seen >= n:
            return now
        if seen != last:
            last, since = seen, now
        elif now - since > stall:
            return since
        time.sleep(0.002)


def run_redis(url: str, n: int, batch_size: int) -> dict[str, Any]:
    import redis

    from ..runtime import Runtime
    stream = f"bench-{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(url)
    t0 = time.time()
    for lo in range(0, n, 5000):
        pipe = r.pipeline(transaction=False)
        for i in range(lo, min(n, lo + 5000)):
            pipe.xadd(stream, {"data": payload(i, t0)})
        pipe.execute()
    source = {"type": "redis-stream", "url": url, "stream": stream, "start": "0",
              "payload_field": "data", "batch_size": batch_size}
    rt = Runtime(_settings(source, n))
    cpu, began = time.process_time(), time.perf_counter()
    rt.start()
    done = _wait_visible(rt, n, 10.0)
    cpu = time.process_time() - cpu
    rt.stop()
    r.delete(stream)
    return {"kind": "redis", "messages": n, "visible": len(rt.buffer),
            "seconds": round(done - began, 3), "records_per_s": round(len(rt.buffer) /
                                                                      (done - began)),
            "records_per_cpu_s": round(len(rt.buffer) / cpu), "counts": rt.counts()}


def run_mqtt(url: str, n: int, batch_size: int, qos: int) -> dict[str, Any]:
    from ..runtime import Runtime
    parts = urlsplit(url)
    tag = uuid.uuid4().hex[:8]
    source = {"type": "mqtt", "url": url, "topic": f"bench-{tag}/+", "qos": qos,
              "client_id": f"bench-{tag}", "clean_session": True, "batch_size": batch_size,
              "max_in_flight": max(10_000, 2 * batch_size)}
    rt = Runtime(_settings(source, n))
    rt.start()
    deadline = time.monotonic() + 10
    while not rt.source.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the subscription
    child = subprocess.Popen([sys.executable, "-c", "from streamdash.bench.push import "
                              "publish_main; publish_main()", parts.hostname or "127.0.0.1",
                              str(parts.port or 1883), f"bench-{tag}/s", str(n), str(qos),
                              str(time.time())], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError("the publisher did not start")
    cpu, began = time.process_time(), time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    done = _wait_visible(rt, n, 5.0)
    cpu = time.process_time() - cpu
    sent = float(child.stdout.readline() or "nan")
    child.wait(30)
    rt.stop()
    seen = len(rt.buffer)
    return {"kind": f"mqtt-qos{qos}", "messages": n, "visible": seen,
            "seconds": round(done - began, 3), "records_per_s": round(seen / (done - began)),
            "records_per_cpu_s": round(seen / cpu), "publisher_per_s": round(n / sent),
            "counts": rt.counts()}


def run_reference(n: int, batch_size: int) -> dict[str, Any]:
    """The same readings through the same processor alone, batch after batch in this thread:
    what the pipeline does without a source, the yardstick for the runs of the same call (a
    loaded machine's speed drifts; ratios within one call hold)."""
    from ..models import Batch
    from ..pipeline import build_processor
    from ..sources.base import FieldHints
    t0 = time.time()
    lines = [payload(i, t0) for i in range(n)]
    processor = build_processor(_settings({"type": "simulated"}, n), FieldHints())
    cpu, began, accepted = time.process_time(), time.perf_counter(), 0
    for lo in range(0, n, batch_size):
        batch = lines[lo:lo + batch_size]
        accepted += len(processor.process(batch, Batch(batch, t0)).accepted)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {"kind": "pipeline only", "messages": n, "visible": accepted,
            "seconds": round(wall, 3), "records_per_s": round(accepted / wall),
            "records_per_cpu_s": round(accepted / cpu)}


def render(runs: list[dict[str, Any]]) -> str:
    """One line per run, then the median of each kind."""
    lines = ["kind         visible/sent   seconds   records/s   per CPU s   publisher/s"]
    for x in runs:
        lines.append(f"{x['kind']:<12} {x['visible']:>6}/{x['messages']:<6}  {x['seconds']:>7}"
                     f"  {x['records_per_s']:>10,}  {x['records_per_cpu_s']:>10,}"
                     f"  {x.get('publisher_per_s', '-'):>12}")
    medians = {}
    for kind in sorted({x["kind"] for x in runs}):
        rates = [x["records_per_s"] for x in runs if x["kind"] == kind]
        cpu = [x["records_per_cpu_s"] for x in runs if x["kind"] == kind]
        medians[kind] = statistics.median(rates)
        lines.append(f"{kind}: median {medians[kind]:,.0f} records/s, "
                     f"{statistics.median(cpu):,.0f} per CPU second ({len(rates)} runs)")
    ref = medians.pop("pipeline only", None)
    for kind, rate in medians.items():
        if ref:
            lines.append(f"{kind} / pipeline only: {rate / ref:.2f}")
    return "\n".join(lines)


def cmd_bench_push(args: argparse.Namespace) -> int:
    """``streamdash bench push``."""
    import gc
    import logging
    logging.getLogger("streamdash").setLevel(logging.ERROR)
    previous_gc, frozen = None, gc.get_freeze_count()
    if not args.no_gc_tuning:  # as `streamdash run` and the worker set it up
        from ..gc_tuning import tune_for_streaming
        previous_gc = tune_for_streaming()
    runs = []
    try:
        for _ in range(args.runs):
            runs.append(run_reference(args.messages, args.batch_size))
            if args.kind == "redis":
                runs.append(run_redis(args.url, args.messages, args.batch_size))
            else:
                runs.append(run_mqtt(args.url, args.messages, args.batch_size, args.qos))
    finally:
        if previous_gc is not None:  # as it was (a caller's own frozen objects stay so)
            gc.set_threshold(*previous_gc)
            if not frozen:
                gc.unfreeze()
    print(json.dumps(runs, indent=2) if args.json else render(runs))
    complete = all(x["visible"] == x["messages"] for x in runs if x["kind"] != "mqtt-qos0")
    return 0 if complete else 1


def register(group: Any) -> None:
    """Add ``push`` to the ``streamdash bench`` group."""
    p = group.add_parser("push", help="messages/s from MQTT or a Redis Stream into the ring",
                         description=__doc__.split("\n\n")[1])
    p.add_argument("--kind", choices=("mqtt", "redis"), required=True)
    p.add_argument("--url", required=True, help="the broker: mqtt://… or redis://…")
    p.add_argument("--messages", type=int, default=100_000, help="per run (default 100,000)")
    p.add_argument("--qos", type=int, choices=(0, 1), default=0, help="mqtt: QoS (default 0)")
    p.add_argument("--batch-size", type=int, default=1000, help="source.batch_size")
    p.add_argument("--runs", type=int, default=3, help="runs (default 3); medians reported")
    p.add_argument("--no-gc-tuning", action="store_true",
                   help="keep CPython's garbage-collector defaults instead of what `streamdash "
                        "run` sets (gc_tuning: young threshold 20,000, start-up state frozen)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_bench_push)
