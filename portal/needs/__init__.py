"""居民点单 · 社区下单 · 单位接单: needs, partner units' resources, and the projects that
match them."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.needs.views import bp

    app.register_blueprint(bp)
