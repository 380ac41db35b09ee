"""Two simultaneous 报到 submissions (and two simultaneous confirmations) by real,
committing transactions: exactly one wins, the other gets a friendly Conflict."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

import portal.models  # noqa: F401
from core.db import Base, make_engine, make_session_factory
from portal.community import services as svc
from portal.errors import Conflict
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from tests.factories import give_consent, make_community, make_user

pytestmark = pytest.mark.slow


@pytest.fixture()
def factory(backend, fresh_database):
    engine = make_engine(fresh_database(backend))
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _race(factory, work, n=2):
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def run(i: int) -> None:
        with factory() as session:
            barrier.wait()
            try:
                work(session, i)
                session.commit()
                outcomes.append("ok")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes)


def test_duplicate_report_race(factory):
    with factory() as session:
        community = make_community(session)
        user = make_user(session, community=community)
        give_consent(session, user)
        ids = (community.id, user.id)
        session.commit()

    def submit(session, i):
        actor = session.get(User, ids[1])
        svc.submit_report(session, actor, ids[0], f"单位{i}", "支部")

    assert _race(factory, submit) == ["conflict", "ok"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(PartyReport)) == 1


def test_double_confirm_race(factory):
    with factory() as session:
        community = make_community(session)
        member = make_user(session, community=community)
        staff = [make_user(session, community=community, roles=(Role.STAFF,)) for _ in range(2)]
        report = PartyReport(user_id=member.id, community_id=community.id, work_unit="单位", party_org="支部")
        session.add(report)
        session.commit()
        ids = (community.id, report.id, [s.id for s in staff], member.id)

    def confirm(session, i):
        actor = session.get(User, ids[2][i])
        svc.review_report(session, actor, ids[0], ids[1], confirm=True)

    assert _race(factory, confirm) == ["conflict", "ok"]
    with factory() as session:
        assert session.get(PartyReport, ids[1]).status == ReportStatus.CONFIRMED
        roles = session.scalars(
            select(RoleAssignment).where(
                RoleAssignment.user_id == ids[3], RoleAssignment.role == Role.PARTY_MEMBER
            )
        ).all()
        assert len(roles) == 1
