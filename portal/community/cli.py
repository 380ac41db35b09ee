"""``flask --app app places …``: set up streets, communities, grids and buildings from the
console (the first street admin has no page to start from), and appoint street admins.

Each command is one transaction through the same services as the pages; a refusal
prints the translated message and exits non-zero with nothing changed.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

group = AppGroup("places", help="Streets, communities, grids and buildings.")


def _run(change):  # type: ignore[no-untyped-def]
    from portal.errors import ServiceError
    from portal.extensions import db

    try:
        with db.transaction() as session:
            return change(session)
    except ServiceError as exc:
        raise click.ClickException(str(exc.message)) from None


def _street_id(session, street: str) -> int:  # type: ignore[no-untyped-def]
    from portal.places.models import Street

    found = session.scalar(select(Street.id).where(Street.name == street))
    if found is None and street.isdigit():
        found = session.scalar(select(Street.id).where(Street.id == int(street)))
    if found is None:
        raise click.ClickException(f"no street named {street!r}")
    return int(found)


@group.command("street")
@click.argument("name")
@click.option("--district", default="", help="District (区) the street belongs to.")
def street_command(name: str, district: str) -> None:
    """Create a street (街道)."""
    from portal.community.services import create_street

    street = _run(lambda s: create_street(s, name=name, district=district))
    click.echo(f"street {street.id}: {street.name}")


@group.command("community")
@click.argument("name")
@click.option("--street", "street", required=True, help="Street name or id.")
@click.option("--address", default="")
@click.option("--closed", is_flag=True, help="Not offered to new residents at sign-up.")
def community_command(name: str, street: str, address: str, closed: bool) -> None:
    """Create a community (社区) in a street."""
    from portal.community.services import create_community

    community = _run(
        lambda s: create_community(
            s, None, _street_id(s, street), name=name, address=address, is_open=not closed
        )
    )
    click.echo(f"community {community.id}: {community.name}")


@group.command("grid")
@click.argument("name")
@click.option("--community-id", type=int, required=True)
def grid_command(name: str, community_id: int) -> None:
    """Create a grid (网格) in a community."""
    from portal.community.services import add_grid

    grid = _run(lambda s: add_grid(s, None, community_id, name))
    click.echo(f"grid {grid.id}: {grid.name}")


@group.command("building")
@click.argument("name")
@click.option("--grid-id", type=int, required=True)
def building_command(name: str, grid_id: int) -> None:
    """Create a building (楼栋) in a grid."""
    from portal.community.services import add_building
    from portal.places.models import Grid

    def change(session):  # type: ignore[no-untyped-def]
        grid = session.get(Grid, grid_id)
        if grid is None:
            raise click.ClickException(f"no grid {grid_id}")
        return add_building(session, None, grid.community_id, grid.id, name)

    building = _run(change)
    click.echo(f"building {building.id}: {building.name}")


@group.command("admin")
@click.argument("phone")
@click.option("--street", "street", required=True, help="Street name or id.")
def admin_command(phone: str, street: str) -> None:
    """Appoint the holder of PHONE as an administrator of a street."""
    from portal.audit.services import record
    from portal.people.models import Role, RoleAssignment, User

    def change(session):  # type: ignore[no-untyped-def]
        sid = _street_id(session, street)
        user = session.scalar(select(User).where(User.phone == phone))
        if user is None:
            raise click.ClickException("no account uses this phone number")
        if any(r.role == Role.STREET_ADMIN and r.street_id == sid for r in user.roles):
            return user
        user.roles.append(RoleAssignment(role=Role.STREET_ADMIN, street_id=sid))
        session.flush()
        record(
            session, "community.street_admin.grant", actor_id=None, target=("user", user.id), street_id=sid
        )
        return user

    user = _run(change)
    click.echo(f"user {user.id} administers street {street}")


@group.command("list")
def list_command() -> None:
    """Print streets, communities, grids and buildings."""
    from portal.extensions import db
    from portal.places.models import Street

    for st in db.session.scalars(select(Street).order_by(Street.id)):
        click.echo(f"street {st.id} {st.name} ({st.district})")
        for c in st.communities:
            click.echo(f"  community {c.id} {c.name}{'' if c.is_open else ' [closed]'}")
            for g in c.grids:
                click.echo(f"    grid {g.id} {g.name}: " + ", ".join(f"{b.id} {b.name}" for b in g.buildings))


def register(app: Flask) -> None:
    app.cli.add_command(group)
