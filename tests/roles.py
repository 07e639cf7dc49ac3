"""``streamdash worker`` and ``streamdash web`` as real subprocesses, for the role tests.

Each process gets free loopback ports, its own temporary data dir and log files, and the same
settings through the environment (``state.backend: redis`` at the test's redis-server); the
source is a replay of a JSON Lines file whose records the test knows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a process may take to answer its first probe (importing dash on a loaded machine).
START_TIMEOUT = 90.0


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def role_env(redis_url: str, replay: Path | None, **extra: str) -> dict[str, str]:
    """The environment every role of one deployment shares (the simulator without
    ``replay``)."""
    source = {} if replay is None else {
        "STREAMDASH_SOURCE__TYPE": "replay", "STREAMDASH_SOURCE__PATH": str(replay),
        "STREAMDASH_SOURCE__RATE": "400", "STREAMDASH_SOURCE__TIME_FIELD": "ts",
        "STREAMDASH_DASHBOARD__VALUE_FIELD": "value", "STREAMDASH_DASHBOARD__KEY_FIELD": "key"}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STREAMDASH_STATE__BACKEND": "redis",
           "STREAMDASH_STATE__URL": redis_url, "STREAMDASH_STATE__READ_CACHE": "0",
           "STREAMDASH_SOURCE__INTERVAL": "0.2", **source,
           "STREAMDASH_STORAGE__SNAPSHOT_INTERVAL": "0.5", "STREAMDASH_LOG__FORMAT": "json",
           **extra}
    env.pop("STREAMDASH_CONFIG", None)
    env.pop("PORT", None)
    return env


class Role:
    """One ``streamdash <role>`` process in its own session, output in files."""

    def __init__(self, tmp: Path, role: str, env: dict[str, str], *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = tmp / f"{role}-{self.port}"
        data.mkdir()
        self.data_dir = data / "data"
        self.log = (data / "out.log").open("w+")
        flag = "--health-port" if role == "worker" else "--port"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamdash", role, flag, str(self.port), "--data-dir",
             str(self.data_dir), *args], cwd=ROOT, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)

    def wait_answering(self, timeout: float = START_TIMEOUT) -> None:
        """Until ``/health/live`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"exited:\n{self.output()[-3000:]}"
            try:
                if self.get("/health/live").status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"no answer in {timeout} s:\n{self.output()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def counter(web: Role, name: str, **kw: Any) -> float:
    """A counter of the worker's metrics as a web process exports them (``/metrics``)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = web.get("/metrics", **kw).text
    for family in text_string_to_metric_families(text):
        if family.name == f"streamdash_{name}":
            return family.samples[0].value
    return 0.0


def find_prop(layout: Any, comp_id: str, prop: str) -> Any:
    """The value of ``prop`` on the component ``comp_id`` in a serialised Dash layout."""
    stack = [layout]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == comp_id:
                return props.get(prop)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def call_callback(web: Role, output_has: str, state: Any = None, *, stream: str | None = None,
                  **kw: Any) -> dict[str, Any]:
    """Call the callback whose output names ``output_has`` as a browser's first tick would
    (its stores empty unless ``state``, the stream shown ``stream``, default the first); its
    JSON answer (``{}`` for 204)."""
    layout = web.get("/_dash-layout", **kw).json()
    dep = next(d for d in web.get("/_dash-dependencies", **kw).json()
               if output_has in d["output"])

    def spec(items: list[dict[str, Any]], tick: bool = False) -> list[dict[str, Any]]:
        out = []
        for i in items:
            value = 1 if tick and i["property"] == "n_intervals" else \
                find_prop(layout, i["id"], i["property"])
            if i["property"] == "data":
                value = stream if i["id"] == "stream" else state
            out.append({"id": i["id"], "property": i["property"], "value": value})
        return out

    multi = dep["output"].startswith("..")
    parts = dep["output"][2:-2].split("...") if multi else [dep["output"]]
    outputs = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]
    body = {"output": dep["output"], "outputs": outputs if multi else outputs[0],
            "inputs": spec(dep["inputs"], tick=True), "state": spec(dep.get("state", [])),
            "changedPropIds": [f"{i['id']}.n_intervals" for i in dep["inputs"]
                               if i["property"] == "n_intervals"]}
    r = requests.post(web.url + "/_dash-update-component", json=body, timeout=30, **kw)
    assert r.status_code in (200, 204), r.text[:2000]
    return r.json() if r.status_code == 200 else {}
