"""``/healthz`` (the process is up) and ``/readyz`` (the database answers), for load
balancers and monitors; no session, no login, not rate-limited."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from portal.extensions import db, limiter

bp = Blueprint("health", __name__)


def database_ready(timeout_s: float = 2.0) -> tuple[bool, str]:
    """Open a fresh connection and run ``SELECT 1``; (ok, reason)."""
    started = time.monotonic()
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
            conn.execute(text("SELECT 1"))
            conn.rollback()
    except Exception as err:  # noqa: BLE001 - any failure means "not ready"
        return False, type(err).__name__
    return True, f"{(time.monotonic() - started) * 1000:.1f} ms"


@bp.get("/healthz")
def healthz() -> Response:
    resp = jsonify(status="ok")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/readyz")
def readyz() -> Response:
    ok, detail = database_ready()
    resp = jsonify(status="ok" if ok else "unavailable", database=detail)
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask) -> None:
    limiter.exempt(bp)
    app.register_blueprint(bp)
