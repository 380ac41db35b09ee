"""Opening, finding and closing accounts; reading balances and statements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, select, update

from core.db import utcnow
from ledger import canonical, errors
from ledger.models import ACCOUNT_KINDS, Account, Entry, Hold, Transaction
from ledger.posting import _Chain, _insert_ignore_head, insert_ignore
from ledger.types import AccountInfo, Actor, Db, StatementLine, StatementPage, conn_of, write_conn_of

A = Account.__table__
E = Entry.__table__
T = Transaction.__table__


def _holder(kind: str, user_id: int | None, merchant_id: int | None, org_id: int | None) -> str:
    owners = {"user": user_id, "merchant": merchant_id, "org": org_id}
    if kind in owners:
        if owners[kind] is None or any(v is not None for k, v in owners.items() if k != kind):
            raise errors.InvalidRequest(f"a {kind} account needs exactly a {kind}_id", kind=kind)
        return f"{kind}:{owners[kind]}"
    if any(v is not None for v in owners.values()):
        raise errors.InvalidRequest(f"a {kind} account belongs to the community, not a person", kind=kind)
    return kind


def open_account(
    db: Db,
    *,
    kind: str,
    community_id: int,
    user_id: int | None = None,
    merchant_id: int | None = None,
    org_id: int | None = None,
    currency: str = "FUFEN",
) -> int:
    """Get or open the account of one holder and purpose; returns its id. Safe under
    concurrency (insert-if-absent). Only the community fund may go negative."""
    if kind not in ACCOUNT_KINDS:
        raise errors.InvalidRequest(f"unknown account kind {kind!r}", kind=kind)
    holder = _holder(kind, user_id, merchant_id, org_id)
    conn = conn_of(db)
    found = conn.execute(
        select(A.c.id).where(A.c.community_id == community_id, A.c.holder == holder)
    ).scalar()
    if found is not None:
        return found
    _insert_ignore_head(conn, community_id)
    conn.execute(
        insert_ignore(conn, A),
        {
            "community_id": community_id,
            "kind": kind,
            "holder": holder,
            "user_id": user_id,
            "merchant_id": merchant_id,
            "org_id": org_id,
            "currency": currency,
            "may_go_negative": kind == "fund",
            "balance": 0,
            "held": 0,
            "debt_allowed": 0,
            "created_at": utcnow(),
        },
    )
    return conn.execute(
        select(A.c.id).where(A.c.community_id == community_id, A.c.holder == holder)
    ).scalar_one()


def user_account(db: Db, community_id: int, user_id: int) -> int:
    return open_account(db, kind="user", community_id=community_id, user_id=user_id)


def merchant_account(db: Db, community_id: int, merchant_id: int) -> int:
    return open_account(db, kind="merchant", community_id=community_id, merchant_id=merchant_id)


def org_account(db: Db, community_id: int, org_id: int) -> int:
    return open_account(db, kind="org", community_id=community_id, org_id=org_id)


def community_fund(db: Db, community_id: int) -> int:
    """社区治理发展基金: points are issued from here; it may go negative."""
    return open_account(db, kind="fund", community_id=community_id)


def system_account(db: Db, community_id: int, kind: str) -> int:
    """``expired`` (forfeited points) or ``settlement`` (merchant settlement) account."""
    if kind not in ("expired", "settlement"):
        raise errors.InvalidRequest("system accounts are 'expired' or 'settlement'", kind=kind)
    return open_account(db, kind=kind, community_id=community_id)


def find_account(db: Db, community_id: int, holder: str) -> int | None:
    """Look up without opening, e.g. ``find_account(s, 3, "user:7")``."""
    return (
        conn_of(db)
        .execute(select(A.c.id).where(A.c.community_id == community_id, A.c.holder == holder))
        .scalar()
    )


def close_account(db: Db, account_id: int, *, actor: Actor, reason: str) -> None:
    """Close an empty account (no balance, no pending holds); closing is final and audited."""
    if not reason:
        raise errors.InvalidRequest("a reason is required")
    conn = write_conn_of(db)
    a = conn.execute(select(A).where(A.c.id == account_id)).first()
    if a is None:
        raise errors.UnknownAccount("unknown account", account_ids=[account_id])
    chain = _Chain(conn, [a.community_id])
    a = conn.execute(select(A).where(A.c.id == account_id).with_for_update()).one()
    if a.closed_at is not None:
        raise errors.AccountClosed("account is closed", account_id=account_id)
    if a.balance != 0 or a.held != 0:
        raise errors.InvalidRequest("only an empty account can be closed", balance=a.balance, held=a.held)
    now = utcnow()
    conn.execute(update(A).where(A.c.id == account_id).values(closed_at=now))
    chain.append(
        a.community_id,
        "close",
        canonical.dumps(["close", account_id, actor.id, reason, canonical.micros(now)]),
        now,
        actor.id,
    )


# --- reads ---------------------------------------------------------------------------------


def _info(r: Row[Any]) -> AccountInfo:
    return AccountInfo(
        r.id,
        r.community_id,
        r.kind,
        r.holder,
        r.user_id,
        r.merchant_id,
        r.org_id,
        r.currency,
        bool(r.may_go_negative),
        r.balance,
        r.held,
        r.closed_at,
    )


def get_account(db: Db, account_id: int) -> AccountInfo:
    r = conn_of(db).execute(select(A).where(A.c.id == account_id)).first()
    if r is None:
        raise errors.UnknownAccount("unknown account", account_ids=[account_id])
    return _info(r)


_BALANCE_SQL = {
    "postgresql": "SELECT balance FROM ledger_accounts WHERE id = %s",
    "sqlite": "SELECT balance FROM ledger_accounts WHERE id = ?",
}


def balance(db: Db, account_id: int) -> int:
    """Posted balance, O(1): the stored running balance. The hottest read of the app, so it
    runs as a cached (PostgreSQL: server-side prepared) statement on the driver connection of
    the caller's transaction, without SQLAlchemy's per-statement work."""
    conn = conn_of(db)
    sql = _BALANCE_SQL.get(conn.dialect.name)
    if sql is None or not _is_int(account_id):
        b = conn.execute(select(A.c.balance).where(A.c.id == account_id)).scalar()
    else:
        if not conn.in_transaction():
            conn.begin()  # a bare Connection: let its commit()/rollback() cover this read
        driver = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            row = driver.execute(sql, (account_id,), prepare=True).fetchone()  # type: ignore[union-attr]
        else:
            row = driver.execute(sql, (account_id,)).fetchone()  # type: ignore[union-attr]
        b = None if row is None else row[0]
    if b is None:
        raise errors.UnknownAccount("unknown account", account_ids=[account_id])
    return int(b)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def available(db: Db, account_id: int) -> int:
    """Spendable balance: posted minus pending holds."""
    r = conn_of(db).execute(select(A.c.balance, A.c.held).where(A.c.id == account_id)).first()
    if r is None:
        raise errors.UnknownAccount("unknown account", account_ids=[account_id])
    return int(r.balance - r.held)


def balances(db: Db, account_ids: list[int]) -> dict[int, int]:
    rows = conn_of(db).execute(select(A.c.id, A.c.balance).where(A.c.id.in_(account_ids)))
    return {r.id: int(r.balance) for r in rows}


def statement(db: Db, account_id: int, *, limit: int = 50, before: int | None = None) -> StatementPage:
    """Newest first, ``limit`` lines per page, each with the balance after it. Keyset
    pagination on the entry id (stable while new entries arrive)."""
    if not 1 <= limit <= 500:
        raise errors.InvalidRequest("limit must be between 1 and 500")
    q = (
        select(
            E.c.id,
            E.c.tx_id,
            T.c.kind,
            E.c.amount,
            E.c.balance_after,
            T.c.created_at,
            T.c.reason,
            T.c.actor_id,
            T.c.ref_type,
            T.c.ref_id,
        )
        .join(T, T.c.id == E.c.tx_id)
        .where(E.c.account_id == account_id)
        .order_by(E.c.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        q = q.where(E.c.id < before)
    rows = conn_of(db).execute(q).all()
    lines = [StatementLine(*r) for r in rows[:limit]]
    return StatementPage(lines, lines[-1].entry_id if len(rows) > limit else None)


def balance_as_of(db: Db, account_id: int, when: dt.datetime) -> int:
    """Posted balance at ``when`` (inclusive): the running balance of the last entry before it.
    Entries of one account are ordered by time because every writer holds the account's row
    lock from before it takes the time until it commits."""
    if when.tzinfo is None:
        raise errors.InvalidRequest("when must be timezone-aware")
    b = (
        conn_of(db)
        .execute(
            select(E.c.balance_after)
            .join(T, T.c.id == E.c.tx_id)
            .where(E.c.account_id == account_id, T.c.created_at <= when)
            .order_by(E.c.id.desc())
            .limit(1)
        )
        .scalar()
    )
    return int(b or 0)


def pending_holds(db: Db, account_id: int) -> list[dict[str, Any]]:
    H = Hold.__table__
    rows = conn_of(db).execute(
        select(H).where(H.c.account_id == account_id, H.c.status == "pending").order_by(H.c.id)
    )
    return [dict(r._mapping) for r in rows]
