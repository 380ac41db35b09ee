"""The living style page (development only), the service worker and the offline page."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template

bp = Blueprint("ui", __name__)

# Pages a volunteer needs at the activity, kept (network first) for reading offline.
# Regular expressions on the path; everything else is fetched from the network only.
OFFLINE_PAGES = (
    r"^/$",
    r"^/activities/mine$",
    r"^/activities/\d+$",
    r"^/activities/\d+/check$",
    r"^/rewards/vouchers$",
    r"^/rewards/vouchers/\d+$",
)
# The shell: precached when the service worker installs.
SHELL = (
    "/offline",
    "/static/css/app.css",
    "/static/js/app.js",
    "/static/favicon.svg",
    "/static/icons/icon.svg",
    "/static/icons/icon-maskable.svg",
    "/static/icons/icon-192.png",
    "/static/manifest.webmanifest",
)


def _version() -> str:
    """Changes whenever a deploy changes a static file, a template or a translation: a new service worker
    then installs, fetches a fresh shell and drops the old caches (no stale pages)."""
    digest = hashlib.sha256()
    root = Path(current_app.root_path)
    for folder in ("static", "templates", "translations"):
        for path in sorted((root / folder).rglob("*")):
            # Content, not mtimes: every server of one deploy computes the same version.
            if path.is_file() and path.suffix != ".mo":
                digest.update(str(path.relative_to(root)).encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(str(current_app.config.get("RELEASE", "")).encode())
    return digest.hexdigest()[:16]


@bp.get("/sw.js")
def service_worker() -> Response:
    if "sw_version" not in current_app.extensions:
        current_app.extensions["sw_version"] = _version()
    body = render_template(
        "ui/sw.js",
        version=current_app.extensions["sw_version"],
        shell=SHELL,
        offline_pages=OFFLINE_PAGES,
    )
    resp = Response(body, mimetype="text/javascript")
    # The browser must always ask for the worker itself, so a deploy is seen at once.
    resp.headers["Cache-Control"] = "no-cache, max-age=0"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@bp.get("/offline")
def offline() -> str:
    return render_template("ui/offline.html")


@bp.get("/styleguide")
def styleguide() -> str:
    enabled = current_app.config.get("STYLEGUIDE")
    if enabled is None:
        enabled = current_app.config.get("ENV_NAME") in ("development", "testing")
    if not enabled:
        abort(404)
    import datetime as dt

    sample = dt.datetime(2026, 12, 4, 1, 0, tzinfo=dt.UTC)
    return render_template("ui/styleguide.html", sample=sample)
