"""Every write to the ledger: post / post_many / transfer / issue / reverse / hold /
capture / void / expire_holds.

Rules (identical on both paths; the PostgreSQL function ``ledger_post`` in ``ledger.ddl``
mirrors ``_post_py`` for plain postings):

1. input is validated before touching the database (amounts, balance, reason…);
2. the idempotency key is looked up: a replay returns the original result or rejection,
   different content under the same key is ``IdempotencyConflict``; then the cap applies;
3. accounts must exist, be open, share a currency and (unless allowed) a community;
4. the head of audit chain ``shard_of(key)`` of each community involved is locked, in
   community order; same key => same head, so concurrent twins are serialized here, while
   writers of one community with keys in other shards go on in parallel;
5. on PostgreSQL the key is looked up again and the accounts are locked in id order (one lock
   order for every writer: heads, accounts by id, hold row);
6. overdraft rule: an account that may not go negative may not end with
   ``balance - held < 0`` unless the posting does not lower its spendable balance
   (credits to an account in forced debt, captures) or an admin forces a reversal;
7. transaction, entries (with running balance), account balances, audit record and
   idempotency record are written in the caller's transaction. Nothing is committed here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.db import utcnow
from ledger import canonical, errors
from ledger.models import (
    CHAIN_SHARDS,
    GENESIS_HASH,
    TX_KINDS,
    Account,
    AuditHead,
    AuditRecord,
    Entry,
    Hold,
    IdempotencyRecord,
    Transaction,
)
from ledger.types import (
    Actor,
    Db,
    HoldResult,
    Posting,
    PostResult,
    config,
    conn_of,
    use_pg_function,
    use_sqlite_statements,
    write_conn_of,
)

log = logging.getLogger(__name__)

A = Account.__table__
T = Transaction.__table__
E = Entry.__table__
H = Hold.__table__
IDEM = IdempotencyRecord.__table__
AH = AuditHead.__table__
AR = AuditRecord.__table__

MAX_AMOUNT = 10**12  # hard sanity bound, far above any configured cap
POSTABLE_KINDS = tuple(k for k in TX_KINDS if k != "reverse")


# --- input validation -----------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    key: str
    op: str
    kind: str
    entries: tuple[tuple[int, int], ...]  # account-id order
    actor_id: int | None
    reason: str
    ref_type: str | None
    ref_id: int | None
    allow_cross: bool
    hash: str
    # Over the configured cap: raised unless the key replays an earlier request (checked
    # after the idempotency look-up, so lowering the cap never breaks a replay).
    over_cap: errors.LedgerError | None = None


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_common(key: str, actor: Actor, reason: str, ref_type: str | None, ref_id: int | None) -> str:
    if not isinstance(actor, Actor):
        raise errors.InvalidRequest("actor must be ledger.Actor.user(id) or Actor.system(why)")
    if not isinstance(key, str) or not key or len(key) > 200:
        raise errors.InvalidRequest("idempotency key must be a non-empty string of at most 200 characters")
    if not isinstance(reason, str) or not reason.strip():
        raise errors.InvalidRequest("a reason is required")
    if ref_type is not None and (not isinstance(ref_type, str) or len(ref_type) > 32):
        raise errors.InvalidRequest("ref_type must be a string of at most 32 characters")
    if ref_id is not None and not _is_int(ref_id):
        raise errors.InvalidRequest("ref_id must be an int")
    return reason


def _check_amount(amount: object, cap: int | None) -> int:
    if not _is_int(amount) or amount <= 0 or amount > MAX_AMOUNT:  # type: ignore[operator]
        raise errors.InvalidAmount("amount must be a positive integer", amount=amount)
    if cap is not None and amount > cap:  # type: ignore[operator]
        raise errors.AmountOverCap("amount over the configured cap", amount=amount, cap=cap)
    return amount  # type: ignore[return-value]


def _normalize_entries(entries: Iterable[tuple[int, int]], cap: int | None) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for item in entries:
        try:
            account_id, amount = item
        except (TypeError, ValueError):
            raise errors.InvalidEntries("each entry is (account_id, amount)") from None
        if not _is_int(account_id):
            raise errors.InvalidEntries("account ids must be ints", account_id=account_id)
        if not _is_int(amount) or amount == 0 or abs(amount) > MAX_AMOUNT:
            raise errors.InvalidAmount("entry amounts must be non-zero integers", amount=amount)
        out.append((account_id, amount))
    if len(out) < 2:
        raise errors.InvalidEntries("a transaction needs at least two entries")
    if len({a for a, _ in out}) != len(out):
        raise errors.InvalidEntries("an account appears twice in one transaction")
    total = sum(m for _, m in out)
    if total != 0:
        raise errors.Unbalanced("entries must sum to zero", total=total)
    return tuple(sorted(out))


def _over_cap(entries: Sequence[tuple[int, int]], cap: int | None) -> errors.LedgerError | None:
    moved = sum(m for _, m in entries if m > 0)
    if cap is not None and moved > cap:
        return errors.AmountOverCap("amount over the configured cap", amount=moved, cap=cap)
    return None


def _request(
    p: Posting, op: str = "post", *, kinds: Sequence[str] = POSTABLE_KINDS, extra: Sequence[Any] = ()
) -> _Request:
    reason = _check_common(p.key, p.actor, p.reason, p.ref_type, p.ref_id)
    if p.kind not in kinds:
        raise errors.InvalidRequest(f"unknown transaction kind {p.kind!r}", kind=p.kind)
    entries = _normalize_entries(p.entries, None)
    content = [
        p.kind,
        [list(e) for e in entries],
        p.actor.id,
        reason,
        p.ref_type,
        p.ref_id,
        bool(p.allow_cross_community),
        *extra,
    ]
    return _Request(
        p.key,
        op,
        p.kind,
        entries,
        p.actor.id,
        reason,
        p.ref_type,
        p.ref_id,
        bool(p.allow_cross_community),
        canonical.request_hash(op, content),
        _over_cap(entries, config().max_posting_amount),
    )


# --- idempotency ------------------------------------------------------------------------


def _idem(conn: Connection, key: str) -> Row[Any] | None:
    return conn.execute(select(IDEM).where(IDEM.c.key == key)).first()


def _check_replay(rec: Row[Any], request_hash: str) -> None:
    """Raise for a conflicting key or a remembered rejection; return for a replayable success."""
    if rec.request_hash != request_hash:
        raise errors.IdempotencyConflict("idempotency key reused with different content", key=rec.key)
    if rec.error_code is not None:
        raise errors.from_code(rec.error_code, json.loads(rec.error_detail or "{}"), replayed=True)


def _replay_tx(conn: Connection, rec: Row[Any], req: _Request) -> PostResult:
    _check_replay(rec, req.hash)
    created = conn.execute(select(T.c.created_at).where(T.c.id == rec.tx_id)).scalar_one()
    return PostResult(rec.tx_id, req.kind, created, req.entries, replayed=True)


def _reject(
    db: Db | None, conn: Connection, key: str, op: str, request_hash: str, err: errors.LedgerError
) -> errors.LedgerError:
    """Record a state-dependent rejection under its key, return the error to raise."""
    row = {
        "key": key,
        "op": op,
        "request_hash": request_hash,
        "error_code": err.code,
        "error_detail": canonical.dumps(err.detail),
        "created_at": utcnow(),
    }
    conn.execute(insert(IDEM), row)
    _remember_rejection(db, row)
    return err


def _remember_rejection(db: Db | None, row: dict[str, Any]) -> None:
    """A rejection must outlive the caller's rollback (the usual reaction to an error):
    keep it on the Session and write it again, in its own transaction, after a rollback."""
    if not isinstance(db, Session):
        return
    db.info.setdefault("ledger.rejections", []).append(row)
    if not db.info.get("ledger.hooked"):
        event.listen(db, "after_rollback", _rewrite_rejections)
        event.listen(db, "after_commit", lambda s: s.info.pop("ledger.rejections", None))
        db.info["ledger.hooked"] = True


def _rewrite_rejections(session: Session) -> None:
    rows = session.info.pop("ledger.rejections", None)
    if not rows:
        return
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    try:
        with engine.begin() as c:
            c.execute(insert_ignore(c, IDEM), rows)
    except Exception:  # the rejection is a courtesy for replays; never mask the caller's error
        log.exception("ledger: could not persist %d rejected idempotency key(s)", len(rows))


# --- locking and the audit chain -----------------------------------------------------------


def _accounts(conn: Connection, ids: Iterable[int], *, lock: bool) -> dict[int, Row[Any]]:
    q = select(A).where(A.c.id.in_(sorted(set(ids)))).order_by(A.c.id)
    if lock:
        q = q.with_for_update()  # rendered on PostgreSQL, ignored by SQLite (BEGIN IMMEDIATE)
    return {r.id: r for r in conn.execute(q)}


def _validate_accounts(rows: dict[int, Row[Any]], ids: Sequence[int], allow_cross: bool) -> list[int]:
    missing = sorted(set(ids) - rows.keys())
    if missing:
        raise errors.UnknownAccount("unknown account", account_ids=missing)
    closed = [i for i in sorted(rows) if rows[i].closed_at is not None]
    if closed:
        raise errors.AccountClosed("account is closed", account_id=closed[0])
    if len({r.currency for r in rows.values()}) > 1:
        raise errors.CurrencyMismatch("accounts have different currencies")
    comms = sorted({r.community_id for r in rows.values()})
    if len(comms) > 1 and not allow_cross:
        raise errors.CrossCommunity("posting across communities is not allowed", community_ids=comms)
    return comms


def insert_ignore(conn: Connection, table: Any) -> Any:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing()


def shard_of(key: str) -> int:
    """The audit chain (of each community involved) a keyed write is sealed in. Derived from
    the idempotency key only, so concurrent requests with the same key always meet on the
    same locked chain head and the look-up under that lock stays authoritative."""
    return zlib.crc32(key.encode("utf-8")) % CHAIN_SHARDS


def _insert_ignore_head(conn: Connection, community_id: int) -> None:
    """A community's chains start with its first account (or audited event)."""
    conn.execute(
        insert_ignore(conn, AH),
        [
            {"community_id": community_id, "shard": s, "seq": 0, "hash": GENESIS_HASH}
            for s in range(CHAIN_SHARDS)
        ],
    )


class _Chain:
    """The locked heads (one shard of each community) this operation may append to.

    Lock order for every ledger writer: these heads (community order, one shard), then
    accounts in id order, then a hold row. Writers of one community in different shards run
    in parallel; they meet only on the account rows they share."""

    def __init__(self, conn: Connection, communities: Sequence[int], shard: int = 0) -> None:
        self.conn = conn
        self.shard = shard
        q = (
            select(AH)
            .where(AH.c.community_id.in_(communities), AH.c.shard == shard)
            .order_by(AH.c.community_id)
            .with_for_update()
        )
        self.heads = {r.community_id: [r.seq, r.hash] for r in conn.execute(q)}
        if len(self.heads) < len(set(communities)):  # e.g. a shard added after the community
            for c in communities:
                if c not in self.heads:
                    _insert_ignore_head(conn, c)
            self.heads = {r.community_id: [r.seq, r.hash] for r in conn.execute(q)}

    def append(
        self,
        community_id: int,
        event_name: str,
        payload: str,
        created_at: dt.datetime,
        actor_id: int | None,
        tx_id: int | None = None,
        hold_id: int | None = None,
    ) -> None:
        seq, prev = self.heads[community_id]
        digest = canonical.chain_hash(prev, payload)
        self.conn.execute(
            insert(AR),
            {
                "community_id": community_id,
                "shard": self.shard,
                "seq": seq + 1,
                "event": event_name,
                "tx_id": tx_id,
                "hold_id": hold_id,
                "actor_id": actor_id,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
                "created_at": created_at,
            },
        )
        self.conn.execute(
            update(AH)
            .where(AH.c.community_id == community_id, AH.c.shard == self.shard)
            .values(seq=seq + 1, hash=digest)
        )
        self.heads[community_id] = [seq + 1, digest]


def _lock(
    conn: Connection, key: str, communities: Sequence[int], shard: int | None = None
) -> tuple[_Chain, Row[Any] | None]:
    chain = _Chain(conn, communities, shard_of(key) if shard is None else shard)
    # SQLite: BEGIN IMMEDIATE already made the first look authoritative.
    rec = _idem(conn, key) if conn.dialect.name == "postgresql" else None
    return chain, rec


# --- the portable posting path -------------------------------------------------------------


def _post_py(
    db: Db | None,
    conn: Connection,
    req: _Request,
    *,
    reverses_id: int | None = None,
    hold_id: int | None = None,
    force: bool = False,
) -> PostResult:
    rec = _idem(conn, req.key)
    if rec is not None:
        return _replay_tx(conn, rec, req)
    if req.over_cap is not None:
        raise req.over_cap
    ids = [a for a, _ in req.entries]
    comms = _validate_accounts(_accounts(conn, ids, lock=False), ids, req.allow_cross)
    chain, rec = _lock(conn, req.key, comms)
    if rec is not None:
        return _replay_tx(conn, rec, req)
    accounts = _accounts(conn, ids, lock=True)

    def reject(err: errors.LedgerError) -> errors.LedgerError:
        return _reject(db, conn, req.key, req.op, req.hash, err)

    now = utcnow()
    held_change: dict[int, int] = {}
    if reverses_id is not None:
        prior = conn.execute(select(T.c.id).where(T.c.reverses_id == reverses_id)).scalar()
        if prior is not None:
            raise reject(
                errors.AlreadyReversed(
                    "transaction already reversed", tx_id=reverses_id, reversal_tx_id=prior
                )
            )
    if hold_id is not None:
        hold = conn.execute(select(H).where(H.c.id == hold_id).with_for_update()).one()
        if hold.status != "pending":
            raise reject(errors.HoldNotPending("hold is not pending", hold_id=hold_id, status=hold.status))
        if hold.expires_at is not None and hold.expires_at <= now:
            raise reject(errors.HoldExpired("hold has expired", hold_id=hold_id))
        held_change[hold.account_id] = -hold.amount

    new: dict[int, tuple[int, int, int]] = {}  # account -> (balance, held, debt_allowed)
    for account_id, amount in req.entries:
        a = accounts[account_id]
        balance, held = a.balance + amount, a.held + held_change.get(account_id, 0)
        old_available, available = a.balance - a.held, balance - held
        if not (a.may_go_negative or force) and available < 0 and available < old_available:
            raise reject(
                errors.InsufficientFunds(
                    "insufficient funds", account_id=account_id, available=old_available, required=-amount
                )
            )
        debt = 0 if available >= 0 else (max(a.debt_allowed, -available) if force else a.debt_allowed)
        new[account_id] = (balance, held, debt)

    tx_id = conn.execute(
        insert(T).returning(T.c.id),
        {
            "community_id": comms[0],
            "kind": req.kind,
            "actor_id": req.actor_id,
            "reason": req.reason,
            "ref_type": req.ref_type,
            "ref_id": req.ref_id,
            "reverses_id": reverses_id,
            "hold_id": hold_id,
            "forced": force,
            "created_at": now,
        },
    ).scalar_one()
    conn.execute(
        insert(E),
        [{"tx_id": tx_id, "account_id": a, "amount": m, "balance_after": new[a][0]} for a, m in req.entries],
    )
    conn.execute(
        update(A)
        .where(A.c.id == bindparam("aid"))
        .values(balance=bindparam("b"), held=bindparam("h"), debt_allowed=bindparam("d")),
        [{"aid": a, "b": b, "h": h, "d": d} for a, (b, h, d) in new.items()],
    )
    if hold_id is not None:
        captured = next(-m for a, m in req.entries if a == hold.account_id)
        conn.execute(
            update(H)
            .where(H.c.id == hold_id)
            .values(
                status="captured",
                captured_amount=captured,
                resolved_at=now,
                resolved_by=req.actor_id,
                resolve_reason=req.reason,
            )
        )
    chain.append(
        comms[0],
        "tx",
        canonical.tx_payload(
            tx_id=tx_id,
            community_id=comms[0],
            kind=req.kind,
            actor_id=req.actor_id,
            reason=req.reason,
            ref_type=req.ref_type,
            ref_id=req.ref_id,
            reverses_id=reverses_id,
            hold_id=hold_id,
            forced=force,
            created_at=now,
            entries=req.entries,
        ),
        now,
        req.actor_id,
        tx_id=tx_id,
    )
    conn.execute(
        insert(IDEM),
        {"key": req.key, "op": req.op, "request_hash": req.hash, "tx_id": tx_id, "created_at": now},
    )
    return PostResult(tx_id, req.kind, now, req.entries)


# --- the SQLite fast path --------------------------------------------------------------------

# Plain postings on SQLite: the same statements and rules as ``_post_py``, executed as
# cached prepared statements on the sqlite3 connection of the caller's transaction (begun
# IMMEDIATE by core.db, so reads are authoritative and no FOR UPDATE is needed). SQLAlchemy's
# per-statement work was most of the cost of a posting here (commits are ~0.1 ms).
_SQ_IDEM = "SELECT 1 FROM ledger_idempotency WHERE key = ?"
_SQ_ACCOUNTS = (
    "SELECT id, community_id, currency, closed_at, balance, held, may_go_negative, debt_allowed "
    "FROM ledger_accounts WHERE id IN ({}) ORDER BY id"
)
_SQ_HEAD = "SELECT seq, hash FROM ledger_audit_heads WHERE community_id = ? AND shard = ?"
_SQ_TX = (
    "INSERT INTO ledger_transactions (community_id, kind, actor_id, reason, ref_type, ref_id, "
    "reverses_id, hold_id, forced, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?)"
)
_SQ_ENTRY = "INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after) VALUES (?, ?, ?, ?)"
_SQ_BALANCE = "UPDATE ledger_accounts SET balance = ?, debt_allowed = ? WHERE id = ?"
_SQ_RECORD = (
    "INSERT INTO ledger_audit_records (community_id, shard, seq, event, tx_id, hold_id, actor_id, "
    "payload, prev_hash, hash, created_at) VALUES (?, ?, ?, 'tx', ?, NULL, ?, ?, ?, ?, ?)"
)
_SQ_HEAD_UPDATE = "UPDATE ledger_audit_heads SET seq = ?, hash = ? WHERE community_id = ? AND shard = ?"
_SQ_KEY = (
    "INSERT INTO ledger_idempotency (key, op, request_hash, tx_id, hold_id, error_code, error_detail, "
    "created_at) VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)"
)
_sq_time: dict[Any, Any] = {}


def _sq_when(conn: Connection, when: dt.datetime) -> Any:
    """``created_at`` exactly as SQLAlchemy's column type stores it."""
    proc = _sq_time.get(conn.dialect)
    if proc is None:
        proc = _sq_time[conn.dialect] = T.c.created_at.type._cached_bind_processor(conn.dialect) or (
            lambda v: v
        )
    return proc(when)


def _post_sqlite(db: Db | None, conn: Connection, req: _Request) -> PostResult:
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if cur.execute(_SQ_IDEM, (req.key,)).fetchone() is not None:
            return _replay_tx(conn, _idem(conn, req.key), req)  # type: ignore[arg-type]
        if req.over_cap is not None:
            raise req.over_cap
        ids = [a for a, _ in req.entries]
        rows = cur.execute(_SQ_ACCOUNTS.format(",".join("?" * len(ids))), ids).fetchall()
        if len(rows) != len(ids) or any(r[3] is not None for r in rows) or len({r[2] for r in rows}) > 1:
            # the rare error cases: let the portable path word the error
            _validate_accounts(_accounts(conn, ids, lock=False), ids, req.allow_cross)
        comms = sorted({r[1] for r in rows})
        if len(comms) > 1:
            if not req.allow_cross:
                raise errors.CrossCommunity("posting across communities is not allowed", community_ids=comms)
            return _post_py(db, conn, req)
        shard = shard_of(req.key)
        head = cur.execute(_SQ_HEAD, (comms[0], shard)).fetchone()
        if head is None:
            return _post_py(db, conn, req)  # creates the missing chain head
        new: list[tuple[int, int, int]] = []  # (balance, debt_allowed, id)
        for (account_id, amount), r in zip(req.entries, rows, strict=True):
            _, _, _, _, bal, held, may_go_negative, debt = r
            after = bal + amount
            available = after - held
            if not may_go_negative and available < 0 and amount < 0:
                raise _reject(
                    db,
                    conn,
                    req.key,
                    req.op,
                    req.hash,
                    errors.InsufficientFunds(
                        "insufficient funds", account_id=account_id, available=bal - held, required=-amount
                    ),
                )
            new.append((after, 0 if available >= 0 else debt, account_id))
        now = utcnow()
        when = _sq_when(conn, now)
        cur.execute(_SQ_TX, (comms[0], req.kind, req.actor_id, req.reason, req.ref_type, req.ref_id, when))
        tx_id = cur.lastrowid
        cur.executemany(
            _SQ_ENTRY, [(tx_id, a, m, b) for (a, m), (b, _, _) in zip(req.entries, new, strict=True)]
        )
        cur.executemany(_SQ_BALANCE, new)
        payload = canonical.tx_payload(
            tx_id=tx_id,
            community_id=comms[0],
            kind=req.kind,
            actor_id=req.actor_id,
            reason=req.reason,
            ref_type=req.ref_type,
            ref_id=req.ref_id,
            reverses_id=None,
            hold_id=None,
            forced=False,
            created_at=now,
            entries=req.entries,
        )
        seq, prev = head
        digest = canonical.chain_hash(prev, payload)
        cur.execute(_SQ_RECORD, (comms[0], shard, seq + 1, tx_id, req.actor_id, payload, prev, digest, when))
        cur.execute(_SQ_HEAD_UPDATE, (seq + 1, digest, comms[0], shard))
        cur.execute(_SQ_KEY, (req.key, req.op, req.hash, tx_id, when))
        return PostResult(tx_id, req.kind, now, req.entries)  # type: ignore[arg-type]
    finally:
        cur.close()


# --- the PostgreSQL fast path ----------------------------------------------------------------

# Executed on the driver connection of the caller's transaction with server-side prepared
# statements: the posting is one round trip and almost no client-side work.
_PG_POST = (
    "SELECT o_status, o_tx_id, o_created_at, o_detail FROM ledger_post("
    "%s::text, %s::text, %s::text, %s::bigint, %s::text, %s::text, %s::bigint, "
    "%s::bigint[], %s::bigint[], %s::boolean, %s::int)"
)
_PG_POST_MANY = (
    "SELECT o_status, o_tx_id, o_created_at, o_detail FROM ledger_post_many("
    "%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], "
    "%s::bigint[], %s::int[], %s::bigint[], %s::bigint[], %s::boolean[], %s::int[], %s::int[])"
)


def _pg_call(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    driver = conn.connection.driver_connection
    if not conn.in_transaction() and not driver.autocommit:  # type: ignore[union-attr]
        # SQLAlchemy autobegins only on its own execute; without this a bare Connection's
        # commit() would not know about the work done on the driver connection.
        # (An AUTOCOMMIT connection needs none: the function call is one atomic statement,
        # its own durable transaction — rejection record included.)
        conn.begin()
    return driver.execute(sql, params, prepare=True).fetchall()  # type: ignore[union-attr]


def _pg_params(req: _Request) -> tuple[Any, ...]:
    return (
        req.key,
        req.hash,
        req.kind,
        req.actor_id,
        req.reason,
        req.ref_type,
        req.ref_id,
        [a for a, _ in req.entries],
        [m for _, m in req.entries],
        req.allow_cross,
        shard_of(req.key),
    )


def _pg_outcome(db: Db | None, req: _Request, row: Sequence[Any]) -> PostResult:
    status, tx_id, created_at, detail = row
    if status in ("ok", "replayed"):
        return PostResult(
            tx_id,
            req.kind,
            created_at.astimezone(dt.UTC),
            req.entries,
            replayed=status == "replayed",
        )
    info = json.loads(detail or "{}")
    if status == "replayed_rejection":
        raise errors.from_code(
            info["code"],
            json.loads(info["detail"]) if isinstance(info["detail"], str) else info["detail"],
            replayed=True,
        )
    if status == "idempotency_conflict":
        raise errors.IdempotencyConflict("idempotency key reused with different content", **info)
    err = errors.from_code(status, info)
    if status in errors.STATEFUL_CODES:  # the function has recorded it in this transaction
        _remember_rejection(
            db,
            {
                "key": req.key,
                "op": req.op,
                "request_hash": req.hash,
                "error_code": status,
                "error_detail": canonical.dumps(info),
                "created_at": utcnow(),
            },
        )
    raise err


# --- public API ----------------------------------------------------------------------------


def post(
    db: Db,
    *,
    key: str,
    kind: str,
    entries: Iterable[tuple[int, int]],
    actor: Actor,
    reason: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    allow_cross_community: bool = False,
) -> PostResult:
    """Post one balanced transaction. Raises a ``LedgerError`` subclass on any rejection."""
    req = _request(Posting(key, kind, tuple(entries), actor, reason, ref_type, ref_id, allow_cross_community))
    conn = conn_of(db)
    if use_pg_function(conn):
        if req.over_cap is not None and _idem(conn, req.key) is None:
            raise req.over_cap
        return _pg_outcome(db, req, _pg_call(conn, _PG_POST, _pg_params(req))[0])
    if use_sqlite_statements(conn):
        return _post_sqlite(db, conn, req)
    return _post_py(db, write_conn_of(conn), req)


def post_many(db: Db, postings: Sequence[Posting]) -> list[PostResult]:
    """Post a batch (e.g. approving 500 hour logs) all-or-nothing: if one is rejected the
    batch is rolled back to a savepoint and that rejection is raised (with ``.detail['index']``)."""
    reqs = [_request(p) for p in postings]
    if len({r.key for r in reqs}) != len(reqs):
        raise errors.InvalidRequest("duplicate idempotency key in batch")
    if not reqs:
        return []
    conn = write_conn_of(db)
    for i, r in enumerate(reqs):
        if r.over_cap is not None and _idem(conn, r.key) is None:
            r.over_cap.detail["index"] = i
            raise r.over_cap
    savepoint = conn.begin_nested()
    results: list[PostResult] = []
    try:
        if use_pg_function(conn):
            rows = _pg_call(
                conn,
                _PG_POST_MANY,
                (
                    [r.key for r in reqs],
                    [r.hash for r in reqs],
                    [r.kind for r in reqs],
                    [r.actor_id for r in reqs],
                    [r.reason for r in reqs],
                    [r.ref_type for r in reqs],
                    [r.ref_id for r in reqs],
                    [len(r.entries) for r in reqs],
                    [a for r in reqs for a, _ in r.entries],
                    [m for r in reqs for _, m in r.entries],
                    [r.allow_cross for r in reqs],
                    [shard_of(r.key) for r in reqs],
                    [i for i, r in enumerate(reqs, 1) for _ in r.entries],
                ),
            )
            for req, row in zip(reqs, rows, strict=True):
                if row[0] in errors.STATEFUL_CODES:
                    raise errors.from_code(row[0], json.loads(row[3] or "{}"))
                results.append(_pg_outcome(None, req, row))
        else:
            post_one = _post_sqlite if use_sqlite_statements(conn) else _post_py
            for req in reqs:
                results.append(post_one(None, conn, req))
    except errors.LedgerError as err:
        # Undo the whole batch, then remember the one state rejection under its own key.
        savepoint.rollback()
        failed = reqs[len(results)]
        if err.code in errors.STATEFUL_CODES and not err.replayed:
            _reject(db, conn, failed.key, failed.op, failed.hash, err)
        err.detail["index"] = len(results)
        raise
    savepoint.commit()
    return results


def transfer(
    db: Db,
    *,
    key: str,
    from_account: int,
    to_account: int,
    amount: int,
    actor: Actor,
    reason: str,
    kind: str = "transfer",
    ref_type: str | None = None,
    ref_id: int | None = None,
    allow_cross_community: bool = False,
) -> PostResult:
    _check_amount(amount, None)
    return post(
        db,
        key=key,
        kind=kind,
        entries=[(from_account, -amount), (to_account, amount)],
        actor=actor,
        reason=reason,
        ref_type=ref_type,
        ref_id=ref_id,
        allow_cross_community=allow_cross_community,
    )


def issue(
    db: Db,
    *,
    key: str,
    fund_account: int,
    to_account: int,
    amount: int,
    actor: Actor,
    reason: str,
    kind: str = "earn",
    ref_type: str | None = None,
    ref_id: int | None = None,
) -> PostResult:
    """Points come into existence from the community fund (which may go negative)."""
    return transfer(
        db,
        key=key,
        from_account=fund_account,
        to_account=to_account,
        amount=amount,
        actor=actor,
        reason=reason,
        kind=kind,
        ref_type=ref_type,
        ref_id=ref_id,
    )


def reverse(db: Db, *, tx_id: int, key: str, actor: Actor, reason: str, force: bool = False) -> PostResult:
    """Post the opposite entries of ``tx_id`` once. Refuses to overdraw a holder unless
    ``force`` (an admin, with a reason; the holder then carries a recorded debt)."""
    _check_common(key, actor, reason, None, None)
    if force and actor.is_system:
        raise errors.InvalidRequest("only an admin (a user actor) may force a reversal")
    conn = write_conn_of(db)
    tx = conn.execute(select(T).where(T.c.id == tx_id)).first()
    if tx is None:
        raise errors.UnknownTransaction("unknown transaction", tx_id=tx_id)
    if tx.kind == "reverse":
        raise errors.NotReversible("a reversal cannot be reversed; post a new transaction", tx_id=tx_id)
    original = conn.execute(select(E.c.account_id, E.c.amount).where(E.c.tx_id == tx_id)).all()
    entries = tuple(sorted((a, -m) for a, m in original))
    content = ["reverse", [list(e) for e in entries], actor.id, reason, "ledger_tx", tx_id, True, bool(force)]
    req = _Request(
        key,
        "reverse",
        "reverse",
        entries,
        actor.id,
        reason,
        "ledger_tx",
        tx_id,
        True,
        canonical.request_hash("reverse", content),
    )
    return _post_py(db, conn, req, reverses_id=tx_id, force=force)


# --- holds ---------------------------------------------------------------------------------


def _hold_result(conn: Connection, hold_id: int, replayed: bool) -> HoldResult:
    h = conn.execute(select(H).where(H.c.id == hold_id)).one()
    return HoldResult(h.id, h.account_id, h.amount, h.status, h.expires_at, replayed)


def hold(
    db: Db,
    *,
    key: str,
    account_id: int,
    amount: int,
    actor: Actor,
    reason: str,
    expires_at: dt.datetime | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
) -> HoldResult:
    """Reserve ``amount`` of the account's spendable balance until captured, voided or expired."""
    reason = _check_common(key, actor, reason, ref_type, ref_id)
    _check_amount(amount, None)
    if expires_at is not None and expires_at.tzinfo is None:
        raise errors.InvalidRequest("expires_at must be timezone-aware")
    request_hash = canonical.request_hash(
        "hold",
        [
            account_id,
            amount,
            actor.id,
            reason,
            ref_type,
            ref_id,
            None if expires_at is None else canonical.micros(expires_at),
        ],
    )
    conn = write_conn_of(db)
    rec = _idem(conn, key)
    if rec is not None:
        _check_replay(rec, request_hash)
        return _hold_result(conn, rec.hold_id, True)
    _check_amount(amount, config().max_posting_amount)  # after the look-up: replays survive a lower cap
    comms = _validate_accounts(_accounts(conn, [account_id], lock=False), [account_id], False)
    chain, rec = _lock(conn, key, comms)
    if rec is not None:
        _check_replay(rec, request_hash)
        return _hold_result(conn, rec.hold_id, True)
    a = _accounts(conn, [account_id], lock=True)[account_id]
    if not a.may_go_negative and a.balance - a.held < amount:
        raise _reject(
            db,
            conn,
            key,
            "hold",
            request_hash,
            errors.InsufficientFunds(
                "insufficient funds", account_id=account_id, available=a.balance - a.held, required=amount
            ),
        )
    now = utcnow()
    hold_id = conn.execute(
        insert(H).returning(H.c.id),
        {
            "account_id": account_id,
            "community_id": a.community_id,
            "amount": amount,
            "status": "pending",
            "actor_id": actor.id,
            "reason": reason,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "expires_at": expires_at,
            "created_at": now,
        },
    ).scalar_one()
    conn.execute(update(A).where(A.c.id == account_id).values(held=A.c.held + amount))
    chain.append(
        a.community_id,
        "hold",
        canonical.dumps(
            [
                "hold",
                hold_id,
                a.community_id,
                account_id,
                amount,
                actor.id,
                reason,
                ref_type,
                ref_id,
                None if expires_at is None else canonical.micros(expires_at),
                canonical.micros(now),
            ]
        ),
        now,
        actor.id,
        hold_id=hold_id,
    )
    conn.execute(
        insert(IDEM),
        {"key": key, "op": "hold", "request_hash": request_hash, "hold_id": hold_id, "created_at": now},
    )
    return HoldResult(hold_id, account_id, amount, "pending", expires_at)


def capture(
    db: Db,
    *,
    key: str,
    hold_id: int,
    to_account: int,
    actor: Actor,
    reason: str,
    amount: int | None = None,
    kind: str = "redeem",
    allow_cross_community: bool = False,
) -> PostResult:
    """Turn a pending hold into a transaction of ``amount`` (default: all of it) to
    ``to_account``; the rest of the hold is released. A hold resolves exactly once."""
    conn = write_conn_of(db)
    h = conn.execute(select(H).where(H.c.id == hold_id)).first()
    if h is None:
        raise errors.UnknownHold("unknown hold", hold_id=hold_id)
    amount = h.amount if amount is None else amount
    if not _is_int(amount) or not 0 < amount <= h.amount:
        raise errors.InvalidAmount(
            "capture amount must be between 1 and the held amount", amount=amount, held=h.amount
        )
    req = _request(
        Posting(
            key,
            kind,
            ((h.account_id, -amount), (to_account, amount)),
            actor,
            reason,
            h.ref_type,
            h.ref_id,
            allow_cross_community,
        ),
        "capture",
        extra=[hold_id],
    )
    return _post_py(db, conn, req, hold_id=hold_id)


def void(db: Db, *, key: str, hold_id: int, actor: Actor, reason: str) -> HoldResult:
    """Release a pending hold without moving points."""
    return _release(db, key=key, hold_id=hold_id, actor=actor, reason=reason, status="voided")


def _release(
    db: Db,
    *,
    key: str,
    hold_id: int,
    actor: Actor,
    reason: str,
    status: str,
    now: dt.datetime | None = None,
    shard: int | None = None,
) -> HoldResult:
    reason = _check_common(key, actor, reason, None, None)
    request_hash = canonical.request_hash(status, [hold_id, actor.id, reason])
    conn = write_conn_of(db)
    rec = _idem(conn, key)
    if rec is not None:
        _check_replay(rec, request_hash)
        return _hold_result(conn, rec.hold_id, True)
    h = conn.execute(select(H).where(H.c.id == hold_id)).first()
    if h is None:
        raise errors.UnknownHold("unknown hold", hold_id=hold_id)
    chain, rec = _lock(conn, key, [h.community_id], shard)
    if rec is not None:
        _check_replay(rec, request_hash)
        return _hold_result(conn, rec.hold_id, True)
    _accounts(conn, [h.account_id], lock=True)  # accounts before the hold row, as capture does
    h = conn.execute(select(H).where(H.c.id == hold_id).with_for_update()).one()
    if h.status != "pending":
        raise _reject(
            db,
            conn,
            key,
            status,
            request_hash,
            errors.HoldNotPending("hold is not pending", hold_id=hold_id, status=h.status),
        )
    now = now or utcnow()
    conn.execute(
        update(H)
        .where(H.c.id == hold_id)
        .values(status=status, resolved_at=now, resolved_by=actor.id, resolve_reason=reason)
    )
    conn.execute(update(A).where(A.c.id == h.account_id).values(held=A.c.held - h.amount))
    chain.append(
        h.community_id,
        status,
        canonical.dumps([status, hold_id, actor.id, reason, canonical.micros(now)]),
        now,
        actor.id,
        hold_id=hold_id,
    )
    conn.execute(
        insert(IDEM),
        {"key": key, "op": status, "request_hash": request_hash, "hold_id": hold_id, "created_at": now},
    )
    return HoldResult(hold_id, h.account_id, h.amount, status, h.expires_at)


def expire_holds(db: Db, *, now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    """Release pending holds whose deadline has passed; returns their ids. Safe to run
    concurrently with captures: a hold resolved meanwhile is skipped."""
    now = now or utcnow()
    conn = write_conn_of(db)
    due = (
        conn.execute(
            select(H.c.id).where(H.c.status == "pending", H.c.expires_at <= now).order_by(H.c.id).limit(limit)
        )
        .scalars()
        .all()
    )
    done: list[int] = []
    actor = Actor.system("hold expiry")
    # One shard for all expiries: this transaction keeps the heads it took, so taking the
    # same one again never waits while it holds account rows (no lock-order cycle).
    for hold_id in due:
        try:
            _release(
                db,
                key=f"ledger:expire-hold:{hold_id}",
                hold_id=hold_id,
                actor=actor,
                reason="hold expired",
                status="expired",
                now=now,
                shard=0,
            )
            done.append(hold_id)
        except errors.HoldNotPending:
            pass
    return done
