"""Flask routes: ``/health`` (JSON; 503 when down)."""

from __future__ import annotations

from flask import Flask, jsonify

from ..runtime import Runtime
from .alerts import register_alert_routes


def register_routes(server: Flask, runtime: Runtime) -> None:
    """Add the operational routes for ``runtime`` to the Flask ``server``."""
    register_alert_routes(server, runtime)  # /api/alerts/active, /api/alerts/rules, /api/quality

    @server.get("/health")
    def health():  # noqa: ANN202 - Flask view
        report = runtime.health()
        return jsonify(report), 503 if report["status"] == "down" else 200
