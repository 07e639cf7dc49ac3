"""Flask routes: ``/health`` (JSON; 503 when down)."""

from __future__ import annotations

from flask import Flask, jsonify

from ..runtime import Runtime


def register_routes(server: Flask, runtime: Runtime) -> None:
    """Add the operational routes for ``runtime`` to the Flask ``server``."""

    @server.get("/health")
    def health():  # noqa: ANN202 - Flask view
        report = runtime.health()
        return jsonify(report), 503 if report["status"] == "down" else 200
