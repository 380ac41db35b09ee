"""Boundaries and scoping that mutation testing showed untested (docs/reliability.md):
spendable exactly zero and below zero for every kind of write, the limits of names, keys and
deadlines, rejections that must outlive a rollback, the result fields of replays, the
chunk boundary of ``verify``, and the refusals of each posting path (plpgsql included)."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import ledger
from ledger import Actor, errors
from ledger.models import Account, AuditRecord, IdempotencyRecord

STAFF = Actor.user(1)
ALICE = Actor.user(101)


def _fund(session: Session, books: dict[str, int], to: str, amount: int, key: str) -> None:
    ledger.issue(
        session,
        key=key,
        fund_account=books["fund"],
        to_account=books[to],
        amount=amount,
        actor=STAFF,
        reason="h",
    )


def _debt(session: Session, account_id: int) -> int:
    return session.execute(sa.select(Account.debt_allowed).where(Account.id == account_id)).scalar_one()


def _count(session: Session, table: sa.Table) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --- spendable exactly zero, and below zero -------------------------------------------------


def test_spend_to_exactly_zero_then_one_more_is_refused(session: Session, books: dict[str, int]) -> None:
    a, b = books["alice"], books["bob"]
    _fund(session, books, "alice", 10, "f")
    ledger.transfer(session, key="t1", from_account=a, to_account=b, amount=10, actor=ALICE, reason="g")
    assert ledger.available(session, a) == 0
    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.transfer(session, key="t2", from_account=a, to_account=b, amount=1, actor=ALICE, reason="g")
    assert e.value.detail == {"account_id": a, "available": 0, "required": 1}
    session.rollback()


def test_hold_exactly_spendable_then_one_more_is_refused(session: Session, books: dict[str, int]) -> None:
    a = books["alice"]
    _fund(session, books, "alice", 10, "f")
    ledger.hold(session, key="h1", account_id=a, amount=10, actor=ALICE, reason="v")
    assert ledger.available(session, a) == 0
    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.hold(session, key="h2", account_id=a, amount=1, actor=ALICE, reason="v")
    assert e.value.detail == {"account_id": a, "available": 0, "required": 1}


def test_batch_to_exactly_zero_and_one_over(session: Session, books: dict[str, int]) -> None:
    f, a, b = books["fund"], books["alice"], books["bob"]

    def batch(prefix: str, amount: int) -> list[ledger.Posting]:
        return [
            ledger.Posting(f"{prefix}1", "earn", [(f, -5), (a, 5)], STAFF, "h"),
            ledger.Posting(f"{prefix}2", "gift", [(a, -amount), (b, amount)], ALICE, "g"),
        ]

    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.post_many(session, batch("x", 6))
    assert e.value.detail["index"] == 1
    assert ledger.balance(session, a) == 0  # the whole batch was undone
    ledger.post_many(session, batch("y", 5))
    assert (ledger.balance(session, a), ledger.balance(session, b)) == (0, 5)


@pytest.fixture
def in_debt(session: Session, books: dict[str, int]) -> dict[str, int]:
    """Alice got 100, put two 30-point holds on it, then the grant was reversed by force:
    balance 0, held 60, spendable -60, a recorded debt of 60."""
    a = books["alice"]
    ledger.issue(
        session, key="seed", fund_account=books["fund"], to_account=a, amount=100, actor=STAFF, reason="h"
    )
    seed = session.execute(sa.select(sa.func.max(ledger.models.Transaction.id))).scalar_one()
    h1 = ledger.hold(session, key="h1", account_id=a, amount=30, actor=ALICE, reason="v").hold_id
    h2 = ledger.hold(session, key="h2", account_id=a, amount=30, actor=ALICE, reason="v").hold_id
    ledger.transfer(
        session, key="spent", from_account=a, to_account=books["bob"], amount=40, actor=ALICE, reason="g"
    )
    ledger.reverse(session, tx_id=seed, key="rev", actor=STAFF, reason="granted twice", force=True)
    session.commit()
    assert (ledger.balance(session, a), ledger.available(session, a), _debt(session, a)) == (-40, -100, 100)
    return {**books, "h1": h1, "h2": h2}


def test_negative_spendable_refuses_spending_and_holds(session: Session, in_debt: dict[str, int]) -> None:
    a, b = in_debt["alice"], in_debt["bob"]
    with pytest.raises(errors.InsufficientFunds):
        ledger.transfer(session, key="t", from_account=a, to_account=b, amount=1, actor=ALICE, reason="g")
    session.rollback()
    with pytest.raises(errors.InsufficientFunds):
        ledger.hold(session, key="h3", account_id=a, amount=1, actor=ALICE, reason="v")
    session.rollback()
    f = in_debt["fund"]
    with pytest.raises(errors.InsufficientFunds):
        ledger.post_many(session, [ledger.Posting("b1", "gift", [(a, -1), (b, 1)], ALICE, "g")])
    session.rollback()
    # receiving is fine, and the debt stays recorded while spendable is still below zero
    ledger.issue(session, key="back", fund_account=f, to_account=a, amount=10, actor=STAFF, reason="h")
    assert (ledger.available(session, a), _debt(session, a)) == (-90, 100)
    assert ledger.verify(session).ok


def test_capture_goes_through_while_spendable_is_negative(session: Session, in_debt: dict[str, int]) -> None:
    a, shop = in_debt["alice"], in_debt["shop"]
    # a full capture leaves spendable where it was (-100): allowed, it was promised before the debt
    ledger.capture(session, key="c1", hold_id=in_debt["h1"], to_account=shop, actor=STAFF, reason="scan")
    assert (ledger.balance(session, a), ledger.available(session, a)) == (-70, -100)
    # a partial capture raises spendable (the rest is released)
    ledger.capture(
        session, key="c2", hold_id=in_debt["h2"], to_account=shop, amount=10, actor=STAFF, reason="s"
    )
    assert (ledger.balance(session, a), ledger.available(session, a)) == (-80, -80)
    assert _debt(session, a) == 100
    session.commit()
    assert ledger.verify(session).ok


def test_debt_ends_when_spendable_is_back_at_exactly_zero(session: Session, in_debt: dict[str, int]) -> None:
    a, f = in_debt["alice"], in_debt["fund"]
    ledger.void(session, key="v1", hold_id=in_debt["h1"], actor=STAFF, reason="c")
    ledger.void(session, key="v2", hold_id=in_debt["h2"], actor=STAFF, reason="c")
    assert ledger.available(session, a) == -40
    first = ledger.issue(session, key="p1", fund_account=f, to_account=a, amount=39, actor=STAFF, reason="h")
    assert (ledger.available(session, a), _debt(session, a)) == (-1, 100)
    # reversal of a posting *to* alice by the fund side: through the portable path
    ledger.reverse(session, tx_id=first.tx_id, key="r-p1", actor=STAFF, reason="oops", force=True)
    assert (ledger.available(session, a), _debt(session, a)) == (-40, 100)
    ledger.issue(session, key="p2", fund_account=f, to_account=a, amount=40, actor=STAFF, reason="h")
    assert (ledger.available(session, a), _debt(session, a)) == (0, 0)
    session.commit()
    assert ledger.verify(session).ok


def test_debt_cleared_at_zero_on_the_portable_path(session: Session, books: dict[str, int]) -> None:
    """A capture that lands an indebted account on exactly zero spendable clears the debt."""
    a, b, shop = books["alice"], books["bob"], books["shop"]
    _fund(session, books, "bob", 60, "fb")
    _fund(session, books, "alice", 100, "fa")
    seed = session.execute(sa.select(sa.func.max(ledger.models.Transaction.id))).scalar_one()
    ledger.transfer(
        session, key="gift", from_account=b, to_account=a, amount=60, actor=Actor.user(102), reason="g"
    )
    h = ledger.hold(session, key="h", account_id=a, amount=160, actor=ALICE, reason="v").hold_id
    ledger.reverse(session, tx_id=seed, key="rev", actor=STAFF, reason="twice", force=True)
    assert (ledger.available(session, a), _debt(session, a)) == (-100, 100)
    ledger.capture(session, key="c", hold_id=h, to_account=shop, amount=60, actor=STAFF, reason="s")
    assert (ledger.balance(session, a), ledger.available(session, a), _debt(session, a)) == (0, 0, 0)
    session.commit()
    assert ledger.verify(session).ok


# --- rejections outlive the caller's rollback -------------------------------------------------


def test_batch_rejection_survives_rollback(session: Session, books: dict[str, int]) -> None:
    f, a, b = books["fund"], books["alice"], books["bob"]
    batch = [
        ledger.Posting("k1", "earn", [(f, -5), (a, 5)], STAFF, "h"),
        ledger.Posting("k2", "gift", [(a, -50), (b, 50)], ALICE, "g"),
    ]
    with pytest.raises(errors.InsufficientFunds):
        ledger.post_many(session, batch)
    session.rollback()
    _fund(session, books, "alice", 100, "now-rich")
    session.commit()
    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.post_many(session, batch)
    assert e.value.replayed and e.value.detail["index"] == 1
    session.rollback()
    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.post(session, key="k2", kind="gift", entries=[(a, -50), (b, 50)], actor=ALICE, reason="g")
    assert e.value.replayed
    session.rollback()
    assert ledger.balance(session, a) == 100


def test_hold_lifecycle_rejections_survive_rollback(session: Session, books: dict[str, int]) -> None:
    a, shop = books["alice"], books["shop"]
    _fund(session, books, "alice", 20, "f")
    h = ledger.hold(session, key="h", account_id=a, amount=20, actor=ALICE, reason="v").hold_id
    ledger.void(session, key="v1", hold_id=h, actor=STAFF, reason="c")
    session.commit()
    calls = {
        "v2": lambda: ledger.void(session, key="v2", hold_id=h, actor=STAFF, reason="c"),
        "c1": lambda: ledger.capture(session, key="c1", hold_id=h, to_account=shop, actor=STAFF, reason="s"),
        "h2": lambda: ledger.hold(session, key="h2", account_id=a, amount=21, actor=ALICE, reason="v"),
    }
    codes = {"v2": "hold_not_pending", "c1": "hold_not_pending", "h2": "insufficient_funds"}
    for key, call in calls.items():
        with pytest.raises(errors.LedgerError) as e:
            call()
        assert (e.value.code, e.value.replayed) == (codes[key], False)
        session.rollback()
    _fund(session, books, "alice", 100, "more")
    session.commit()
    for key, call in calls.items():
        with pytest.raises(errors.LedgerError) as e:
            call()
        assert (e.value.code, e.value.replayed) == (codes[key], True), key
        session.rollback()
    recorded = session.execute(
        sa.select(IdempotencyRecord.key, IdempotencyRecord.error_code).where(
            IdempotencyRecord.error_code.is_not(None)
        )
    ).all()
    assert sorted(recorded) == sorted(codes.items())


# --- replays return the original result --------------------------------------------------------


def test_replayed_hold_and_release_return_every_field(session: Session, books: dict[str, int]) -> None:
    a = books["alice"]
    _fund(session, books, "alice", 20, "f")
    until = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    first = ledger.hold(session, key="h", account_id=a, amount=7, actor=ALICE, reason="v", expires_at=until)
    session.commit()
    again = ledger.hold(session, key="h", account_id=a, amount=7, actor=ALICE, reason="v", expires_at=until)
    assert again == ledger.HoldResult(first.hold_id, a, 7, "pending", until, replayed=True)
    assert first == ledger.HoldResult(first.hold_id, a, 7, "pending", until, replayed=False)
    voided = ledger.void(session, key="v", hold_id=first.hold_id, actor=STAFF, reason="c")
    assert voided == ledger.HoldResult(first.hold_id, a, 7, "voided", until)
    session.commit()
    replay = ledger.void(session, key="v", hold_id=first.hold_id, actor=STAFF, reason="c")
    assert replay == ledger.HoldResult(first.hold_id, a, 7, "voided", until, replayed=True)
    with pytest.raises(errors.IdempotencyConflict):
        ledger.void(session, key="v", hold_id=first.hold_id, actor=STAFF, reason="other")


def test_pending_holds_are_the_accounts_own(session: Session, books: dict[str, int]) -> None:
    a, b = books["alice"], books["bob"]
    _fund(session, books, "alice", 20, "fa")
    _fund(session, books, "bob", 20, "fb")
    ha = ledger.hold(session, key="ha", account_id=a, amount=3, actor=ALICE, reason="v").hold_id
    hb = ledger.hold(session, key="hb", account_id=b, amount=4, actor=ALICE, reason="v").hold_id
    ha2 = ledger.hold(session, key="ha2", account_id=a, amount=5, actor=ALICE, reason="v").hold_id
    ledger.void(session, key="v", hold_id=ha2, actor=STAFF, reason="c")
    assert [(h["id"], h["account_id"], h["amount"]) for h in ledger.pending_holds(session, a)] == [(ha, a, 3)]
    assert [h["id"] for h in ledger.pending_holds(session, b)] == [hb]
    assert ledger.pending_holds(session, books["shop"]) == []


# --- limits of names, keys and deadlines ----------------------------------------------------------


@pytest.mark.parametrize("event", ["tx", "hold", "voided", "expired", "close", "", "e" * 33])
def test_append_event_refuses_ledger_names_and_long_names(
    session: Session, books: dict[str, int], event: str
) -> None:
    before = _count(session, AuditRecord.__table__)
    with pytest.raises(errors.InvalidRequest):
        ledger.append_event(session, community_id=1, event=event, actor=STAFF, data={})
    assert _count(session, AuditRecord.__table__) == before


def test_append_event_names_up_to_32_characters(session: Session, books: dict[str, int]) -> None:
    assert ledger.append_event(session, community_id=1, event="e" * 32, actor=STAFF, data={}) == 1
    assert ledger.append_event(session, community_id=1, event="admin.export", actor=STAFF, data={"n": 1}) == 2
    assert ledger.append_event(session, community_id=2, event="admin.export", actor=STAFF, data={}) == 1
    with pytest.raises(errors.InvalidRequest):
        ledger.append_event(session, community_id=1, event="x", actor=1, data={})  # type: ignore[arg-type]
    assert ledger.verify(session).ok


def test_audit_records_of_one_community_paged(session: Session, books: dict[str, int]) -> None:
    from ledger.audit import records

    _fund(session, books, "alice", 5, "f1")
    ledger.issue(
        session,
        key="f2",
        fund_account=books["other_fund"],
        to_account=books["carol"],
        amount=1,
        actor=STAFF,
        reason="h",
    )
    ledger.append_event(session, community_id=1, event="admin.export", actor=STAFF, data={})
    session.commit()
    mine = records(session, 1)
    assert [r["event"] for r in mine] == ["tx", "admin.export"]
    assert {r["community_id"] for r in mine} == {1}
    assert [r["id"] for r in mine] == sorted(r["id"] for r in mine)
    assert records(session, 1, after_id=mine[0]["id"]) == mine[1:]
    assert records(session, 1, limit=1) == mine[:1]
    assert [r["event"] for r in records(session, 2)] == ["tx"]


def test_org_account_is_get_or_open(session: Session) -> None:
    org = ledger.org_account(session, 1, 2)
    assert ledger.org_account(session, 1, 2) == org
    assert ledger.merchant_account(session, 1, 2) != org
    info = ledger.get_account(session, org)
    assert (info.kind, info.holder, info.org_id, info.may_go_negative) == ("org", "org:2", 2, False)
    assert ledger.find_account(session, 1, "org:2") == org


@pytest.mark.parametrize("length,ok", [(200, True), (201, False)])
def test_idempotency_key_length(session: Session, books: dict[str, int], length: int, ok: bool) -> None:
    key = "k" * length

    def go() -> object:
        return ledger.issue(
            session,
            key=key,
            fund_account=books["fund"],
            to_account=books["alice"],
            amount=1,
            actor=STAFF,
            reason="h",
        )

    def hold() -> object:
        return ledger.hold(
            session,
            key="h" * length,
            account_id=books["fund"],
            amount=1,
            actor=STAFF,
            reason="v",
        )

    if ok:
        assert go().tx_id and hold().hold_id  # type: ignore[attr-defined]
    else:
        for call in (go, hold):
            with pytest.raises(errors.InvalidRequest):
                call()


@pytest.mark.parametrize("length,ok", [(32, True), (33, False)])
def test_ref_type_length(session: Session, books: dict[str, int], length: int, ok: bool) -> None:
    f, a = books["fund"], books["alice"]
    kw = dict(actor=STAFF, reason="h", ref_type="r" * length, ref_id=1)
    if ok:
        ledger.issue(session, key="i", fund_account=f, to_account=a, amount=1, **kw)  # type: ignore[arg-type]
        ledger.hold(session, key="h", account_id=f, amount=1, **kw)  # type: ignore[arg-type]
    else:
        with pytest.raises(errors.InvalidRequest):
            ledger.issue(session, key="i", fund_account=f, to_account=a, amount=1, **kw)  # type: ignore[arg-type]
        with pytest.raises(errors.InvalidRequest):
            ledger.hold(session, key="h", account_id=f, amount=1, **kw)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidRequest):
        ledger.issue(
            session, key="j", fund_account=f, to_account=a, amount=1, actor=STAFF, reason="h", ref_id="1"
        )  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, False, "7", 7.0, None])
def test_actor_user_takes_only_ints(bad: object) -> None:
    with pytest.raises(TypeError):
        Actor.user(bad)  # type: ignore[arg-type]


def test_actor_kinds() -> None:
    assert Actor.user(7) == Actor(7) and not Actor.user(7).is_system
    assert Actor.system("cron").is_system and Actor.system("cron").why == "cron"
    with pytest.raises(ValueError):
        Actor.system("")


def test_hold_expiry_deadline_is_inclusive(
    session: Session, books: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, shop = books["alice"], books["shop"]
    _fund(session, books, "alice", 20, "f")
    due = dt.datetime(2030, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)
    h1 = ledger.hold(
        session, key="h1", account_id=a, amount=5, actor=ALICE, reason="v", expires_at=due
    ).hold_id
    h2 = ledger.hold(
        session, key="h2", account_id=a, amount=5, actor=ALICE, reason="v", expires_at=due
    ).hold_id
    h3 = ledger.hold(
        session, key="h3", account_id=a, amount=5, actor=ALICE, reason="v", expires_at=due
    ).hold_id
    session.commit()
    tick = dt.timedelta(microseconds=1)
    monkeypatch.setattr(ledger.posting, "utcnow", lambda: due - tick)
    ledger.capture(session, key="c1", hold_id=h1, to_account=shop, actor=STAFF, reason="s")  # just in time
    session.commit()
    monkeypatch.setattr(ledger.posting, "utcnow", lambda: due)
    with pytest.raises(errors.HoldExpired):
        ledger.capture(session, key="c2", hold_id=h2, to_account=shop, actor=STAFF, reason="s")
    session.rollback()
    assert ledger.expire_holds(session, now=due - tick) == []
    assert ledger.expire_holds(session, now=due) == [h2, h3]
    assert ledger.expire_holds(session, now=due + tick) == []
    assert ledger.expire_holds(session, now=due, limit=1) == []
    session.commit()
    assert [h["id"] for h in ledger.pending_holds(session, a)] == []
    assert ledger.verify(session).ok


def test_expire_holds_limit(session: Session, books: dict[str, int]) -> None:
    a = books["alice"]
    _fund(session, books, "alice", 20, "f")
    due = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ids = [
        ledger.hold(
            session, key=f"h{i}", account_id=a, amount=1, actor=ALICE, reason="v", expires_at=due
        ).hold_id
        for i in range(3)
    ]
    assert ledger.expire_holds(session, now=due, limit=2) == ids[:2]
    assert ledger.expire_holds(session, now=due, limit=2) == ids[2:]


# --- verify reads every chunk to its last row ---------------------------------------------


def test_verify_checks_the_last_transaction_of_each_chunk(
    ledger_engine: Engine,
    ledger_backend: str,
    session: Session,
    books: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.ledger.test_integrity import _tamper

    for i in range(4):
        _fund(session, books, "alice", 1, f"f{i}")
    session.commit()
    session.rollback()
    monkeypatch.setattr(importlib.import_module("ledger.verify"), "CHUNK", 2)
    assert ledger.verify(session).ok
    session.rollback()
    _tamper(
        ledger_engine, ledger_backend, "UPDATE ledger_transactions SET reason = 'edited' WHERE id IN (2, 4)"
    )
    report = ledger.verify(session)
    assert report.violations["transactions sealed in the chain"] == [
        "transaction 2: rows differ from the sealed audit record (altered)",
        "transaction 4: rows differ from the sealed audit record (altered)",
    ]


# --- each refusal of each posting path (plpgsql's included, in the PostgreSQL run) ------------


def test_refusals_of_a_plain_posting(session: Session, books: dict[str, int]) -> None:
    a, b, carol = books["alice"], books["bob"], books["carol"]
    other = ledger.open_account(session, kind="user", community_id=1, user_id=103, currency="TIME")
    closed = ledger.user_account(session, 1, 104)
    ledger.close_account(session, closed, actor=STAFF, reason="moved")
    _fund(session, books, "alice", 10, "seed")
    session.commit()
    cases = [
        ("u", [(a, -1), (999, 1)], errors.UnknownAccount, {"account_ids": [999]}),
        ("c", [(a, -1), (closed, 1)], errors.AccountClosed, {"account_id": closed}),
        ("m", [(a, -1), (other, 1)], errors.CurrencyMismatch, {}),
        ("x", [(a, -1), (carol, 1)], errors.CrossCommunity, {"community_ids": [1, 2]}),
        (
            "i",
            [(a, -11), (b, 11)],
            errors.InsufficientFunds,
            {"account_id": a, "available": 10, "required": 11},
        ),
    ]
    for key, entries, error, detail in cases:
        with pytest.raises(error) as e:
            ledger.post(session, key=key, kind="gift", entries=entries, actor=ALICE, reason="g")
        assert (e.value.detail, e.value.replayed) == (detail, False), key
        session.rollback()
    # only the state rejection was remembered; input errors are refused the same way again
    with pytest.raises(errors.InsufficientFunds) as e:
        ledger.post(session, key="i", kind="gift", entries=[(a, -11), (b, 11)], actor=ALICE, reason="g")
    assert e.value.replayed and e.value.detail == {"account_id": a, "available": 10, "required": 11}
    session.rollback()
    with pytest.raises(errors.IdempotencyConflict) as e:
        ledger.post(session, key="i", kind="gift", entries=[(a, -1), (b, 1)], actor=ALICE, reason="g")
    assert e.value.detail == {"key": "i"}
    session.rollback()
    assert (
        session.execute(sa.select(IdempotencyRecord.key).where(IdempotencyRecord.key.in_(list("ucmx")))).all()
        == []
    )
    ok = ledger.post(session, key="u", kind="gift", entries=[(a, -1), (b, 1)], actor=ALICE, reason="g")
    assert not ok.replayed and ok.entries == ((a, -1), (b, 1)) and ok.kind == "gift"
    session.commit()
    # a replay of an accepted posting still answers after its account was emptied and closed
    ledger.transfer(session, key="empty", from_account=b, to_account=a, amount=1, actor=ALICE, reason="g")
    ledger.close_account(session, b, actor=STAFF, reason="moved")
    session.commit()
    again = ledger.post(session, key="u", kind="gift", entries=[(a, -1), (b, 1)], actor=ALICE, reason="g")
    assert (again.tx_id, again.created_at, again.replayed, again.kind) == (
        ok.tx_id,
        ok.created_at,
        True,
        "gift",
    )
    assert again.created_at.tzinfo is not None and again.created_at.utcoffset() == dt.timedelta(0)
    assert ledger.verify(session).ok


def test_cross_community_batch_and_replays_in_a_batch(session: Session, books: dict[str, int]) -> None:
    f, a, carol = books["fund"], books["alice"], books["carol"]
    first = ledger.post_many(session, [ledger.Posting("p1", "earn", [(f, -5), (a, 5)], STAFF, "h")])
    session.commit()
    batch = [
        ledger.Posting("p1", "earn", [(f, -5), (a, 5)], STAFF, "h"),  # a replay
        ledger.Posting("p2", "gift", [(a, -2), (carol, 2)], ALICE, "g", allow_cross_community=True),
    ]
    results = ledger.post_many(session, batch)
    assert [r.replayed for r in results] == [True, False]
    assert results[0].tx_id == first[0].tx_id and results[0].created_at == first[0].created_at
    assert results[1].entries == ((a, -2), (carol, 2)) and results[1].kind == "gift"
    session.commit()
    assert (ledger.balance(session, a), ledger.balance(session, carol)) == (3, 2)
    with pytest.raises(errors.CrossCommunity) as e:
        ledger.post_many(session, [ledger.Posting("p3", "gift", [(a, -1), (carol, 1)], ALICE, "g")])
    assert e.value.detail["index"] == 0
    session.rollback()
    with pytest.raises(errors.IdempotencyConflict):
        ledger.post_many(
            session,
            [ledger.Posting("p2", "gift", [(a, -1), (carol, 1)], ALICE, "g", allow_cross_community=True)],
        )
    session.rollback()
    assert ledger.verify(session).ok


# --- reads, scoping and reports -------------------------------------------------------------


def test_account_info_and_lookup_are_scoped(session: Session, books: dict[str, int]) -> None:
    a = books["alice"]
    info = ledger.get_account(session, a)
    assert (info.id, info.community_id, info.kind, info.holder, info.user_id) == (
        a,
        1,
        "user",
        "user:101",
        101,
    )
    assert (info.merchant_id, info.org_id, info.currency, info.closed_at) == (None, None, "FUFEN", None)
    # the same holder in another community is another account
    other = ledger.user_account(session, 2, 101)
    assert other != a
    assert ledger.find_account(session, 1, "user:101") == a
    assert ledger.find_account(session, 2, "user:101") == other
    assert ledger.find_account(session, 3, "user:101") is None
    with pytest.raises(errors.UnknownAccount):
        ledger.get_account(session, 999)


def test_expired_hold_is_resolved_at_the_given_time(session: Session, books: dict[str, int]) -> None:
    from ledger.models import Hold

    a = books["alice"]
    _fund(session, books, "alice", 5, "f")
    due = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    h = ledger.hold(session, key="h", account_id=a, amount=5, actor=ALICE, reason="v", expires_at=due).hold_id
    later = due + dt.timedelta(hours=3, microseconds=7)
    assert ledger.expire_holds(session, now=later) == [h]
    row = session.execute(sa.select(Hold.__table__).where(Hold.id == h)).one()
    assert (row.status, row.resolved_at, row.resolved_by, row.resolve_reason) == (
        "expired",
        later,
        None,
        "hold expired",
    )
    assert ledger.available(session, a) == 5


@pytest.mark.parametrize("n,more", [(20, None), (21, "  … and 1 more")])
def test_report_lists_twenty_violations_per_check(n: int, more: str | None) -> None:
    from ledger.verify import Report

    r = Report()
    r.checks = ["a check", "another"]
    for i in range(n):
        r.add("a check", f"problem {i}")
    lines = r.lines()
    assert lines[0] == f"ledger verification FAILED: {n} violation(s) in 1 of 2 checks ()"
    assert lines[1] == "[a check]" and lines[2] == "  - problem 0" and lines[21] == "  - problem 19"
    assert lines[22:] == ([more] if more else [])
    assert str(r) == "\n".join(lines) and not r.ok
    ok = Report(stats={"accounts": 3})
    ok.checks = ["x"]
    assert ok.ok and ok.lines() == ["ledger OK: 1 checks passed (accounts=3)"]


def test_batch_over_the_cap_names_the_posting(session: Session, books: dict[str, int]) -> None:
    f, a = books["fund"], books["alice"]
    batch = [
        ledger.Posting("ok", "earn", [(f, -5), (a, 5)], STAFF, "h"),
        ledger.Posting("big", "grant", [(f, -100_001), (a, 100_001)], STAFF, "h"),
    ]
    with pytest.raises(errors.AmountOverCap) as e:
        ledger.post_many(session, batch)
    assert e.value.detail == {"amount": 100_001, "cap": 100_000, "index": 1}
    assert ledger.balance(session, a) == 0
    with pytest.raises(errors.InvalidRequest):
        ledger.post_many(session, [batch[0], batch[0]])  # one key twice
    assert ledger.post_many(session, []) == []


def test_expiries_are_sealed_in_chain_zero(session: Session, books: dict[str, int]) -> None:
    a = books["alice"]
    _fund(session, books, "alice", 5, "f")
    due = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    hs = [
        ledger.hold(
            session, key=f"h{i}", account_id=a, amount=1, actor=ALICE, reason="v", expires_at=due
        ).hold_id
        for i in range(3)
    ]
    assert any(ledger.posting.shard_of(f"ledger:expire-hold:{h}") != 0 for h in hs)
    ledger.expire_holds(session, now=due)
    shards = session.execute(
        sa.select(AuditRecord.shard).where(AuditRecord.event == "expired", AuditRecord.hold_id.in_(hs))
    ).scalars()
    assert sorted(shards) == [0, 0, 0]
    assert ledger.verify(session).ok


def test_capture_refusals_and_cross_community_capture(session: Session, books: dict[str, int]) -> None:
    a, carol = books["alice"], books["carol"]
    _fund(session, books, "alice", 10, "f")
    h = ledger.hold(session, key="h", account_id=a, amount=10, actor=ALICE, reason="v").hold_id
    session.commit()
    for bad in (0, 11, -1):
        with pytest.raises(errors.InvalidAmount) as e:
            ledger.capture(
                session, key="c", hold_id=h, to_account=books["shop"], amount=bad, actor=STAFF, reason="s"
            )
        assert e.value.detail == {"amount": bad, "held": 10}
    with pytest.raises(errors.UnknownHold) as e:
        ledger.capture(session, key="c", hold_id=999, to_account=books["shop"], actor=STAFF, reason="s")
    assert e.value.detail == {"hold_id": 999}
    with pytest.raises(errors.CrossCommunity):
        ledger.capture(session, key="x1", hold_id=h, to_account=carol, amount=4, actor=STAFF, reason="s")
    session.rollback()
    r = ledger.capture(
        session,
        key="x2",
        hold_id=h,
        to_account=carol,
        amount=4,
        actor=STAFF,
        reason="s",
        allow_cross_community=True,
    )
    assert r.entries == ((a, -4), (carol, 4))
    session.commit()
    assert (ledger.balance(session, a), ledger.available(session, a), ledger.balance(session, carol)) == (
        6,
        6,
        4,
    )
    assert ledger.verify(session).ok
