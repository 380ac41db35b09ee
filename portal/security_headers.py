"""Security headers (Flask-Talisman): a strict CSP, no framing, a referrer policy and,
in production, HTTPS only.

The CSP allows resources from this site only: no CDN, no inline <script>, no inline
style= attributes (templates keep all styling in static/css). Session-cookie flags stay
with ``config.py``: Talisman is handed the configured values so it changes nothing.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

CSP: dict[str, str | list[str]] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

PERMISSIONS_POLICY = {
    "browsing-topics": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
    # Check-in and voucher scanning may use these later, from this site only.
    "geolocation": "(self)",
    "camera": "(self)",
}


def init_app(app: Flask) -> None:
    force_https = bool(app.config.get("TALISMAN_FORCE_HTTPS", False))
    Talisman(  # one instance per app: Talisman keeps a reference to the app it wraps
        app,
        force_https=force_https,
        strict_transport_security=force_https,
        strict_transport_security_max_age=365 * 24 * 3600,
        frame_options="DENY",
        content_security_policy=CSP,
        permissions_policy=PERMISSIONS_POLICY,
        referrer_policy="strict-origin-when-cross-origin",
        # Leave the cookie flags exactly as config.py set them.
        session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE", False)),
        session_cookie_http_only=bool(app.config.get("SESSION_COOKIE_HTTPONLY", True)),
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
    )
