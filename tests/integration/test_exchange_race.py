"""One member firing many simultaneous gifts (threads, one session each, real commits on a
fresh database): the daily limit is never exceeded and the balance never overdrawn; a
replayed key pays once; the ledger verifies afterwards. PostgreSQL (row lock on the giver)
and SQLite (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

import ledger
import portal.models  # noqa: F401
from core.db import Base, make_engine, make_session_factory
from portal.errors import ServiceError
from portal.exchange import services as svc
from portal.exchange.models import Gift
from portal.people.models import User
from portal.settings.models import CommunitySettings
from tests.factories import make_community, make_user

pytestmark = pytest.mark.slow


@pytest.fixture()
def factory(backend, fresh_database):
    engine = make_engine(fresh_database(backend))
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _setup(factory, *, balance: int, limit: int, recipients: int = 4):
    with factory() as s:
        c = make_community(s)
        s.add(CommunitySettings(community_id=c.id, gift_daily_limit=limit))
        giver = make_user(s, community=c)
        others = [make_user(s, community=c) for _ in range(recipients)]
        ledger.issue(
            s,
            key="race:fund",
            fund_account=ledger.community_fund(s, c.id),
            to_account=ledger.user_account(s, c.id, giver.id),
            amount=balance,
            actor=ledger.Actor.system("test"),
            reason="funds",
        )
        s.commit()
        return c.id, giver.id, [o.phone for o in others]


def _fire(factory, giver_id: int, jobs: list[tuple[str, int, str]]) -> list[str]:
    barrier = threading.Barrier(len(jobs))
    out: list[str] = []
    lock = threading.Lock()

    def run(phone: str, amount: int, key: str) -> None:
        with factory() as s:
            giver = s.get(User, giver_id)
            s.commit()  # end the read before waiting (SQLite: never hold the writer lock at the barrier)
            barrier.wait()
            try:
                svc.give(s, giver, phone, amount, "", key)
                s.commit()
                res = "ok"
            except ServiceError as exc:
                s.rollback()
                res = exc.code
            with lock:
                out.append(res)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_concurrent_gifts_respect_daily_limit(factory):
    cid, giver_id, phones = _setup(factory, balance=1000, limit=100)
    outcomes = _fire(factory, giver_id, [(phones[i % len(phones)], 30, uuid.uuid4().hex) for i in range(12)])
    assert outcomes.count("ok") == 3 and outcomes.count("over_daily_limit") == 9
    with factory() as s:
        assert s.scalar(select(func.sum(Gift.amount))) == 90
        assert ledger.balance(s, ledger.user_account(s, cid, giver_id)) == 910
        assert ledger.verify(s).ok


def test_concurrent_gifts_never_overdraw(factory):
    cid, giver_id, phones = _setup(factory, balance=100, limit=100000)
    outcomes = _fire(factory, giver_id, [(phones[i % len(phones)], 30, uuid.uuid4().hex) for i in range(10)])
    assert outcomes.count("ok") == 3
    with factory() as s:
        assert ledger.balance(s, ledger.user_account(s, cid, giver_id)) == 10
        assert ledger.verify(s).ok


def test_replayed_key_pays_once(factory):
    cid, giver_id, phones = _setup(factory, balance=500, limit=1000)
    key = uuid.uuid4().hex
    outcomes = _fire(factory, giver_id, [(phones[0], 25, key)] * 8)
    assert set(outcomes) == {"ok"}
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Gift)) == 1
        assert ledger.balance(s, ledger.user_account(s, cid, giver_id)) == 475
        assert ledger.verify(s).ok
