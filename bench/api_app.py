"""WSGI apps for ``bench/api.py`` (run by gunicorn): the portal as in production, and a
minimal Flask app with one JSON endpoint as the baseline on the same server settings."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify


def fufen() -> Any:
    from app import create_app

    return create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-secret"),
            "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
            # Plain HTTP on 127.0.0.1 (nginx terminates TLS in production).
            "TALISMAN_FORCE_HTTPS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOG_LEVEL": "WARNING",
        }
    )


def minimal() -> Flask:
    app = Flask(__name__)

    @app.get("/ping")
    def ping() -> Any:
        return jsonify(ok=True)

    return app
