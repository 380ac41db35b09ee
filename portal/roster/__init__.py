"""社区一张表: the community's tagged resident table (filter, tag, view, export, import)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.roster.views import bp

    app.register_blueprint(bp)
