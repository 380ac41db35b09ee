"""Many threads posting, transferring, holding, capturing and reversing on a few hot
accounts at once: no overdraft, zero-sum, stored = computed balances, a clean verify."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import ledger
from core.db import make_session_factory
from ledger import Actor, errors
from ledger.models import Account, Transaction

THREADS = 12
OPS = 40
HOT = 4


@pytest.fixture(params=["pg", "pg-python", "sqlite"])
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _setup(engine: Engine) -> tuple[int, list[int], int]:
    with make_session_factory(engine)() as s:
        fund = ledger.community_fund(s, 1)
        shop = ledger.merchant_account(s, 1, 1)
        users = [ledger.user_account(s, 1, u) for u in range(HOT)]
        for u in users:
            ledger.issue(
                s,
                key=f"seed{u}",
                fund_account=fund,
                to_account=u,
                amount=40,
                actor=Actor.user(1),
                reason="seed",
            )
        s.commit()
    return fund, users, shop


def _worker(
    engine: Engine,
    n: int,
    fund: int,
    users: list[int],
    shop: int,
    outcome: Counter[str],
    failures: list[BaseException],
    python_path: bool,
) -> None:
    rnd = random.Random(n)
    factory = make_session_factory(engine)
    mine: list[int] = []
    holds: list[int] = []
    try:
        if python_path:
            ledger.python_path().__enter__()
        for i in range(OPS):
            key = f"w{n}-{i}"
            op = rnd.choice(["transfer", "transfer", "hold", "resolve", "reverse", "issue"])
            with factory() as s:
                try:
                    if op == "transfer":
                        a, b = rnd.sample(users, 2)
                        mine.append(
                            ledger.transfer(
                                s,
                                key=key,
                                from_account=a,
                                to_account=b,
                                amount=rnd.randint(1, 25),
                                actor=Actor.user(a),
                                reason="t",
                            ).tx_id
                        )
                    elif op == "issue":
                        mine.append(
                            ledger.issue(
                                s,
                                key=key,
                                fund_account=fund,
                                to_account=rnd.choice(users),
                                amount=rnd.randint(1, 5),
                                actor=Actor.user(1),
                                reason="h",
                            ).tx_id
                        )
                    elif op == "hold":
                        holds.append(
                            ledger.hold(
                                s,
                                key=key,
                                account_id=rnd.choice(users),
                                amount=rnd.randint(1, 25),
                                actor=Actor.user(1),
                                reason="v",
                            ).hold_id
                        )
                    elif op == "resolve" and holds:
                        h = holds.pop(rnd.randrange(len(holds)))
                        if rnd.random() < 0.5:
                            ledger.capture(
                                s,
                                key=key,
                                hold_id=h,
                                to_account=shop,
                                actor=Actor.user(1),
                                reason="scan",
                                amount=1,
                            )
                        else:
                            ledger.void(s, key=key, hold_id=h, actor=Actor.user(1), reason="cancel")
                    elif op == "reverse" and mine:
                        ledger.reverse(s, tx_id=rnd.choice(mine), key=key, actor=Actor.user(1), reason="undo")
                    s.commit()
                    outcome[op] += 1
                except errors.LedgerError as err:
                    s.rollback()
                    outcome[err.code] += 1
    except BaseException as exc:  # surfaced by the main thread
        failures.append(exc)


def test_hot_accounts_under_concurrency(ledger_engine: Engine, ledger_backend: str) -> None:
    fund, users, shop = _setup(ledger_engine)
    outcome: Counter[str] = Counter()
    failures: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_worker,
            args=(ledger_engine, n, fund, users, shop, outcome, failures, ledger_backend == "pg-python"),
        )
        for n in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert outcome["transfer"] > 0 and outcome["insufficient_funds"] > 0, outcome  # contention happened
    with make_session_factory(ledger_engine)() as s:
        rows = s.execute(sa.select(Account.id, Account.balance, Account.held, Account.may_go_negative)).all()
        assert sum(r.balance for r in rows) == 0
        assert all(r.balance - r.held >= 0 for r in rows if not r.may_go_negative)
        report = ledger.verify(s)
        assert report.ok, str(report)


def test_same_key_from_many_threads_posts_once(ledger_engine: Engine, ledger_backend: str) -> None:
    fund, users, _ = _setup(ledger_engine)
    results: list[ledger.PostResult] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        try:
            with make_session_factory(ledger_engine)() as s:
                barrier.wait()
                if ledger_backend == "pg-python":
                    with ledger.python_path():
                        results.append(
                            ledger.transfer(
                                s,
                                key="once",
                                from_account=users[0],
                                to_account=users[1],
                                amount=7,
                                actor=Actor.user(1),
                                reason="r",
                            )
                        )
                else:
                    results.append(
                        ledger.transfer(
                            s,
                            key="once",
                            from_account=users[0],
                            to_account=users[1],
                            amount=7,
                            actor=Actor.user(1),
                            reason="r",
                        )
                    )
                s.commit()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len({r.tx_id for r in results}) == 1 and sum(not r.replayed for r in results) == 1
    with make_session_factory(ledger_engine)() as s:
        assert (
            s.scalar(
                sa.select(sa.func.count()).select_from(Transaction).where(Transaction.kind == "transfer")
            )
            == 1
        )
        assert ledger.balance(s, users[1]) == 47
