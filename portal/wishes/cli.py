"""``flask --app app wishes release-stale``: reopen wishes whose claim ran out."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

group = AppGroup("wishes", help="Micro-wish maintenance.")


@group.command("release-stale")
def release_stale_command() -> None:
    """Release claims not fulfilled within each community's wish_claim_days."""
    from portal.extensions import db
    from portal.wishes.services import release_stale

    with db.transaction() as session:
        released = release_stale(session)
    click.echo(f"released {len(released)} wish claim(s)")


def register(app: Flask) -> None:
    app.cli.add_command(group)
