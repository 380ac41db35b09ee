"""``flask --app app points expire [--dry-run]`` and ``flask --app app points warn-expiry``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from core.db import utcnow

points_cli = AppGroup("points", help="福分 expiry policy.")


@points_cli.command("expire")
@click.option("--dry-run", is_flag=True, help="Only list what would expire.")
@click.option("--community", "community_id", type=int, default=None, help="One community only.")
def expire_command(dry_run: bool, community_id: int | None) -> None:
    """Expire points older than each community's expiry_months (run daily or monthly)."""
    from portal.exchange.expiry import run_expiry
    from portal.extensions import db

    with db.transaction() as session:
        items = run_expiry(session, utcnow(), dry_run=dry_run, community_id=community_id)
        if dry_run:
            session.rollback()
    for item in items:
        click.echo(f"community {item.community_id} user {item.user_id}: {item.amount}")
    click.echo(f"{'would expire' if dry_run else 'expired'} points for {len(items)} member(s)")


@points_cli.command("warn-expiry")
@click.option("--days", default=30, show_default=True, help="Warn this many days ahead.")
def warn_command(days: int) -> None:
    """Notify members whose points expire within --days (once per member and month)."""
    from portal.exchange.expiry import warn_expiry
    from portal.extensions import db

    with db.transaction() as session:
        items = warn_expiry(session, utcnow(), days=days)
    click.echo(f"warned {len(items)} member(s)")
