"""MQTT test helpers: a publisher, and a mosquitto with TLS and a password file."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.servers import MosquittoServer
from tests.tls_certs import Certs


def publish(port: int, messages: Iterable[tuple[str, bytes | str]], qos: int = 1,
            timeout: float = 60.0) -> int:
    """Publish ``(topic, payload)`` pairs and wait until the broker has each (QoS 1: its
    PUBACK); returns how many."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, f"pub-{uuid.uuid4().hex[:8]}",
                         protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos) for topic, payload in messages]
        # QoS 0 is "published" once written to the socket: a QoS 1 message on a topic no
        # test subscribes to comes back acknowledged only after the broker read all of them
        # (closing earlier can reset the connection and lose what it had not read yet).
        sync = client.publish(f"sync/{uuid.uuid4().hex}", b"", 1)
        for info in [*infos, sync]:
            info.wait_for_publish(timeout)
            assert info.is_published(), "the broker did not take a message"
    finally:
        client.disconnect()
        client.loop_stop()
    return len(infos)


def readings(n: int, start: int = 0, bad_every: int = 0) -> list[tuple[str, str]]:
    """``n`` readings on ``sensors/s<k>/reading`` with a ``seq``; every ``bad_every``-th
    payload is not JSON."""
    return [(f"sensors/s{i % 5}/reading",
             "not json" if bad_every and i % bad_every == 3 else
             f'{{"seq": {i}, "value": {i % 100 / 4}}}') for i in range(start, start + n)]


class SecureMosquitto(MosquittoServer):
    """mosquitto with a TLS listener (``certs``) and a password file: user ``dash``."""

    name = "mosquitto-tls"

    def __init__(self, workdir: Path, binary: str, certs: Certs, password: str):
        super().__init__(workdir, binary)
        self.certs = certs
        passwd = shutil.which("mosquitto_passwd")
        if passwd is None:
            pytest.skip("mosquitto_passwd not installed (it comes with mosquitto)")
        self.password_file = workdir / "passwd"
        subprocess.run([passwd, "-c", "-b", str(self.password_file), "dash", password],
                       check=True, capture_output=True)
        self.password_file.chmod(0o644)

    def command(self) -> list[str]:
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join([
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.certs.ca}", f"certfile {self.certs.cert}",
            f"keyfile {self.certs.key}",
            "allow_anonymous false", f"password_file {self.password_file}",
            "user root" if os.geteuid() == 0 else "", "log_dest stdout"]) + "\n")
        return [self.binary, "-c", str(config)]
