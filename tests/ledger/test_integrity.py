"""The database refuses edits; verify catches what a privileged attacker does anyway;
the Python and SQL audit serializations are byte-identical."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import ledger
from core.db import utcnow
from ledger import Actor, canonical
from ledger.models import AuditRecord

STAFF = Actor.user(1)


@pytest.fixture
def history(session: Session, books: dict[str, int]) -> dict[str, int]:
    f, a, b = books["fund"], books["alice"], books["bob"]
    ledger.issue(session, key="i1", fund_account=f, to_account=a, amount=50, actor=STAFF, reason="hours")
    t = ledger.transfer(
        session, key="t1", from_account=a, to_account=b, amount=20, actor=Actor.user(101), reason="gift"
    )
    ledger.reverse(session, tx_id=t.tx_id, key="r1", actor=STAFF, reason="mistake")
    h = ledger.hold(session, key="h1", account_id=a, amount=10, actor=Actor.user(101), reason="voucher")
    ledger.capture(
        session, key="c1", hold_id=h.hold_id, to_account=books["shop"], amount=8, actor=STAFF, reason="scan"
    )
    h2 = ledger.hold(session, key="h2", account_id=a, amount=5, actor=Actor.user(101), reason="voucher")
    ledger.void(session, key="v2", hold_id=h2.hold_id, actor=STAFF, reason="cancel")
    ledger.hold(session, key="h3", account_id=a, amount=7, actor=Actor.user(101), reason="voucher")
    ledger.issue(
        session,
        key="i2",
        fund_account=books["other_fund"],
        to_account=books["carol"],
        amount=9,
        actor=STAFF,
        reason="hours",
    )
    ledger.append_event(session, community_id=1, event="admin.export", actor=STAFF, data={"rows": 12})
    session.commit()
    assert ledger.verify(session).ok, str(ledger.verify(session))
    assert ledger.posting.shard_of("r1") == ledger.posting.shard_of("c1") == 1  # used below
    session.rollback()  # end the read transaction: TRUNCATE/DDL below would wait for it
    return {**books, "tx": t.tx_id}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET reason = 'edited'",
        "DELETE FROM ledger_transactions WHERE id = 1",
        "UPDATE ledger_audit_records SET payload = 'x'",
        "DELETE FROM ledger_audit_records",
        "DELETE FROM ledger_idempotency",
        "UPDATE ledger_idempotency SET tx_id = NULL",
        "UPDATE ledger_holds SET status = 'pending', resolved_at = NULL, captured_amount = NULL WHERE status <> 'pending'",  # noqa: E501
        "UPDATE ledger_holds SET amount = 1",
        "DELETE FROM ledger_holds",
        "UPDATE ledger_accounts SET community_id = 99",
        "UPDATE ledger_accounts SET may_go_negative = true WHERE kind = 'user'",
        "DELETE FROM ledger_accounts",
        "UPDATE ledger_audit_heads SET seq = 0",
        "DELETE FROM ledger_audit_heads",
        # a balance changes only with the entries that explain it (checked at commit on PostgreSQL)
        "UPDATE ledger_accounts SET balance = balance + 5 WHERE kind = 'merchant'",
        "UPDATE ledger_accounts SET balance = balance - 1 WHERE kind = 'fund'",
        "UPDATE ledger_accounts SET balance = balance + 1 WHERE kind = 'user'",
    ],
)
def test_raw_sql_edits_are_refused(ledger_engine: Engine, history: dict[str, int], sql: str) -> None:
    with pytest.raises(sa.exc.DatabaseError, match="ledger: .* not allowed"):
        with ledger_engine.begin() as c:
            c.exec_driver_sql(sql)


@pytest.mark.parametrize(
    "table", ["ledger_entries", "ledger_transactions", "ledger_audit_records", "ledger_holds"]
)
def test_truncate_refused_on_postgres(
    ledger_engine: Engine, ledger_backend: str, history: dict[str, int], table: str
) -> None:
    if ledger_backend == "sqlite":
        pytest.skip("SQLite has no TRUNCATE (DELETE is refused above)")
    with pytest.raises(sa.exc.DatabaseError, match="not allowed"):
        with ledger_engine.begin() as c:
            c.exec_driver_sql(f"TRUNCATE {table} CASCADE")


def test_balance_moves_only_with_an_explaining_entry(ledger_engine: Engine, history: dict[str, int]) -> None:
    """An entry forged to explain a changed balance gets past the trigger, but then the
    books no longer balance and verify names the transaction and the accounts."""
    shop = history["shop"]
    with ledger_engine.begin() as c:  # raising the balance to what a forged entry says
        tx = c.exec_driver_sql("SELECT max(id) FROM ledger_transactions").scalar()
        c.exec_driver_sql(
            "INSERT INTO ledger_entries (tx_id, account_id, amount, balance_after) "
            f"VALUES ({tx}, {shop}, 5, 13)"
        )
        c.exec_driver_sql(f"UPDATE ledger_accounts SET balance = 13 WHERE id = {shop}")
    with Session(ledger_engine) as s:
        report = ledger.verify(s)
    assert f"transaction {tx}: 3 entries summing to 5" in report.violations["transaction sums to zero"]
    assert "ledger sums to zero" in report.violations


def test_overdraft_check_constraint_backstop(ledger_engine: Engine, history: dict[str, int]) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with ledger_engine.begin() as c:
            c.exec_driver_sql(f"UPDATE ledger_accounts SET balance = -1 WHERE id = {history['bob']}")


def _tamper(engine: Engine, backend: str, *sql: str) -> None:
    """What someone with DDL rights could do: switch the guards off, edit, switch back."""
    with engine.begin() as c:
        if backend == "sqlite":
            names = [r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
            for n in names:
                c.exec_driver_sql(f"DROP TRIGGER {n}")
            c.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
            c.exec_driver_sql("ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_no_overdraft")
        for s in sql:
            c.exec_driver_sql(s)


CORRUPTIONS = {
    "unbalanced entry": (
        ["UPDATE ledger_entries SET amount = amount + 1 WHERE id = 1"],
        [
            "transaction sums to zero",
            "ledger sums to zero",
            "stored balance equals entries",
            "transactions sealed in the chain",
        ],
    ),
    "stored balance": (
        ["UPDATE ledger_accounts SET balance = balance + 5 WHERE kind = 'merchant'"],
        ["stored balance equals entries", "ledger sums to zero"],
    ),
    "consistent rewrite of a transfer": (
        [
            "UPDATE ledger_entries SET amount = -25, balance_after = balance_after - 5 WHERE id = 3",
            "UPDATE ledger_entries SET amount = 25, balance_after = balance_after + 5 WHERE id = 4",
        ],
        [
            "transactions sealed in the chain",
            "running balances",
            "stored balance equals entries",
            "reversal mirrors original",
        ],
    ),
    "edited reason": (
        ["UPDATE ledger_transactions SET reason = 'nothing to see' WHERE id = 2"],
        ["transactions sealed in the chain"],
    ),
    # keys "r1" and "c1" are sealed in chain (shard) 1 of community 1: delete the first of the two
    "deleted audit record": (
        ["DELETE FROM ledger_audit_records WHERE seq = 1 AND shard = 1 AND community_id = 1"],
        ["audit hash chains", "transactions sealed in the chain"],
    ),
    "rehashed audit record": (
        [
            "UPDATE ledger_audit_records SET payload = payload || ' ', "
            "hash = 'f' || substr(hash, 2) WHERE seq = 1 AND community_id = 1"
        ],
        ["audit hash chains", "transactions sealed in the chain"],
    ),
    "negative user": (
        ["UPDATE ledger_accounts SET balance = -3 WHERE kind = 'user' AND user_id = 102"],
        ["no overdraft", "stored balance equals entries"],
    ),
    "hold resolved twice": (
        [
            "UPDATE ledger_holds SET status = 'voided', resolved_at = created_at, "
            "captured_amount = NULL WHERE status = 'captured'"
        ],
        ["hold resolved at most once"],
    ),
    "held drift": (
        ["UPDATE ledger_accounts SET held = 0 WHERE kind = 'user' AND user_id = 101"],
        ["held equals pending holds"],
    ),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_verify_reports_corruption(
    ledger_engine: Engine, ledger_backend: str, session: Session, history: dict[str, int], name: str
) -> None:
    sql, expected = CORRUPTIONS[name]
    _tamper(ledger_engine, ledger_backend, *sql)
    session.rollback()
    report = ledger.verify(session)
    assert not report.ok
    assert set(expected) <= set(report.violations), str(report)
    text = str(report)
    assert text.startswith("ledger verification FAILED") and all(f"[{c}]" in text for c in expected)


def test_payload_serialization_matches_postgres(ledger_engine: Engine, ledger_backend: str) -> None:
    if ledger_backend == "sqlite":
        pytest.skip("compares with PostgreSQL's to_json")
    alphabet = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.text(alphabet), min_size=1, max_size=20))
    def check(strings: list[str]) -> None:
        with ledger_engine.connect() as c:
            got = (
                c.execute(
                    sa.text("SELECT to_json(s)::text FROM unnest(CAST(:a AS text[])) AS s"), {"a": strings}
                )
                .scalars()
                .all()
            )
        assert got == [json.dumps(s, ensure_ascii=False) for s in strings]

    check()


def test_function_path_seals_odd_text_identically(session: Session, books: dict[str, int]) -> None:
    reason = 'say "hi"\\ \n\t\r\b\f\x01\x1f\x7f 福分 😀 \u2028 </script>'
    r = ledger.post(
        session,
        key='odd\n"key',
        kind="grant",
        actor=STAFF,
        reason=reason,
        ref_type='ünï"',
        ref_id=2**40,
        entries=[(books["fund"], -1), (books["alice"], 1)],
    )
    session.commit()
    rec = session.scalars(sa.select(AuditRecord).where(AuditRecord.tx_id == r.tx_id)).one()
    assert rec.payload == canonical.tx_payload(
        tx_id=r.tx_id,
        community_id=1,
        kind="grant",
        actor_id=1,
        reason=reason,
        ref_type='ünï"',
        ref_id=2**40,
        reverses_id=None,
        hold_id=None,
        forced=False,
        created_at=r.created_at,
        entries=r.entries,
    )
    assert rec.hash == canonical.chain_hash(rec.prev_hash, rec.payload)
    assert ledger.verify(session).ok
    assert canonical.micros(utcnow()) > 0
