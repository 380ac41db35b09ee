"""Holds (two-phase), reversals and idempotency."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import ledger
from core.db import utcnow
from ledger import Actor, errors
from ledger.models import IdempotencyRecord

STAFF = Actor.user(1)
ALICE = Actor.user(101)


@pytest.fixture
def funded(session: Session, books: dict[str, int]) -> dict[str, int]:
    ledger.issue(
        session,
        key="seed",
        fund_account=books["fund"],
        to_account=books["alice"],
        amount=100,
        actor=STAFF,
        reason="hours",
    )
    session.commit()
    return books


def test_hold_reserves_spendable(session: Session, funded: dict[str, int]) -> None:
    a = funded["alice"]
    h = ledger.hold(session, key="h", account_id=a, amount=60, actor=ALICE, reason="voucher")
    assert (ledger.balance(session, a), ledger.available(session, a)) == (100, 40)
    with pytest.raises(errors.InsufficientFunds):
        ledger.transfer(
            session, key="t", from_account=a, to_account=funded["bob"], amount=41, actor=ALICE, reason="x"
        )
    with pytest.raises(errors.InsufficientFunds):
        ledger.hold(session, key="h2", account_id=a, amount=41, actor=ALICE, reason="voucher")
    session.commit()
    assert h.status == "pending" and ledger.pending_holds(session, a)[0]["amount"] == 60
    assert ledger.verify(session).ok


def test_partial_capture_releases_rest(session: Session, funded: dict[str, int]) -> None:
    a, shop = funded["alice"], funded["shop"]
    h = ledger.hold(
        session,
        key="h",
        account_id=a,
        amount=60,
        actor=ALICE,
        reason="voucher",
        ref_type="redemption",
        ref_id=9,
    )
    r = ledger.capture(
        session, key="c", hold_id=h.hold_id, to_account=shop, amount=45, actor=Actor.user(7), reason="scanned"
    )
    session.commit()
    assert (ledger.balance(session, a), ledger.available(session, a), ledger.balance(session, shop)) == (
        55,
        55,
        45,
    )
    assert r.kind == "redeem"
    with pytest.raises(errors.HoldNotPending):
        ledger.capture(session, key="c2", hold_id=h.hold_id, to_account=shop, actor=STAFF, reason="again")
    with pytest.raises(errors.HoldNotPending):
        ledger.void(session, key="v", hold_id=h.hold_id, actor=STAFF, reason="late")
    assert ledger.capture(
        session, key="c", hold_id=h.hold_id, to_account=shop, amount=45, actor=Actor.user(7), reason="scanned"
    ).replayed
    session.commit()
    assert ledger.verify(session).ok


def test_capture_amount_bounds(session: Session, funded: dict[str, int]) -> None:
    h = ledger.hold(session, key="h", account_id=funded["alice"], amount=10, actor=ALICE, reason="v")
    for bad in (0, 11, -1):
        with pytest.raises(errors.InvalidAmount):
            ledger.capture(
                session,
                key=f"c{bad}",
                hold_id=h.hold_id,
                to_account=funded["shop"],
                amount=bad,
                actor=STAFF,
                reason="x",
            )
    with pytest.raises(errors.UnknownHold):
        ledger.void(session, key="v", hold_id=999, actor=STAFF, reason="x")


def test_void_and_expiry(session: Session, funded: dict[str, int]) -> None:
    a = funded["alice"]
    now = utcnow()
    h1 = ledger.hold(session, key="h1", account_id=a, amount=10, actor=ALICE, reason="v")
    h2 = ledger.hold(
        session,
        key="h2",
        account_id=a,
        amount=20,
        actor=ALICE,
        reason="v",
        expires_at=now + dt.timedelta(minutes=5),
    )
    h3 = ledger.hold(
        session,
        key="h3",
        account_id=a,
        amount=30,
        actor=ALICE,
        reason="v",
        expires_at=now + dt.timedelta(hours=5),
    )
    assert (
        ledger.void(session, key="v1", hold_id=h1.hold_id, actor=ALICE, reason="changed mind").status
        == "voided"
    )
    assert ledger.expire_holds(session, now=now + dt.timedelta(minutes=10)) == [h2.hold_id]
    assert ledger.expire_holds(session, now=now + dt.timedelta(minutes=10)) == []
    assert ledger.available(session, a) == 70
    session.commit()
    ledger.capture(session, key="c3", hold_id=h3.hold_id, to_account=funded["shop"], actor=STAFF, reason="x")
    session.commit()
    assert (ledger.balance(session, a), ledger.available(session, a)) == (70, 70)
    assert ledger.verify(session).ok


def test_capture_after_deadline_refused(session: Session, funded: dict[str, int]) -> None:
    h = ledger.hold(
        session,
        key="h",
        account_id=funded["alice"],
        amount=5,
        actor=ALICE,
        reason="v",
        expires_at=utcnow() + dt.timedelta(milliseconds=1),
    )
    session.commit()
    import time

    time.sleep(0.01)
    with pytest.raises(errors.HoldExpired):
        ledger.capture(
            session, key="c", hold_id=h.hold_id, to_account=funded["shop"], actor=STAFF, reason="x"
        )


def test_reverse_once(session: Session, funded: dict[str, int]) -> None:
    a, b = funded["alice"], funded["bob"]
    t = ledger.transfer(session, key="t", from_account=a, to_account=b, amount=30, actor=ALICE, reason="gift")
    r = ledger.reverse(session, tx_id=t.tx_id, key="r1", actor=STAFF, reason="wrong recipient")
    assert (ledger.balance(session, a), ledger.balance(session, b)) == (100, 0)
    assert r.kind == "reverse"
    with pytest.raises(errors.AlreadyReversed):
        ledger.reverse(session, tx_id=t.tx_id, key="r2", actor=STAFF, reason="again")
    with pytest.raises(errors.NotReversible):
        ledger.reverse(session, tx_id=r.tx_id, key="r3", actor=STAFF, reason="undo undo")
    with pytest.raises(errors.UnknownTransaction):
        ledger.reverse(session, tx_id=12345, key="r4", actor=STAFF, reason="x")
    assert ledger.reverse(session, tx_id=t.tx_id, key="r1", actor=STAFF, reason="wrong recipient").replayed
    session.commit()
    assert ledger.verify(session).ok


def test_reverse_refuses_overdraft_unless_forced(session: Session, funded: dict[str, int]) -> None:
    a, b = funded["alice"], funded["bob"]
    t = ledger.transfer(session, key="t", from_account=a, to_account=b, amount=30, actor=ALICE, reason="gift")
    ledger.transfer(
        session,
        key="t2",
        from_account=b,
        to_account=funded["shop"],
        amount=25,
        actor=Actor.user(102),
        reason="buy",
    )
    session.commit()
    with pytest.raises(errors.InsufficientFunds):
        ledger.reverse(session, tx_id=t.tx_id, key="r1", actor=STAFF, reason="fraud")
    with pytest.raises(errors.InvalidRequest):
        ledger.reverse(
            session, tx_id=t.tx_id, key="r2", actor=Actor.system("job"), reason="fraud", force=True
        )
    ledger.reverse(session, tx_id=t.tx_id, key="r3", actor=STAFF, reason="fraud confirmed", force=True)
    session.commit()
    assert ledger.balance(session, b) == -25
    assert ledger.verify(session).ok  # a recorded, forced debt is not a violation
    with pytest.raises(errors.InsufficientFunds):  # still cannot spend while in debt
        ledger.transfer(
            session, key="t3", from_account=b, to_account=a, amount=1, actor=Actor.user(102), reason="x"
        )
    ledger.issue(
        session, key="i", fund_account=funded["fund"], to_account=b, amount=5, actor=STAFF, reason="hours"
    )
    session.commit()
    assert ledger.balance(session, b) == -20 and ledger.verify(session).ok
    ledger.issue(
        session, key="i2", fund_account=funded["fund"], to_account=b, amount=20, actor=STAFF, reason="hours"
    )
    session.commit()
    assert (
        session.scalar(sa.text("SELECT debt_allowed FROM ledger_accounts WHERE id = :i"), {"i": b}) == 0
    )  # debt over
    assert ledger.verify(session).ok


def test_idempotent_replay_and_conflict(session: Session, funded: dict[str, int]) -> None:
    a, b = funded["alice"], funded["bob"]
    args = dict(key="same", from_account=a, to_account=b, amount=5, actor=ALICE, reason="gift")
    first = ledger.transfer(session, **args)
    again = ledger.transfer(session, **args)
    assert again.replayed and again.tx_id == first.tx_id and again.created_at == first.created_at
    with pytest.raises(errors.IdempotencyConflict):
        ledger.transfer(session, **{**args, "amount": 6})
    with pytest.raises(errors.IdempotencyConflict):
        ledger.hold(session, key="same", account_id=a, amount=5, actor=ALICE, reason="gift")
    session.commit()
    assert ledger.balance(session, b) == 5


def test_rejection_replayed_even_after_funds_arrive(session: Session, funded: dict[str, int]) -> None:
    a, b = funded["alice"], funded["bob"]
    args = dict(key="big", from_account=a, to_account=b, amount=150, actor=ALICE, reason="gift")
    with pytest.raises(errors.InsufficientFunds) as first:
        ledger.transfer(session, **args)
    assert not first.value.replayed
    session.rollback()  # the usual reaction to an error: the rejection must survive it
    ledger.issue(
        session,
        key="more",
        fund_account=funded["fund"],
        to_account=a,
        amount=100,
        actor=STAFF,
        reason="hours",
    )
    session.commit()
    with pytest.raises(errors.InsufficientFunds) as replay:
        ledger.transfer(session, **args)
    assert replay.value.replayed and replay.value.detail == first.value.detail
    session.rollback()
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.error_code.is_not(None))
        )
        == 1
    )
