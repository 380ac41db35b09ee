"""Per-community settings (caps, rounding, point rules, policies) and the staff page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.settings.views import bp

    app.register_blueprint(bp)
