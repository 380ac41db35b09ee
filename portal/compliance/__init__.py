"""在职党员: each party member's year at a glance (posts, teams, activities, hours, 福分)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.compliance.views import bp

    app.register_blueprint(bp)
