"""In-app inbox plus a pluggable delivery channel (SMS/WeChat later; log-only now)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.notifications.delivery import configure_sender
    from portal.notifications.views import bp

    app.register_blueprint(bp)
    configure_sender(app)
