"""代办: people without a smartphone. Staff (or a family member) enrol them with a name,
a building and an optional landline; staff record their attendance and hours; relatives
linked by staff or by the enrolment act for them (sign up, redeem their 福分)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.proxy.views import bp

    app.register_blueprint(bp)
