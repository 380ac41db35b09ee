"""首页 / 服务 / 福分 pages and the layout's navigation helpers."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.main.nav import nav_tabs, url_for_safe
    from portal.main.views import bp

    app.jinja_env.globals.update(url_for_safe=url_for_safe, nav_tabs=nav_tabs)
    app.register_blueprint(bp)
