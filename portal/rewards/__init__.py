"""积分超市 (rewards store): rewards, vouchers (ledger holds), merchant portal, settlements."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

rewards_cli = AppGroup("rewards", help="Rewards store (积分超市).")


@rewards_cli.command("expire")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def expire_command(limit: int) -> None:
    """Expire unused vouchers past their deadline: stock back, points released."""
    from portal.extensions import db
    from portal.rewards.services import expire_due

    with db.transaction() as session:
        n = expire_due(session, limit=limit)
    click.echo(f"{n} voucher(s) expired")


def init_app(app: Flask) -> None:
    from portal.rewards import merchant, views

    app.register_blueprint(views.bp)
    app.register_blueprint(merchant.bp)
    app.cli.add_command(rewards_cli)
