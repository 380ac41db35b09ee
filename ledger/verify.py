"""Recompute every ledger invariant from the raw rows; used by ``flask ledger verify``.

Read-only. Each check is a query (or a streamed scan) that lists violations; the report
is readable by an operator and ``ok`` only when there are none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from ledger import canonical, checkpoints, ddl
from ledger.models import GENESIS_HASH, Account, AuditHead, AuditRecord, Entry, Hold, Transaction
from ledger.types import Db, read_conn_of

A, T, E, H = Account.__table__, Transaction.__table__, Entry.__table__, Hold.__table__
AH, AR = AuditHead.__table__, AuditRecord.__table__
MAX_LINES_PER_CHECK = 20
CHUNK = 5000


@dataclass
class Report:
    violations: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, check: str, message: str) -> None:
        self.violations.setdefault(check, []).append(message)

    def lines(self) -> list[str]:
        head = ", ".join(f"{k}={v}" for k, v in self.stats.items())
        if self.ok:
            return [f"ledger OK: {len(self.checks)} checks passed ({head})"]
        out = [
            f"ledger verification FAILED: {sum(map(len, self.violations.values()))} violation(s) "
            f"in {len(self.violations)} of {len(self.checks)} checks ({head})"
        ]
        for check, msgs in self.violations.items():
            out.append(f"[{check}]")
            out += [f"  - {m}" for m in msgs[:MAX_LINES_PER_CHECK]]
            if len(msgs) > MAX_LINES_PER_CHECK:
                out.append(f"  … and {len(msgs) - MAX_LINES_PER_CHECK} more")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _check(report: Report, name: str, conn: Connection, sql: str, fmt: str) -> None:
    report.checks.append(name)
    for row in conn.execute(text(sql)):
        report.add(name, fmt.format(**row._mapping))


def verify(db: Db) -> Report:
    conn = read_conn_of(db)
    r = Report()
    r.stats = {
        "accounts": conn.execute(select(func.count()).select_from(A)).scalar_one(),
        "transactions": conn.execute(select(func.count()).select_from(T)).scalar_one(),
        "entries": conn.execute(select(func.count()).select_from(E)).scalar_one(),
        "holds": conn.execute(select(func.count()).select_from(H)).scalar_one(),
        "audit_records": conn.execute(select(func.count()).select_from(AR)).scalar_one(),
    }
    _check(
        r,
        "transaction sums to zero",
        conn,
        """
        SELECT t.id, COALESCE(SUM(e.amount), 0) AS total, COUNT(e.id) AS n
          FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.tx_id = t.id
         GROUP BY t.id HAVING COALESCE(SUM(e.amount), 0) <> 0 OR COUNT(e.id) < 2""",
        "transaction {id}: {n} entries summing to {total}",
    )
    _check(
        r,
        "ledger sums to zero",
        conn,
        """
        SELECT a.currency, SUM(a.balance) AS stored, (SELECT COALESCE(SUM(e.amount), 0)
               FROM ledger_entries e JOIN ledger_accounts b ON b.id = e.account_id
              WHERE b.currency = a.currency) AS entries
          FROM ledger_accounts a GROUP BY a.currency
        HAVING SUM(a.balance) <> 0 OR (SELECT COALESCE(SUM(e.amount), 0)
               FROM ledger_entries e JOIN ledger_accounts b ON b.id = e.account_id
              WHERE b.currency = a.currency) <> 0""",
        "{currency}: stored balances sum to {stored}, entries to {entries}",
    )
    _check(
        r,
        "stored balance equals entries",
        conn,
        """
        SELECT a.id, a.balance, COALESCE(s.total, 0) AS total
          FROM ledger_accounts a
          LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_entries GROUP BY account_id) s
                 ON s.account_id = a.id
         WHERE a.balance <> COALESCE(s.total, 0)""",
        "account {id}: stored balance {balance}, entries sum to {total}",
    )
    _check(
        r,
        "running balances",
        conn,
        """
        SELECT id, account_id, balance_after, running FROM (
            SELECT id, account_id, balance_after,
                   SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running
              FROM ledger_entries) x
         WHERE balance_after <> running""",
        "entry {id} of account {account_id}: balance_after {balance_after}, expected {running}",
    )
    _check(
        r,
        "no overdraft",
        conn,
        """
        SELECT a.id, a.balance, a.held, a.debt_allowed,
               (SELECT COUNT(*) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.tx_id
                 WHERE e.account_id = a.id AND t.forced) AS forced
          FROM ledger_accounts a
         WHERE NOT a.may_go_negative AND a.balance - a.held < 0
           AND (a.balance - a.held < -a.debt_allowed OR NOT EXISTS (
                SELECT 1 FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.tx_id
                 WHERE e.account_id = a.id AND t.forced))""",
        "account {id} may not go negative: balance {balance}, held {held}, "
        "recorded forced debt {debt_allowed} ({forced} forced reversals)",
    )
    _check(
        r,
        "held equals pending holds",
        conn,
        """
        SELECT a.id, a.held, COALESCE(p.total, 0) AS total
          FROM ledger_accounts a
          LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_holds
                      WHERE status = 'pending' GROUP BY account_id) p ON p.account_id = a.id
         WHERE a.held <> COALESCE(p.total, 0)""",
        "account {id}: held {held}, pending holds sum to {total}",
    )
    _check(
        r,
        "hold resolved at most once",
        conn,
        """
        SELECT h.id, h.status, h.captured_amount,
               (SELECT COUNT(*) FROM ledger_transactions t WHERE t.hold_id = h.id) AS captures,
               (SELECT COUNT(*) FROM ledger_audit_records r
                 WHERE r.hold_id = h.id AND r.event IN ('voided', 'expired')) AS releases,
               (SELECT -e.amount FROM ledger_transactions t JOIN ledger_entries e
                    ON e.tx_id = t.id AND e.account_id = h.account_id WHERE t.hold_id = h.id) AS taken
          FROM ledger_holds h
         WHERE (SELECT COUNT(*) FROM ledger_transactions t WHERE t.hold_id = h.id)
               <> CASE WHEN h.status = 'captured' THEN 1 ELSE 0 END
            OR (SELECT COUNT(*) FROM ledger_audit_records r
                 WHERE r.hold_id = h.id AND r.event IN ('voided', 'expired'))
               <> CASE WHEN h.status IN ('voided', 'expired') THEN 1 ELSE 0 END
            OR (h.status = 'captured' AND COALESCE(h.captured_amount, -1) <> COALESCE((
                SELECT -e.amount FROM ledger_transactions t JOIN ledger_entries e
                    ON e.tx_id = t.id AND e.account_id = h.account_id WHERE t.hold_id = h.id), -1))""",
        "hold {id} ({status}): {captures} capture transaction(s), {releases} release record(s), "
        "captured_amount {captured_amount} vs {taken} taken",
    )
    _check(
        r,
        "reversal mirrors original",
        conn,
        """
        SELECT t.id, t.reverses_id FROM ledger_transactions t
         WHERE t.reverses_id IS NOT NULL AND (
               EXISTS (SELECT 1 FROM ledger_entries o WHERE o.tx_id = t.reverses_id AND NOT EXISTS (
                       SELECT 1 FROM ledger_entries e WHERE e.tx_id = t.id
                          AND e.account_id = o.account_id AND e.amount = -o.amount))
            OR (SELECT COUNT(*) FROM ledger_entries e WHERE e.tx_id = t.id)
               <> (SELECT COUNT(*) FROM ledger_entries o WHERE o.tx_id = t.reverses_id))""",
        "transaction {id} does not mirror the transaction {reverses_id} it reverses",
    )
    _verify_chains(conn, r)
    _verify_tx_records(conn, r)
    r.checks.append("database guards")
    for problem in ddl.missing_or_changed(conn):
        r.add("database guards", f"{problem}: the database no longer enforces the ledger's rules")
    r.checks.append("signed checkpoints")
    checkpoints.verify_checkpoints(conn, lambda msg: r.add("signed checkpoints", msg), r.stats)
    return r


def _verify_chains(conn: Connection, r: Report) -> None:
    """Every (community, shard) chain: contiguous seqs, each prev_hash the previous hash,
    each hash recomputed from its payload, and the head equal to the last record."""
    name = "audit hash chains"
    r.checks.append(name)
    heads = {(h.community_id, h.shard): h for h in conn.execute(select(AH))}
    last: dict[tuple[int, int], tuple[int, str]] = defaultdict(lambda: (0, GENESIS_HASH))
    q = (
        select(AR.c.id, AR.c.community_id, AR.c.shard, AR.c.seq, AR.c.payload, AR.c.prev_hash, AR.c.hash)
        .order_by(AR.c.community_id, AR.c.shard, AR.c.seq)
        .execution_options(yield_per=CHUNK)
    )
    # yield_per on the statement (not the caller's connection) so it does not outlive this scan.
    for rec in conn.execute(q):
        chain = (rec.community_id, rec.shard)
        seq, prev = last[chain]
        where = f"community {rec.community_id} chain {rec.shard} record seq {rec.seq} (id {rec.id})"
        if rec.seq != seq + 1:
            r.add(name, f"{where}: expected seq {seq + 1} (records missing or reordered)")
        if rec.prev_hash != prev:
            r.add(name, f"{where}: prev_hash does not match the previous record's hash")
        if canonical.chain_hash(rec.prev_hash, rec.payload) != rec.hash:
            r.add(name, f"{where}: hash does not match its payload (record altered)")
        last[chain] = (rec.seq, rec.hash)
    for chain in sorted(set(heads) | set(last)):
        h = heads.get(chain)
        seq, digest = last[chain]
        if h is None or (h.seq, h.hash) != (seq, digest):
            r.add(
                name,
                f"community {chain[0]} chain {chain[1]}: head (seq {h.seq if h else None}) does "
                f"not match its last record (seq {seq}) — records removed or head altered",
            )


def _verify_tx_records(conn: Connection, r: Report) -> None:
    """Each transaction has exactly one audit record whose payload is the transaction."""
    name = "transactions sealed in the chain"
    r.checks.append(name)
    max_id = conn.execute(select(func.max(T.c.id))).scalar() or 0
    for lo in range(0, max_id, CHUNK):
        hi = lo + CHUNK
        txs = conn.execute(select(T).where(T.c.id > lo, T.c.id <= hi)).all()
        entries: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for e in conn.execute(
            select(E.c.tx_id, E.c.account_id, E.c.amount).where(E.c.tx_id > lo, E.c.tx_id <= hi)
        ):
            entries[e.tx_id].append((e.account_id, e.amount))
        recs: dict[int, list[Any]] = defaultdict(list)
        for rec in conn.execute(
            select(AR.c.tx_id, AR.c.community_id, AR.c.payload).where(
                AR.c.event == "tx", AR.c.tx_id > lo, AR.c.tx_id <= hi
            )
        ):
            recs[rec.tx_id].append(rec)
        for t in txs:
            found = recs.get(t.id, [])
            if len(found) != 1:
                r.add(name, f"transaction {t.id}: {len(found)} audit records (expected 1)")
                continue
            payload = canonical.tx_payload(
                tx_id=t.id,
                community_id=t.community_id,
                kind=t.kind,
                actor_id=t.actor_id,
                reason=t.reason,
                ref_type=t.ref_type,
                ref_id=t.ref_id,
                reverses_id=t.reverses_id,
                hold_id=t.hold_id,
                forced=bool(t.forced),
                created_at=t.created_at,
                entries=entries[t.id],
            )
            if found[0].payload != payload or found[0].community_id != t.community_id:
                r.add(name, f"transaction {t.id}: rows differ from the sealed audit record (altered)")
