from flask import Flask


def init_app(app: Flask) -> None:
    from portal.main.views import bp

    app.register_blueprint(bp)
