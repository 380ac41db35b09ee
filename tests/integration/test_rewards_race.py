"""Concurrent redemptions on PostgreSQL: real, committing transactions on their own
connections, released together by a barrier. Stock never goes below zero, exactly as many
vouchers as units, no balance below zero, replays never spend twice, the ledger verifies."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
import portal.models  # noqa: F401
from core.db import Base, make_engine, make_session_factory
from portal.errors import ServiceError
from portal.people.models import Role, User
from portal.rewards import services as svc
from portal.rewards.models import Reward, Voucher
from tests.factories import give_points, make_community, make_reward, make_user

pytestmark = pytest.mark.slow


@pytest.fixture()
def factory(fresh_database):
    engine = make_engine(fresh_database("postgresql"), pool_size=32, max_overflow=8)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _run(factory, jobs: list[Callable[[Session], object]], threads: int = 24):
    """Run the jobs on ``threads`` threads, each job in its own committed transaction."""
    barrier = threading.Barrier(threads)
    queue = list(jobs)
    lock = threading.Lock()
    refused: list[ServiceError] = []
    errors: list[BaseException] = []

    def run() -> None:
        with factory() as session:
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                try:
                    job(session)
                    session.commit()
                except ServiceError as exc:
                    session.rollback()
                    with lock:
                        refused.append(exc)
                except BaseException as exc:  # noqa: BLE001  # pragma: no cover - reported by the test
                    session.rollback()
                    with lock:
                        errors.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    return refused, errors


def _world(factory, residents: int, points: int, **reward_fields):
    with factory() as session:
        community = make_community(session)
        shop = make_user(session, community=community, roles=(Role.MERCHANT,))
        users = [make_user(session, community=community) for _ in range(residents)]
        for u in users:
            give_points(session, community, u, points)
        reward = make_reward(session, community, shop, **reward_fields)
        ids = (community.id, reward.id, [u.id for u in users])
        session.commit()
    return ids


def _redeem(uid: int, reward_id: int, key: str | None = None) -> Callable[[Session], object]:
    def job(session: Session) -> object:
        return svc.redeem(session, session.get(User, uid), reward_id, key or str(uuid.uuid4()))

    return job


def _check_books(factory, community_id: int, reward_id: int) -> tuple[int, int]:
    with factory() as session:
        stock = session.scalar(select(Reward.stock).where(Reward.id == reward_id))
        count = session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.reward_id == reward_id)
        )
        user_ids = session.scalars(select(User.id).where(User.community_id == community_id)).all()
        for uid in user_ids:
            account = ledger.find_account(session, community_id, f"user:{uid}")
            if account is not None:
                assert ledger.available(session, account) >= 0
                assert ledger.balance(session, account) >= 0
        assert ledger.verify(session).ok
    return stock, count


def test_many_redeemers_last_items(factory):
    community_id, reward_id, user_ids = _world(
        factory, residents=60, points=50, price=30, stock=7, monthly_limit=5
    )
    refused, errors = _run(factory, [_redeem(uid, reward_id) for uid in user_ids], threads=32)
    assert errors == []
    assert len(refused) == 53 and {e.code for e in refused} == {"sold_out"}
    stock, count = _check_books(factory, community_id, reward_id)
    assert (stock, count) == (0, 7)


def test_one_person_many_tabs_never_overdraws(factory):
    community_id, reward_id, (uid,) = _world(
        factory, residents=1, points=100, price=30, stock=50, monthly_limit=50
    )
    refused, errors = _run(factory, [_redeem(uid, reward_id) for _ in range(20)], threads=20)
    assert errors == []
    assert {e.code for e in refused} == {"insufficient_funds"} and len(refused) == 17
    stock, count = _check_books(factory, community_id, reward_id)
    assert (stock, count) == (47, 3)


def test_replayed_form_at_once_spends_once(factory):
    community_id, reward_id, (uid,) = _world(
        factory, residents=1, points=100, price=30, stock=50, monthly_limit=50
    )
    key = str(uuid.uuid4())
    refused, errors = _run(factory, [_redeem(uid, reward_id, key) for _ in range(16)], threads=16)
    assert errors == [] and refused == []
    stock, count = _check_books(factory, community_id, reward_id)
    assert (stock, count) == (49, 1)


def test_fulfil_and_cancel_race_resolves_once(factory):
    community_id, reward_id, user_ids = _world(factory, residents=10, points=50, price=30, stock=10)
    _run(factory, [_redeem(uid, reward_id) for uid in user_ids], threads=10)
    with factory() as session:
        shop_id = session.scalar(select(Reward.created_by_id).where(Reward.id == reward_id))
        rows = session.execute(select(Voucher.id, Voucher.code, Voucher.user_id)).all()
    jobs: list[Callable[[Session], object]] = []
    for vid, code, uid in rows:
        jobs.append(lambda s, code=code: svc.fulfil(s, s.get(User, shop_id), code))
        jobs.append(lambda s, vid=vid, uid=uid: svc.cancel(s, s.get(User, uid), vid))
        jobs.append(lambda s, code=code: svc.fulfil(s, s.get(User, shop_id), code))
    refused, errors = _run(factory, jobs, threads=24)
    assert errors == []
    assert len(refused) == 2 * len(rows)  # each voucher: exactly one of the three wins
    stock, _count = _check_books(factory, community_id, reward_id)
    with factory() as session:
        statuses = session.scalars(select(Voucher.status)).all()
    cancelled = sum(1 for s in statuses if s.value == "cancelled")
    assert stock == cancelled
