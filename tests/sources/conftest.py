"""Fixtures for source tests: a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from tests.httpserver import ScriptedServer


@pytest.fixture
def server():
    """A running :class:`ScriptedServer` on a free port of 127.0.0.1."""
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
