"""Hour logs and their approval (volunteer time → 福分)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.hours.views import bp

    app.register_blueprint(bp)
