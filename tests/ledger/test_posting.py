"""Rules of posting, on SQLite and PostgreSQL (plpgsql fast path)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import ledger
from ledger import Actor, errors
from ledger.models import Entry, IdempotencyRecord, Transaction

STAFF = Actor.user(1)


def counts(s: Session) -> tuple[int, int, int]:
    return tuple(
        s.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Transaction, Entry, IdempotencyRecord)
    )  # type: ignore[return-value]


def give(s: Session, books: dict[str, int], who: str, amount: int, key: str) -> ledger.PostResult:
    return ledger.issue(
        s,
        key=key,
        fund_account=books["fund"],
        to_account=books[who],
        amount=amount,
        actor=STAFF,
        reason="approved hours",
        ref_type="hour_log",
        ref_id=1,
    )


def test_issue_moves_points_from_fund(session: Session, books: dict[str, int]) -> None:
    r = give(session, books, "alice", 30, "k1")
    session.commit()
    assert r.entries == tuple(sorted([(books["fund"], -30), (books["alice"], 30)]))
    assert ledger.balance(session, books["alice"]) == 30
    assert ledger.balance(session, books["fund"]) == -30
    assert r.created_at.tzinfo == dt.UTC
    assert ledger.verify(session).ok


def test_transfer_and_statement(session: Session, books: dict[str, int]) -> None:
    give(session, books, "alice", 30, "k1")
    ledger.transfer(
        session,
        key="k2",
        from_account=books["alice"],
        to_account=books["bob"],
        amount=12,
        actor=Actor.user(101),
        reason="gift",
        kind="gift",
    )
    session.commit()
    assert (ledger.balance(session, books["alice"]), ledger.balance(session, books["bob"])) == (18, 12)
    page = ledger.statement(session, books["alice"], limit=1)
    assert [(x.kind, x.amount, x.balance_after) for x in page.lines] == [("gift", -12, 18)]
    older = ledger.statement(session, books["alice"], limit=1, before=page.next_before)
    assert [(x.kind, x.amount, x.balance_after) for x in older.lines] == [("earn", 30, 30)]
    assert older.next_before is None


def test_balance_as_of(session: Session, books: dict[str, int]) -> None:
    before = ledger.issue(
        session,
        key="a",
        fund_account=books["fund"],
        to_account=books["alice"],
        amount=5,
        actor=STAFF,
        reason="r",
    ).created_at
    later = ledger.issue(
        session,
        key="b",
        fund_account=books["fund"],
        to_account=books["alice"],
        amount=7,
        actor=STAFF,
        reason="r",
    ).created_at
    session.commit()
    assert ledger.balance_as_of(session, books["alice"], before - dt.timedelta(seconds=1)) == 0
    assert ledger.balance_as_of(session, books["alice"], before) == 5
    assert ledger.balance_as_of(session, books["alice"], later) == 12


def test_multi_leg_posting(session: Session, books: dict[str, int]) -> None:
    give(session, books, "alice", 10, "k1")
    ledger.post(
        session,
        key="k2",
        kind="redeem",
        actor=Actor.user(101),
        reason="split",
        entries=[(books["alice"], -10), (books["shop"], 7), (books["expired"], 3)],
    )
    session.commit()
    assert ledger.balances(session, [books["alice"], books["shop"], books["expired"]]) == {
        books["alice"]: 0,
        books["shop"]: 7,
        books["expired"]: 3,
    }


@pytest.mark.parametrize(
    "entries, error",
    [
        ([("alice", 0), ("bob", 0)], errors.InvalidAmount),
        ([("alice", -5), ("bob", 4)], errors.Unbalanced),
        ([("alice", 5)], errors.InvalidEntries),
        ([("alice", -5), ("alice", 5)], errors.InvalidEntries),
        ([("alice", -1.5), ("bob", 1.5)], errors.InvalidAmount),
        ([("alice", -100_001), ("bob", 100_001)], errors.AmountOverCap),
        ([(999, -1), ("bob", 1)], errors.UnknownAccount),
        ([("fund", -1), ("carol", 1)], errors.CrossCommunity),
    ],
)
def test_bad_input_raises_and_writes_nothing(
    session: Session, books: dict[str, int], entries: list, error: type, stored_balances
) -> None:
    give(session, books, "alice", 50, "seed")
    session.commit()
    before, bal = counts(session), stored_balances(session)
    resolved = [(books.get(a, a) if isinstance(a, str) else a, m) for a, m in entries]
    with pytest.raises(error) as info:
        ledger.post(session, key="bad", kind="transfer", entries=resolved, actor=STAFF, reason="r")
    assert info.value.code == error.code
    session.commit()
    assert counts(session) == before and stored_balances(session) == bal


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"amount": -3}, errors.InvalidAmount),
        ({"amount": 0}, errors.InvalidAmount),
        ({"reason": " "}, errors.InvalidRequest),
        ({"kind": "reverse"}, errors.InvalidRequest),
        ({"actor": None}, errors.InvalidRequest),
    ],
)
def test_transfer_input_errors(session: Session, books: dict[str, int], kwargs: dict, error: type) -> None:
    args = dict(
        key="k", from_account=books["fund"], to_account=books["alice"], amount=3, actor=STAFF, reason="r"
    )
    with pytest.raises(error):
        ledger.transfer(session, **{**args, **kwargs})


def test_cap_is_configurable(session: Session, books: dict[str, int]) -> None:
    ledger.configure(max_posting_amount=10)
    try:
        with pytest.raises(errors.AmountOverCap):
            give(session, books, "alice", 11, "k")
        give(session, books, "alice", 10, "k2")
    finally:
        ledger.configure(max_posting_amount=100_000)


def test_lowering_the_cap_keeps_replays(session: Session, books: dict[str, int]) -> None:
    first = give(session, books, "alice", 50, "k-cap")
    batch = ledger.post_many(
        session,
        [
            ledger.Posting(
                "k-cap-b", "earn", [(books["fund"], -40), (books["bob"], 40)], STAFF, "approved hours"
            )
        ],
    )
    h = ledger.hold(
        session, key="k-cap-h", account_id=books["alice"], amount=30, actor=STAFF, reason="voucher"
    )
    session.commit()
    ledger.configure(max_posting_amount=10)
    try:
        again = give(session, books, "alice", 50, "k-cap")
        assert again.replayed and again.tx_id == first.tx_id
        assert (
            ledger.post_many(
                session,
                [
                    ledger.Posting(
                        "k-cap-b", "earn", [(books["fund"], -40), (books["bob"], 40)], STAFF, "approved hours"
                    )
                ],
            )[0].tx_id
            == batch[0].tx_id
        )
        assert (
            ledger.hold(
                session, key="k-cap-h", account_id=books["alice"], amount=30, actor=STAFF, reason="voucher"
            ).hold_id
            == h.hold_id
        )
        with pytest.raises(errors.AmountOverCap):
            give(session, books, "alice", 50, "k-cap-new")
        with pytest.raises(errors.AmountOverCap):
            ledger.hold(
                session, key="k-cap-h2", account_id=books["alice"], amount=11, actor=STAFF, reason="v"
            )
    finally:
        ledger.configure(max_posting_amount=100_000)


def test_verify_leaves_the_connection_usable(session: Session, books: dict[str, int]) -> None:
    give(session, books, "alice", 5, "k-v")
    sp = session.begin_nested()
    assert ledger.verify(session).ok
    give(session, books, "alice", 5, "k-v2")
    sp.rollback()  # PostgreSQL refused this while verify's yield_per stuck to the connection
    assert ledger.balance(session, books["alice"]) == 5
    assert ledger.verify(session).ok


def test_cross_community_when_allowed(session: Session, books: dict[str, int]) -> None:
    r = ledger.post(
        session,
        key="x",
        kind="settle",
        actor=STAFF,
        reason="inter-community",
        entries=[(books["fund"], -5), (books["carol"], 5)],
        allow_cross_community=True,
    )
    session.commit()
    assert ledger.balance(session, books["carol"]) == 5
    assert session.get(Transaction, r.tx_id).community_id == 1  # sealed in the lowest community's chain
    assert ledger.verify(session).ok


def test_closed_account_refused(session: Session, books: dict[str, int]) -> None:
    ledger.close_account(session, books["bob"], actor=STAFF, reason="moved away")
    session.commit()
    with pytest.raises(errors.AccountClosed):
        give(session, books, "bob", 1, "k")
    with pytest.raises(errors.InvalidRequest):  # not empty
        give(session, books, "alice", 1, "k2")
        ledger.close_account(session, books["alice"], actor=STAFF, reason="x")
    session.rollback()
    assert ledger.verify(session).ok


def test_overdraft_refused(session: Session, books: dict[str, int]) -> None:
    give(session, books, "alice", 10, "k1")
    session.commit()
    with pytest.raises(errors.InsufficientFunds) as info:
        ledger.transfer(
            session,
            key="k2",
            from_account=books["alice"],
            to_account=books["bob"],
            amount=11,
            actor=Actor.user(101),
            reason="gift",
        )
    assert info.value.detail == {"account_id": books["alice"], "available": 10, "required": 11}
    session.commit()
    assert ledger.balance(session, books["alice"]) == 10


def test_open_account_is_get_or_open(session: Session) -> None:
    a = ledger.user_account(session, 3, 9)
    assert ledger.user_account(session, 3, 9) == a
    assert ledger.find_account(session, 3, "user:9") == a
    info = ledger.get_account(session, a)
    assert (info.kind, info.may_go_negative, info.balance) == ("user", False, 0)
    assert ledger.get_account(session, ledger.community_fund(session, 3)).may_go_negative
    with pytest.raises(errors.InvalidRequest):
        ledger.open_account(session, kind="user", community_id=3)
    with pytest.raises(errors.InvalidRequest):
        ledger.open_account(session, kind="fund", community_id=3, user_id=1)


def test_post_many_batch(session: Session, books: dict[str, int]) -> None:
    batch = [
        ledger.Posting(
            f"h{i}", "earn", [(books["fund"], -2), (books["alice"], 2)], STAFF, "hours", "hour_log", i
        )
        for i in range(50)
    ]
    results = ledger.post_many(session, batch)
    session.commit()
    assert len(results) == 50 and not any(r.replayed for r in results)
    assert ledger.balance(session, books["alice"]) == 100
    again = ledger.post_many(session, batch)
    assert all(r.replayed for r in again) and [r.tx_id for r in again] == [r.tx_id for r in results]
    assert ledger.verify(session).ok


def test_post_many_chains_through_shared_accounts(session: Session, books: dict[str, int]) -> None:
    """A batch whose postings reuse accounts, in two communities, spending what earlier
    postings of the same batch brought in (the set-based PostgreSQL path)."""
    a, b, shop, carol = books["alice"], books["bob"], books["shop"], books["carol"]
    batch = []
    for i in range(20):
        batch.append(
            ledger.Posting(f"m{i}a", "earn", [(books["fund"], -5), (a, 5)], STAFF, "hours", "hour_log", i)
        )
        batch.append(ledger.Posting(f"m{i}b", "gift", [(a, -4), (b, 4)], Actor.user(101), 'gift "q" 福'))
        batch.append(ledger.Posting(f"m{i}c", "redeem", [(b, -3), (shop, 3)], Actor.user(102), "coffee"))
        batch.append(
            ledger.Posting(f"m{i}d", "earn", [(books["other_fund"], -1), (carol, 1)], STAFF, "hours")
        )
    results = ledger.post_many(session, batch)
    session.commit()
    assert [r.tx_id for r in results] == sorted(r.tx_id for r in results)
    assert ledger.balances(session, [a, b, shop, carol]) == {a: 20, b: 20, shop: 60, carol: 20}
    page = ledger.statement(session, b, limit=3)
    assert [line.balance_after for line in page.lines] == [20, 23, 19]
    assert ledger.verify(session).ok, str(ledger.verify(session))
    # the same shape, but the 3rd posting overdraws: nothing of the batch is kept
    with pytest.raises(errors.InsufficientFunds) as info:
        ledger.post_many(
            session,
            [
                ledger.Posting("n1", "gift", [(a, -15), (b, 15)], STAFF, "r"),
                ledger.Posting("n2", "gift", [(a, -5), (b, 5)], STAFF, "r"),
                ledger.Posting("n3", "gift", [(a, -1), (b, 1)], STAFF, "r"),
            ],
        )
    assert info.value.detail["index"] == 2
    session.commit()
    assert ledger.balance(session, a) == 20 and ledger.verify(session).ok


def test_post_many_is_all_or_nothing(session: Session, books: dict[str, int]) -> None:
    give(session, books, "alice", 5, "seed")
    session.commit()
    before = counts(session)
    batch = [
        ledger.Posting("b1", "gift", [(books["alice"], -3), (books["bob"], 3)], STAFF, "r"),
        ledger.Posting("b2", "gift", [(books["alice"], -3), (books["bob"], 3)], STAFF, "r"),
    ]
    with pytest.raises(errors.InsufficientFunds) as info:
        ledger.post_many(session, batch)
    assert info.value.detail["index"] == 1
    session.commit()
    assert ledger.balance(session, books["alice"]) == 5
    tx, entries, idem = counts(session)
    assert (tx, entries, idem) == (before[0], before[1], before[2] + 1)  # only b2's rejection is kept
    with pytest.raises(errors.InsufficientFunds) as info:  # replay of the rejection
        ledger.post(
            session,
            key="b2",
            kind="gift",
            entries=[(books["alice"], -3), (books["bob"], 3)],
            actor=STAFF,
            reason="r",
        )
    assert info.value.replayed


def test_posting_on_a_bare_connection_commits_with_it(
    ledger_engine: sa.Engine, books: dict[str, int]
) -> None:
    with ledger_engine.connect() as c:
        ledger.issue(
            c,
            key="c1",
            fund_account=books["fund"],
            to_account=books["alice"],
            amount=4,
            actor=STAFF,
            reason="hours",
        )
        c.commit()
    with ledger_engine.connect() as c:
        assert ledger.balance(c, books["alice"]) == 4
        ledger.issue(
            c,
            key="c2",
            fund_account=books["fund"],
            to_account=books["alice"],
            amount=4,
            actor=STAFF,
            reason="hours",
        )
        c.rollback()
        assert ledger.balance(c, books["alice"]) == 4


def test_posting_on_an_autocommit_connection_is_one_durable_statement(
    ledger_backend: str, ledger_engine: sa.Engine, books: dict[str, int]
) -> None:
    """PostgreSQL: a plain posting on an AUTOCOMMIT connection is one atomic statement (the
    function), committed on return; rejections are remembered and replays answered."""
    if ledger_backend != "pg":
        pytest.skip("the one-statement posting is the PostgreSQL function")
    with ledger_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        r = ledger.issue(
            c,
            key="ac1",
            fund_account=books["fund"],
            to_account=books["alice"],
            amount=5,
            actor=STAFF,
            reason="hours",
        )
        with pytest.raises(errors.InsufficientFunds):
            ledger.transfer(
                c,
                key="ac2",
                from_account=books["bob"],
                to_account=books["alice"],
                amount=1,
                actor=STAFF,
                reason="gift",
            )
        again = ledger.issue(
            c,
            key="ac1",
            fund_account=books["fund"],
            to_account=books["alice"],
            amount=5,
            actor=STAFF,
            reason="hours",
        )
        assert again.replayed and again.tx_id == r.tx_id
        # writes of several statements refuse to run without a transaction
        with pytest.raises(errors.InvalidRequest):
            ledger.reverse(c, tx_id=r.tx_id, key="ac3", actor=STAFF, reason="oops")
        with pytest.raises(errors.InvalidRequest):
            ledger.hold(c, key="ac4", account_id=books["alice"], amount=1, actor=STAFF, reason="r")
        with ledger.python_path(), pytest.raises(errors.InvalidRequest):
            ledger.transfer(
                c,
                key="ac5",
                from_account=books["alice"],
                to_account=books["bob"],
                amount=1,
                actor=STAFF,
                reason="gift",
            )
    with ledger_engine.connect() as c:  # visible from elsewhere: committed, nothing pending
        assert ledger.balance(c, books["alice"]) == 5
        ledger.issue(
            c,
            key="ac6",
            fund_account=books["fund"],
            to_account=books["bob"],
            amount=2,
            actor=STAFF,
            reason="hours",
        )
        c.commit()
        with pytest.raises(errors.InsufficientFunds) as exc:
            ledger.transfer(
                c,
                key="ac2",
                from_account=books["bob"],
                to_account=books["alice"],
                amount=1,
                actor=STAFF,
                reason="gift",
            )
        assert exc.value.replayed  # the rejection was committed with its statement
        assert ledger.verify(c).ok
