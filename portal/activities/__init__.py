"""集中活动: activities, sign-up with a waitlist, reminders, check-in/out with rotating codes."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

activities_cli = AppGroup("activities", help="Activities (集中活动).")


@activities_cli.command("remind")
@click.option(
    "--hours",
    default=24,
    show_default=True,
    type=click.IntRange(1, 168),
    help="Remind people of activities starting within this many hours.",
)
def remind_command(hours: int) -> None:
    """Notify confirmed participants of activities starting soon (once per person)."""
    from portal.activities.services import send_reminders
    from portal.extensions import db

    with db.transaction() as session:
        sent = send_reminders(session, hours=hours)
    click.echo(f"{sent} reminder(s) sent")


def init_app(app: Flask) -> None:
    from portal.activities.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(activities_cli)
