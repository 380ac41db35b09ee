"""No deadlocks on any money path under ordinary concurrent load (PostgreSQL).

Each test fires one money path — gift, redeem, approve, grant, time-exchange payment —
together with gifts that cross the same people (every resident gives to a neighbour), on
real committing transactions, one connection per thread, released by a barrier. Any
database error fails the test: a deadlock (SQLSTATE 40P01) surfaces as an
``OperationalError``, and so would a lock timeout. The classic cycle these guard against:
one transaction locks a user row with plain ``FOR UPDATE`` while another, holding a ledger
account lock, inserts a row whose foreign key points at that user (``FOR KEY SHARE``,
which ``FOR UPDATE`` blocks and ``FOR NO KEY UPDATE`` does not).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import ledger
import portal.models  # noqa: F401
from core import clock
from core.db import Base, make_engine, make_session_factory
from portal.errors import ServiceError
from portal.exchange import services as exchange
from portal.exchange.models import Gift
from portal.people.models import Role, User
from portal.rewards import services as rewards
from portal.settings.models import CommunitySettings
from portal.volunteering import hour_logs as hours
from portal.volunteering.recording import record_hours
from tests.factories import give_points, make_community, make_reward, make_user

pytestmark = pytest.mark.slow


def _morning_days_ago(days: int) -> dt.datetime:
    """07:00 in Shanghai ``days`` ago (UTC): logs of a few hours from here stay on one local
    day, whatever the hour the suite runs at."""
    shanghai = ZoneInfo("Asia/Shanghai")
    day = clock.local_today() - dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(7), tzinfo=shanghai).astimezone(dt.UTC)


RESIDENTS = 8
Job = Callable[[Session], object]


@pytest.fixture()
def factory(fresh_database):
    engine = make_engine(fresh_database("postgresql"), pool_size=24, max_overflow=8)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _run(factory, jobs: list[Job], threads: int = 16) -> list[ServiceError]:
    """Run ``jobs`` on ``threads`` threads, each job in its own committed transaction;
    fail on any error other than a business refusal (``ServiceError``)."""
    barrier = threading.Barrier(threads)
    queue = list(jobs)
    lock = threading.Lock()
    refused: list[ServiceError] = []
    errors: list[BaseException] = []

    def run() -> None:
        with factory() as session:
            # A deadlock is detected after deadlock_timeout (1 s); the lock timeout only
            # turns an undetected wait into a failure instead of a hang.
            session.execute(text("SET lock_timeout = '20s'"))
            session.commit()
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop(0)
                try:
                    job(session)
                    session.commit()
                except ServiceError as exc:
                    session.rollback()
                    with lock:
                        refused.append(exc)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    session.rollback()
                    with lock:
                        errors.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(180)
    assert not any(t.is_alive() for t in pool), "a worker hung"
    assert errors == [], f"{len(errors)} database errors, first: {errors[0]!r}"
    return refused


def _world(factory) -> dict:
    with factory() as s:
        c = make_community(s)
        s.add(CommunitySettings(community_id=c.id, gift_daily_limit=10_000))
        staff = make_user(s, community=c, roles=(Role.STAFF,))
        staff2 = make_user(s, community=c, roles=(Role.STAFF,))
        shop = make_user(s, community=c, roles=(Role.MERCHANT,))
        people = [make_user(s, community=c) for _ in range(RESIDENTS)]
        for p in people:
            give_points(s, c, p, 10_000)
        reward = make_reward(s, c, shop, price=5, stock=1000, monthly_limit=50)
        s.commit()
        return {
            "cid": c.id,
            "staff": staff.id,
            "staff2": staff2.id,
            "people": [p.id for p in people],
            "phones": [p.phone for p in people],
            "reward": reward.id,
        }


def _gift(giver: int, phone: str, amount: int = 1) -> Job:
    def job(s: Session) -> object:
        return exchange.give(s, s.get(User, giver), phone, amount, "", uuid.uuid4().hex)

    return job


def _crossing_gifts(w: dict, rounds: int = 2) -> list[Job]:
    """Every resident gives to both neighbours: gifts in opposite directions meet."""
    n = len(w["people"])
    jobs = []
    for _ in range(rounds):
        for i, uid in enumerate(w["people"]):
            jobs.append(_gift(uid, w["phones"][(i + 1) % n]))
            jobs.append(_gift(uid, w["phones"][(i - 1) % n]))
    return jobs


def _interleave(a: list[Job], b: list[Job]) -> list[Job]:
    out: list[Job] = []
    for i in range(max(len(a), len(b))):
        out.extend(a[i : i + 1] + b[i : i + 1])
    return out


def _check(factory, w: dict) -> None:
    with factory() as s:
        for uid in w["people"]:
            acc = ledger.find_account(s, w["cid"], f"user:{uid}")
            assert acc is not None and ledger.balance(s, acc) >= 0
        assert ledger.verify(s).ok


def test_crossing_gifts_do_not_deadlock(factory):
    w = _world(factory)
    jobs = _crossing_gifts(w, rounds=3)
    assert _run(factory, jobs) == []
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Gift)) == len(jobs)
    _check(factory, w)


def test_redeem_while_receiving_gifts_does_not_deadlock(factory):
    w = _world(factory)
    redeem = [
        (lambda s, uid=uid: rewards.redeem(s, s.get(User, uid), w["reward"], str(uuid.uuid4())))
        for uid in w["people"] * 2
    ]
    assert _run(factory, _interleave(redeem, _crossing_gifts(w))) == []
    _check(factory, w)


def test_approve_while_gifting_does_not_deadlock(factory):
    w = _world(factory)
    base = _morning_days_ago(3)
    with factory() as s:
        logs = []
        for k, uid in enumerate(w["people"]):
            user = s.get(User, uid)
            for j in range(2):
                start = base + dt.timedelta(hours=2 * j + k % 2 * 5)
                logs.append(
                    record_hours(
                        s,
                        user_id=uid,
                        community_id=w["cid"],
                        source="other",
                        source_id=None,
                        started_at=start,
                        ended_at=start + dt.timedelta(hours=1),
                        description="扫楼道",
                        reported_by=user,
                    ).id
                )
        s.commit()
    # Two staff approve overlapping batches in opposite orders while the people give.
    approve: list[Job] = []
    for i in range(0, len(logs), 2):
        pair = logs[i : i + 2]
        approve.append(lambda s, ids=pair: hours.approve(s, s.get(User, w["staff"]), ids))
        approve.append(lambda s, ids=pair[::-1]: hours.approve(s, s.get(User, w["staff2"]), ids))
    assert _run(factory, _interleave(approve, _crossing_gifts(w))) == []
    with factory() as s:
        for uid in w["people"]:
            acc = ledger.find_account(s, w["cid"], f"user:{uid}")
            assert ledger.balance(s, acc) > 10_000  # paid exactly once per log (gifts net to 0)
    _check(factory, w)


def test_grant_while_gifting_does_not_deadlock(factory):
    w = _world(factory)
    grants: list[Job] = [
        (
            lambda s, phone=phone, staff=staff: exchange.grant(
                s,
                s.get(User, staff),
                w["cid"],
                target="person",
                amount=3,
                category="civic",
                reason="",
                idem_key=uuid.uuid4().hex,
                phone=phone,
            )
        )
        for phone in w["phones"]
        for staff in (w["staff"], w["staff2"])
    ]
    assert _run(factory, _interleave(grants, _crossing_gifts(w))) == []
    _check(factory, w)


def test_exchange_payment_while_gifting_does_not_deadlock(factory):
    w = _world(factory)
    n = len(w["people"])
    agreements: list[tuple[int, int]] = []  # (agreement id, receiver id)
    with factory() as s:
        for i, uid in enumerate(w["people"]):
            receiver = s.get(User, uid)
            provider = s.get(User, w["people"][(i + 1) % n])
            listing = exchange.create_listing(s, receiver, "request", "遛狗", "", 60)
            ag = exchange.respond(s, provider, listing.id)
            exchange.mark_done(s, provider, ag.id, 60)
            agreements.append((ag.id, uid))
        s.commit()
    pay: list[Job] = [
        (lambda s, ag=ag, uid=uid: exchange.approve_and_pay(s, s.get(User, uid), ag))
        for ag, uid in agreements
    ]
    assert _run(factory, _interleave(pay, _crossing_gifts(w))) == []
    _check(factory, w)
