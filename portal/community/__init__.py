"""Places (street → community → grid → building), roles in them, partner units and
party members' 报到."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.community.cli import register
    from portal.community.views import bp

    app.register_blueprint(bp)
    register(app)
