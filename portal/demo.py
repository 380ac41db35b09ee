"""Demo data (``flask seed-demo``). Filled in by the community feature."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo street, communities, people and content (idempotent)."""
    raise click.ClickException("not yet")
