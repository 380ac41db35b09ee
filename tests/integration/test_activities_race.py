"""No overbooking when hundreds sign up at the same moment: real, committing
transactions on their own connections, released together by a barrier."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

import portal.models  # noqa: F401
from core.db import Base, make_engine, make_session_factory
from portal.activities import services as svc
from portal.errors import ServiceError
from portal.people.models import Role, User
from portal.volunteering.activities import Activity, ActivitySignup, SignupStatus
from tests.factories import make_activity, make_community, make_user

pytestmark = pytest.mark.slow

T0 = dt.datetime(2030, 5, 1, 1, 0, tzinfo=dt.UTC)


@pytest.fixture()
def factory(fresh_database):
    engine = make_engine(fresh_database("postgresql"), pool_size=32, max_overflow=8)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _run_all(factory, work, user_ids, threads=24):
    barrier = threading.Barrier(threads)
    queue = list(user_ids)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def run() -> None:
        with factory() as session:
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    uid = queue.pop()
                try:
                    work(session, uid)
                    session.commit()
                except ServiceError as exc:  # pragma: no cover - reported below
                    session.rollback()
                    errors.append(exc)
                except BaseException as exc:  # pragma: no cover
                    session.rollback()
                    errors.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    return errors


def test_two_hundred_signups_capacity_twenty(factory):
    with factory() as session:
        community = make_community(session)
        staff = make_user(session, community=community, roles=(Role.STAFF,))
        users = [make_user(session, community=community) for _ in range(200)]
        activity = make_activity(session, community, staff, capacity=20, now=T0)
        activity_id, user_ids = activity.id, [u.id for u in users]
        session.commit()

    def sign_up(session, uid):
        svc.signup(session, session.get(User, uid), activity_id, now=T0)

    errors = _run_all(factory, sign_up, user_ids, threads=32)
    assert errors == []
    with factory() as session:
        rows = session.scalars(select(ActivitySignup).where(ActivitySignup.activity_id == activity_id)).all()
        confirmed = [r for r in rows if r.status == SignupStatus.CONFIRMED]
        waiting = [r for r in rows if r.status == SignupStatus.WAITLISTED]
        assert len(rows) == 200
        assert len(confirmed) == 20
        assert len(waiting) == 180
        assert sorted(r.waitlist_position for r in waiting) == list(range(1, 181))
        assert session.get(Activity, activity_id).confirmed_count == 20
        head = min(waiting, key=lambda r: r.waitlist_position)
        leaver = confirmed[0].user_id

    # Several confirmed people cancel at once while others sign up again: still never over 20,
    # and each cancellation promotes exactly one person, head of the queue first.
    with factory() as session:
        promoted = svc.cancel_signup(session, session.get(User, leaver), activity_id, now=T0)
        session.commit()
        assert [p.id for p in promoted] == [head.id]
        assert session.get(Activity, activity_id).confirmed_count == 20

    with factory() as session:
        leavers = [
            r.user_id
            for r in session.scalars(
                select(ActivitySignup).where(
                    ActivitySignup.activity_id == activity_id, ActivitySignup.status == SignupStatus.CONFIRMED
                )
            )
        ][:10]

    def cancel(session, uid):
        svc.cancel_signup(session, session.get(User, uid), activity_id, now=T0)

    assert _run_all(factory, cancel, leavers, threads=10) == []
    with factory() as session:
        rows = session.scalars(select(ActivitySignup).where(ActivitySignup.activity_id == activity_id)).all()
        assert sum(r.status == SignupStatus.CONFIRMED for r in rows) == 20
        assert sum(r.status == SignupStatus.WAITLISTED for r in rows) == 169
        assert session.get(Activity, activity_id).confirmed_count == 20


def test_same_person_twice_at_once_counts_once(factory):
    with factory() as session:
        community = make_community(session)
        staff = make_user(session, community=community, roles=(Role.STAFF,))
        user = make_user(session, community=community)
        activity = make_activity(session, community, staff, capacity=5, now=T0)
        ids = (activity.id, user.id)
        session.commit()

    def sign_up(session, uid):
        svc.signup(session, session.get(User, uid), ids[0], now=T0)

    errors = _run_all(factory, sign_up, [ids[1]] * 8, threads=8)
    assert len(errors) == 7 and all(getattr(e, "code", None) == "duplicate" for e in errors)
    with factory() as session:
        assert session.get(Activity, ids[0]).confirmed_count == 1
