"""Spending and giving 福分: gifts (转赠), staff grants, the time exchange (互助), the
My 福分 page data and the expiry policy (CLI ``flask --app app points expire``)."""

from __future__ import annotations

from flask import Flask

from portal.reasons import register_label


def init_app(app: Flask) -> None:
    from portal.exchange.cli import points_cli
    from portal.exchange.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(points_cli)
    register_label("category", _category_label)


def _category_label(value: str) -> str:
    """A grant category code in a statement line, in the reader's language."""
    from portal.exchange.models import GrantCategory
    from portal.exchange.services import CATEGORY_LABELS

    try:
        return str(CATEGORY_LABELS[GrantCategory(value)])
    except (ValueError, KeyError):
        return value
