"""Real servers for the tests: Debian's redis-server, mosquitto and PostgreSQL on loopback.

Each server runs as a child process on a free 127.0.0.1 port with its files in a temp dir, and
is stopped (and its dir removed) when the fixture ends. ``start()``/``stop()``/``kill()`` let a
test restart a broker mid-stream or kill it as a crash would.

Session-scoped servers are shared by the tests of one xdist worker; the function-scoped fixtures
(``redis_url``, ``postgres_dsn``, ``mosquitto_server``) hand each test a clean slate: an emptied
Redis, a fresh database, a private topic prefix. A missing binary skips the test locally and fails
it under ``CI=true`` (``.ci/run`` installs the packages), like the browser tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 30.0  # initdb + first start of PostgreSQL on a loaded 2-core machine


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(name: str, *patterns: str) -> str | None:
    """``name`` on PATH, else the first match of ``patterns`` (Debian keeps PostgreSQL off PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]  # the newest major version
    return None


def require(binary: str | None, package: str) -> str:
    """The binary, or skip (locally) / fail (CI) naming the Debian package to install."""
    if binary:
        return binary
    message = f"{package} not installed (apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": CI must install it (.ci/run does)")
    pytest.skip(message)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server child process on a free loopback port; subclasses say how to launch it."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.user: str | None = None  # run the server as this user (PostgreSQL refuses root)

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it accepts connections."""
        log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir, start_new_session=True,
                                        user=self.user, group=self.user)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on port {self.port}: "
                                   f"{self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), waiting for the process to exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown work at all."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / f"{self.name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class RedisServer(ServerProcess):
    """``redis-server`` with no persistence unless ``appendonly`` (restart tests want AOF)."""

    name = "redis"

    def __init__(self, workdir: Path, binary: str, *, appendonly: bool = False):
        super().__init__(workdir)
        self.binary = binary
        self.appendonly = appendonly

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.workdir), "--save", "", "--appendonly",
                "yes" if self.appendonly else "no", "--appendfsync", "everysec",
                "--protected-mode", "no", "--daemonize", "no"]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class MosquittoServer(ServerProcess):
    """Eclipse ``mosquitto`` with anonymous access on loopback and persistence in its dir."""

    name = "mosquitto"

    def __init__(self, workdir: Path, binary: str):
        super().__init__(workdir)
        self.binary = binary

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join([
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            # As root mosquitto would switch to its own user, who cannot write our temp dir.
            "user root" if os.geteuid() == 0 else "",
            "max_queued_messages 100000",
            "log_dest stdout",
        ]) + "\n")
        return [self.binary, "-c", str(config)]


class PostgresServer(ServerProcess):
    """A throwaway PostgreSQL cluster (``initdb`` + ``postgres``), as user postgres when root."""

    name = "postgres"

    def __init__(self, workdir: Path, bindir: str):
        super().__init__(workdir)
        self.bindir = bindir
        self.data = workdir / "data"
        if os.geteuid() == 0:  # the cluster's files must belong to the user the server runs as
            self.user = "postgres"
            shutil.chown(workdir, "postgres", "postgres")
        subprocess.run([f"{bindir}/initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120,
                       user=self.user, group=self.user)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def command(self) -> list[str]:
        # fsync off: a test cluster trades durability across OS crashes for speed; a kill -9 of
        # the server (what the crash tests do) is still recovered from the WAL.
        return [f"{self.bindir}/postgres", "-D", str(self.data), "-p", str(self.port),
                               "-c", "listen_addresses=127.0.0.1", "-c",
                               f"unix_socket_directories={self.workdir}", "-c", "fsync=off",
                               "-c", "max_connections=200"]

    def ready(self) -> bool:
        probe = subprocess.run([f"{self.bindir}/pg_isready", "-h", "127.0.0.1", "-p",
                                str(self.port), "-U", "postgres", "-q"],
                               capture_output=True)
        return probe.returncode == 0

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        out = subprocess.run([f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "postgres", "-d", dbname, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                             check=True, capture_output=True, text=True, timeout=60)
        return out.stdout


def _workdir(prefix: str) -> Path:
    # Not pytest's tmp dir: its parent is private to root, and PostgreSQL runs as its own user.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _serve(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def redis_binary() -> str:
    return require(find_binary("redis-server"), "redis-server")


def mosquitto_binary() -> str:
    return require(find_binary("mosquitto", "/usr/sbin/mosquitto"), "mosquitto")


def postgres_bindir() -> str:
    initdb = require(find_binary("initdb", "/usr/lib/postgresql/*/bin/initdb"), "postgresql")
    return str(Path(os.path.realpath(initdb)).parent)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for this worker's session; use ``redis_url`` for a clean database."""
    yield from _serve(RedisServer(_workdir("sd-redis-"), redis_binary()))  # type: ignore[misc]


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as s:
        s.sendall(b"FLUSHALL\r\n")
        assert s.recv(16).startswith(b"+OK")
    return redis_server.url


@pytest.fixture
def fresh_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own (with AOF), for tests that stop or kill it."""
    yield from _serve(RedisServer(_workdir("sd-redis-"), redis_binary(),  # type: ignore[misc]
                                  appendonly=True))


@pytest.fixture
def mosquitto_server() -> Iterator[MosquittoServer]:
    """A mosquitto broker of this test's own (restart and kill tests need their own)."""
    yield from _serve(MosquittoServer(_workdir("sd-mqtt-"), mosquitto_binary()))  # type: ignore[misc]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for this worker's session; use ``postgres_dsn`` per test."""
    yield from _serve(PostgresServer(_workdir("sd-pg-"), postgres_bindir()))  # type: ignore[misc]


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {name}")
    yield postgres_server.dsn(name)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def fresh_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, for tests that kill or restart it."""
    yield from _serve(PostgresServer(_workdir("sd-pg-"), postgres_bindir()))  # type: ignore[misc]
