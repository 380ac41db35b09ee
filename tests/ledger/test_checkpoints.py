"""Signed checkpoints: a chain recomputed after dropping the guards passes every hash check,
but no longer matches what was signed with a key the database never held."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import ledger
from ledger import Actor, canonical, ddl
from ledger.checkpoints import load_private_key, public_hex
from ledger.models import AuditRecord

STAFF = Actor.user(1)


@pytest.fixture
def signing(tmp_path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    pem, public = ledger.generate_key()
    path = tmp_path / "checkpoint.pem"
    path.write_bytes(pem)
    before = ledger.config()
    ledger.configure(verify_keys=(public,))
    yield load_private_key(path)
    ledger.configure(**before.__dict__)


@pytest.fixture
def history(session: Session, books: dict[str, int]) -> dict[str, int]:
    f, a, b, shop = books["fund"], books["alice"], books["bob"], books["shop"]
    ledger.issue(session, key="i1", fund_account=f, to_account=a, amount=50, actor=STAFF, reason="hours")
    ledger.issue(session, key="i2", fund_account=f, to_account=b, amount=20, actor=STAFF, reason="hours")
    g = ledger.transfer(session, key="g1", from_account=a, to_account=b, amount=5, actor=STAFF, reason="gift")
    h = ledger.hold(session, key="h1", account_id=a, amount=12, actor=STAFF, reason="voucher")
    ledger.capture(
        session, key="c1", hold_id=h.hold_id, to_account=shop, amount=10, actor=STAFF, reason="scan"
    )
    back = ledger.transfer(
        session, key="back", from_account=b, to_account=f, amount=3, actor=STAFF, reason="r"
    )
    ledger.issue(
        session,
        key="i3",
        fund_account=books["other_fund"],
        to_account=books["carol"],
        amount=9,
        actor=STAFF,
        reason="h",
    )
    session.commit()
    return {**books, "gift": g.tx_id, "back": back.tx_id}


def test_totals_of_the_transparency_page(session: Session, history: dict[str, int]) -> None:
    assert ledger.totals(session, 1) == {
        "issued": 70,
        "returned_to_fund": 3,
        "redeemed": 10,
        "in_circulation": 67,
    }
    assert ledger.totals(session, 2) == {
        "issued": 9,
        "returned_to_fund": 0,
        "redeemed": 0,
        "in_circulation": 9,
    }


def test_checkpoint_signs_heads_and_verify_checks_it(
    session: Session, history: dict[str, int], signing
) -> None:  # type: ignore[no-untyped-def]
    cp = ledger.checkpoint(session, 1, signing)
    session.commit()
    kind, community, _, heads, totals = json.loads(cp["payload"])
    assert (kind, community, len(heads)) == ("checkpoint", 1, 16)
    assert totals == ledger.totals(session, 1)
    assert sum(seq for _, seq, _ in heads) == 6  # six sealed records in community 1
    assert cp["public_key"] == public_hex(signing)
    latest = ledger.latest_checkpoint(session, 1)
    assert latest is not None and latest["id"] == cp["id"] and latest["digest"] == cp["digest"]
    assert ledger.latest_checkpoint(session, 2) is None
    report = ledger.verify(session)
    assert report.ok, str(report)
    assert (report.stats["checkpoints"], report.stats["checkpoint_signatures_checked"]) == (1, 1)
    # more postings after the checkpoint: still fine, the heads moved on
    ledger.issue(
        session,
        key="i9",
        fund_account=history["fund"],
        to_account=history["alice"],
        amount=1,
        actor=STAFF,
        reason="h",
    )
    session.commit()
    assert ledger.verify(session).ok


def _recompute_chain(engine: Engine, backend: str, tx_id: int, reason: str) -> None:
    """The attack: switch the guards off, edit a transaction, rewrite its sealed record and
    every later hash of its chain and the head — consistently — then switch the guards on."""
    with engine.begin() as c:
        if backend == "sqlite":
            for (name,) in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
                c.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
        c.execute(
            sa.text("UPDATE ledger_transactions SET reason = :r WHERE id = :id"), {"r": reason, "id": tx_id}
        )
        AR = AuditRecord.__table__
        rec = c.execute(sa.select(AR).where(AR.c.tx_id == tx_id)).one()
        rows = c.execute(
            sa.select(AR)
            .where(AR.c.community_id == rec.community_id, AR.c.shard == rec.shard, AR.c.seq >= rec.seq)
            .order_by(AR.c.seq)
        ).all()
        prev = rec.prev_hash
        for row in rows:
            payload = row.payload
            if row.id == rec.id:
                fields = json.loads(payload)
                fields[5] = reason
                payload = canonical.dumps(fields)
            digest = canonical.chain_hash(prev, payload)
            c.execute(
                sa.update(AR).where(AR.c.id == row.id).values(payload=payload, prev_hash=prev, hash=digest)
            )
            prev = digest
        c.execute(
            sa.text("UPDATE ledger_audit_heads SET hash = :h WHERE community_id = :c AND shard = :s"),
            {"h": prev, "c": rec.community_id, "s": rec.shard},
        )
        if backend == "sqlite":
            ddl.install(c)


def test_a_recomputed_chain_passes_hashes_but_not_the_signed_checkpoint(
    ledger_engine: Engine, ledger_backend: str, session: Session, history: dict[str, int], signing
) -> None:  # type: ignore[no-untyped-def]
    ledger.checkpoint(session, 1, signing)
    session.commit()
    session.close()
    _recompute_chain(ledger_engine, ledger_backend, history["gift"], "a different story")
    report = ledger.verify(session)
    # every hash chain, head and sealed payload is consistent again ...
    assert set(report.violations) == {"signed checkpoints"}, str(report)
    # ... but the chain no longer contains what was signed
    assert any(
        "the chain was rewritten after the checkpoint" in v for v in report.violations["signed checkpoints"]
    )


def test_forged_or_foreign_checkpoints_are_reported(
    ledger_engine: Engine, ledger_backend: str, session: Session, history: dict[str, int], signing
) -> None:  # type: ignore[no-untyped-def]
    ledger.checkpoint(session, 1, signing)
    other_pem, _ = ledger.generate_key()
    from cryptography.hazmat.primitives import serialization

    other = serialization.load_pem_private_key(other_pem, password=None)
    ledger.checkpoint(session, 2, other)  # type: ignore[arg-type]
    session.commit()
    session.close()
    with ledger_engine.begin() as c:  # edit the signed totals of checkpoint 1
        if ledger_backend == "sqlite":
            c.exec_driver_sql("DROP TRIGGER ledger_checkpoints_no_update")
        else:
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
        c.exec_driver_sql(
            "UPDATE ledger_checkpoints "
            "SET payload = replace(payload, '\"issued\":70', '\"issued\":7') WHERE id = 1"
        )
        if ledger_backend == "sqlite":
            ddl.install(c)
    found = ledger.verify(session).violations["signed checkpoints"]
    assert (
        "checkpoint 1 (community 1): signature does not match its payload (checkpoint forged or altered)"
        in found
    )
    assert any(v.startswith("checkpoint 2 (community 2): signed by an unknown key") for v in found)
    # without configured public keys only the heads are checked (and the stats say so)
    ledger.configure(verify_keys=())
    report = ledger.verify(session)
    assert report.ok and report.stats["checkpoint_signatures_checked"] == 0


def test_checkpoints_are_append_only(
    ledger_engine: Engine, session: Session, history: dict[str, int], signing
) -> None:  # type: ignore[no-untyped-def]
    ledger.checkpoint(session, 1, signing)
    session.commit()
    session.close()
    for sql in ("UPDATE ledger_checkpoints SET signature = 'x'", "DELETE FROM ledger_checkpoints"):
        with pytest.raises(sa.exc.DatabaseError, match="ledger: .* not allowed"):
            with ledger_engine.begin() as c:
                c.exec_driver_sql(sql)


def test_checkpoint_of_a_community_without_a_ledger_is_refused(session: Session, signing) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ledger.errors.InvalidRequest):
        ledger.checkpoint(session, 42, signing)
