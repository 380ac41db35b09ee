"""微心愿: residents' small wishes, claimed and fulfilled by volunteers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.volunteering.wishes import wish_category_label
    from portal.wishes.cli import register
    from portal.wishes.views import bp

    app.register_blueprint(bp)
    app.jinja_env.globals.update(wish_category_label=wish_category_label)
    register(app)
