"""志愿队伍: volunteer teams, their members and leaders."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.teams.views import bp

    app.register_blueprint(bp)
