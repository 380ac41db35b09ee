"""``flask ledger …`` operator commands and the ledger's demo-data step.

* ``flask ledger verify`` — recompute every invariant (zero-sum transactions and books,
  stored = computed balances, no overdraft, holds resolved once, intact hash chains);
  exit 1 with a readable report on any violation.
* ``flask ledger expire-holds`` — release pending holds past their deadline (cron).
* ``flask ledger account ID`` — balance, holds and the last statement lines of an account.

The logic lives in ``ledger`` (no Flask there); this module only binds it to the app.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

import ledger
from core.db import read_only
from portal.reasons import code as reason_code

ledger_cli = AppGroup("ledger", help="福分 ledger commands.")


@ledger_cli.command("verify")
def verify_command() -> None:
    """Recompute every ledger invariant; exit 1 on any violation."""
    from portal.extensions import db

    session = db.session
    try:
        with read_only():  # SQLite: a reader, so verify never blocks postings
            report = ledger.verify(session)
    finally:
        session.rollback()
    out = sys.stdout if report.ok else sys.stderr
    for line in report.lines():
        click.echo(line, file=out)
    if not report.ok:
        raise SystemExit(1)


@ledger_cli.command("expire-holds")
@click.option("--limit", default=1000, show_default=True, help="Most holds to release in one run.")
def expire_holds_command(limit: int) -> None:
    """Release pending holds whose deadline has passed (run from cron)."""
    from portal.extensions import db

    with db.transaction() as session:
        released = ledger.expire_holds(session, limit=limit)
    click.echo(f"released {len(released)} expired hold(s)")


@ledger_cli.command("account")
@click.argument("account_id", type=int)
@click.option("--lines", default=10, show_default=True)
def account_command(account_id: int, lines: int) -> None:
    """Show an account: balance, held, available and its latest entries."""
    from portal.extensions import db

    session = db.session
    try:
        with read_only():
            info = ledger.get_account(session, account_id)
            page = ledger.statement(session, account_id, limit=lines)
    except ledger.LedgerError as err:
        raise click.ClickException(f"{err.code}: {err}") from None
    finally:
        session.rollback()
    click.echo(
        f"account {info.id} {info.holder} (community {info.community_id}, {info.kind})"
        f"{' CLOSED' if info.closed_at else ''}"
    )
    click.echo(f"balance {info.balance}  held {info.held}  available {info.available}")
    for line in page.lines:
        click.echo(
            f"  {line.created_at:%Y-%m-%d %H:%M:%S} tx {line.tx_id:>8} {line.kind:<9} "
            f"{line.amount:>+8} → {line.balance_after:>8}  {line.reason}"
        )


@ledger_cli.command("checkpoint")
@click.option(
    "--community", "community_ids", type=int, multiple=True, help="Only these (default: every one)."
)
@click.option(
    "--key-file", envvar="LEDGER_SIGNING_KEY_FILE", help="Ed25519 private key (PEM); not in the database."
)
def checkpoint_command(community_ids: tuple[int, ...], key_file: str | None) -> None:
    """Sign each community's chain heads and totals (run from cron, e.g. hourly)."""
    from flask import current_app

    from portal.extensions import db

    key_file = key_file or current_app.config.get("LEDGER_SIGNING_KEY_FILE")
    if not key_file:
        raise click.ClickException("no signing key: set LEDGER_SIGNING_KEY_FILE (see `flask ledger keygen`)")
    key = ledger.load_private_key(key_file)
    with db.transaction() as session:
        ids = community_ids or tuple(ledger.communities(session))
        for community_id in sorted(ids):
            cp = ledger.checkpoint(session, community_id, key)
            click.echo(f"community {community_id}: checkpoint {cp['id']} digest {cp['digest']}")


@ledger_cli.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def keygen_command(path: str) -> None:
    """Write a new checkpoint signing key (PEM, mode 600) and print its public key, which
    goes into LEDGER_VERIFY_KEYS wherever `flask ledger verify` runs."""
    import os

    pem, public = ledger.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    click.echo(public)


# --- demo data --------------------------------------------------------------------------

DEMO_GRANT = 50


def seed_ledger(ctx: object) -> None:
    """Open each demo community's fund and give every resident an opening grant from it,
    granted by that community's reviewer; idempotent keys make a re-run a no-op."""
    from portal.demo import REVIEWERS, DemoContext

    assert isinstance(ctx, DemoContext)
    session = ctx.session
    session.flush()  # user and community ids
    ids = {key: c.id for key, c in ctx.communities.items()}
    for key, community_id in ids.items():
        fund = ledger.community_fund(session, community_id)
        reviewer = ctx.users.get(REVIEWERS.get(key, ""))
        actor = ledger.Actor.user(reviewer.id) if reviewer else ledger.Actor.system("demo data")
        for user in sorted(ctx.users.values(), key=lambda u: u.id):
            if user.community_id != community_id:
                continue
            account = ledger.user_account(session, community_id, user.id)
            result = ledger.issue(
                session,
                key=f"demo:opening-grant:{community_id}:{user.id}",
                fund_account=fund,
                to_account=account,
                amount=DEMO_GRANT,
                actor=actor,
                reason=reason_code("demo.opening"),
                kind="grant",
            )
            if not result.replayed:
                ctx.count("ledger_grant")


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
    from portal.demo import register_step

    register_step("ledger", seed_ledger, after="people")
