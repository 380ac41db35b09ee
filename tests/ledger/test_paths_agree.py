"""The three implementations of a plain posting agree (docs/ledger.md, "Three posting paths"):
the plpgsql functions (PostgreSQL), the prepared sqlite3 statements (SQLite) and the portable
Python path (either database). One script of postings — successes, every kind of refusal,
replays, conflicts, batches (set-based on PostgreSQL), exact-zero balances — runs through each
path and must give the same literal outcomes, balances and sealed payloads. (The stateful test
also runs its model on sqlite, pg and pg-python.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import ledger
from ledger import Actor, errors
from ledger.models import Account, AuditRecord

STAFF = Actor.user(1)


@pytest.fixture(params=["sqlite", "sqlite-python", "pg", "pg-python"])
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _outcome(session: Session, call: Any) -> tuple[Any, ...]:
    try:
        r = call()
    except errors.LedgerError as e:
        session.rollback()
        return ("err", e.code, e.detail, e.replayed)
    session.commit()
    if isinstance(r, list):
        return ("ok", [(x.tx_id, x.kind, x.entries, x.replayed) for x in r])
    return ("ok", r.tx_id, r.kind, r.entries, r.replayed)


EXPECTED = [
    ("ok", 1, "earn", ((1, -50), (2, 50)), False),
    ("ok", 2, "gift", ((2, -50), (3, 50)), False),
    ("err", "insufficient_funds", {"account_id": 2, "available": 0, "required": 1}, False),
    ("err", "insufficient_funds", {"account_id": 2, "available": 0, "required": 1}, True),
    ("ok", 1, "earn", ((1, -50), (2, 50)), True),
    ("err", "idempotency_conflict", {"key": "i1"}, False),
    ("err", "unknown_account", {"account_ids": [999]}, False),
    ("err", "cross_community", {"community_ids": [1, 2]}, False),
    ("err", "amount_over_cap", {"amount": 100_001, "cap": 100_000}, False),
    ("ok", 3, "grant", ((1, -10), (2, 3), (3, 7)), False),
    ("ok", [(4, "earn", ((1, -5), (2, 5)), False), (5, "gift", ((2, -8), (3, 8)), False)]),
    ("ok", [(4, "earn", ((1, -5), (2, 5)), True), (6, "gift", ((3, -1), (4, 1)), False)]),
    ("ok", 7, "transfer", ((2, 1), (4, -1)), False),
    ("err", "insufficient_funds", {"account_id": 3, "available": 65, "required": 66, "index": 1}, False),
]


def test_every_posting_path_gives_the_same_outcomes(session: Session, books: dict[str, int]) -> None:
    f, a, b, shop, carol = books["fund"], books["alice"], books["bob"], books["shop"], books["carol"]
    assert (f, a, b, shop, carol) == (1, 2, 3, 4, 7)
    org = ledger.org_account(session, 1, 9)
    session.commit()
    assert org == 8

    def post(key: str, kind: str, entries: list[tuple[int, int]], **kw: Any) -> Any:
        return lambda: ledger.post(
            session, key=key, kind=kind, entries=entries, actor=STAFF, reason="r", **kw
        )

    P = ledger.Posting
    script = [
        post("i1", "earn", [(f, -50), (a, 50)]),
        post("g1", "gift", [(a, -50), (b, 50)]),  # alice at exactly zero
        post("g2", "gift", [(a, -1), (b, 1)]),
        post("g2", "gift", [(a, -1), (b, 1)]),  # the rejection, replayed
        post("i1", "earn", [(f, -50), (a, 50)]),  # the success, replayed
        post("i1", "earn", [(f, -51), (a, 51)]),
        post("u", "gift", [(a, -1), (999, 1)]),
        post("x", "gift", [(a, -1), (carol, 1)]),
        post("cap", "grant", [(f, -100_001), (a, 100_001)]),
        post("m", "grant", [(f, -10), (a, 3), (b, 7)]),
        lambda: ledger.post_many(  # new, valid, one community: set-based on PostgreSQL; alice back to 0
            session,
            [P("b1", "earn", [(f, -5), (a, 5)], STAFF, "r"), P("b2", "gift", [(a, -8), (b, 8)], STAFF, "r")],
        ),
        lambda: ledger.post_many(  # a replay inside a batch: posting by posting
            session,
            [
                P("b1", "earn", [(f, -5), (a, 5)], STAFF, "r"),
                P("b3", "gift", [(b, -1), (shop, 1)], STAFF, "r"),
            ],
        ),
        post("o", "transfer", [(shop, -1), (a, 1)]),
        lambda: ledger.post_many(  # overdraws at its second posting, after the first raised bob to 65
            session,
            [
                P("b4", "earn", [(f, -1), (b, 1)], STAFF, "r"),
                P("b5", "gift", [(b, -66), (a, 66)], STAFF, "r"),
            ],
        ),
    ]
    got = [_outcome(session, call) for call in script]
    assert got == EXPECTED

    balances = dict(session.execute(sa.select(Account.id, Account.balance).order_by(Account.id)).all())
    assert balances == {1: -65, 2: 1, 3: 64, 4: 0, 5: 0, 6: 0, 7: 0, org: 0}
    payloads = [
        json.loads(p)
        for p in session.execute(
            sa.select(AuditRecord.payload).where(AuditRecord.event == "tx").order_by(AuditRecord.tx_id)
        ).scalars()
    ]
    # the sealed records, times left out
    assert [p[:11] + p[12:] for p in payloads] == [
        ["tx", 1, 1, "earn", 1, "r", None, None, None, None, False, [[1, -50], [2, 50]]],
        ["tx", 2, 1, "gift", 1, "r", None, None, None, None, False, [[2, -50], [3, 50]]],
        ["tx", 3, 1, "grant", 1, "r", None, None, None, None, False, [[1, -10], [2, 3], [3, 7]]],
        ["tx", 4, 1, "earn", 1, "r", None, None, None, None, False, [[1, -5], [2, 5]]],
        ["tx", 5, 1, "gift", 1, "r", None, None, None, None, False, [[2, -8], [3, 8]]],
        ["tx", 6, 1, "gift", 1, "r", None, None, None, None, False, [[3, -1], [4, 1]]],
        ["tx", 7, 1, "transfer", 1, "r", None, None, None, None, False, [[2, 1], [4, -1]]],
    ]
    assert ledger.verify(session).ok
