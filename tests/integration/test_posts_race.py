"""Claims and joins by real, committing transactions racing each other (threads, one
session each, on a fresh database with the full schema): places are never overbooked and
the per-person caps hold. Runs on PostgreSQL (row locks) and SQLite (BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import portal.models  # noqa: F401
from core.db import Base, make_engine, make_session_factory
from portal.errors import Conflict
from portal.people.models import User
from portal.posts import services as posts
from portal.settings.models import CommunitySettings
from portal.teams import services as teams
from portal.volunteering.posts import PostClaim
from portal.volunteering.teams import TeamMembership
from tests.factories import make_community, make_post, make_team, make_user

pytestmark = pytest.mark.slow


@pytest.fixture()
def factory(backend, fresh_database):
    engine = make_engine(fresh_database(backend))
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _race(factory: sessionmaker[Session], work: Callable[[Session, int], object], n: int) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with factory() as session:
            barrier.wait()
            try:
                work(session, i)
                session.commit()
                result = "ok"
            except Conflict as exc:
                session.rollback()
                result = exc.code
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(outcomes)


def test_many_people_claim_the_last_places(factory):
    n, places = 8, 2
    with factory() as session:
        community = make_community(session)
        post = make_post(session, community, places=places)
        people = [make_user(session, community=community) for _ in range(n)]
        ids = (post.id, [p.id for p in people])
        session.commit()

    def claim(session: Session, i: int) -> None:
        posts.claim_post(session, session.get(User, ids[1][i]), ids[0])

    outcomes = _race(factory, claim, n)
    assert outcomes.count("ok") == places
    assert outcomes.count("post_full") == n - places
    with factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(PostClaim)
                .where(PostClaim.post_id == ids[0], PostClaim.status == "active")
            )
            == places
        )


def test_one_person_races_claims_beyond_the_cap(factory):
    n, cap = 5, 2
    with factory() as session:
        community = make_community(session)
        session.add(CommunitySettings(community_id=community.id, post_claim_cap=cap))
        post_ids = [make_post(session, community, title=f"岗位{i}", places=3).id for i in range(n)]
        person = make_user(session, community=community)
        ids = (person.id, post_ids)
        session.commit()

    def claim(session: Session, i: int) -> None:
        posts.claim_post(session, session.get(User, ids[0]), ids[1][i])

    outcomes = _race(factory, claim, n)
    assert outcomes.count("ok") == cap
    assert outcomes.count("claim_cap") == n - cap
    with factory() as session:
        assert posts.live_claim_count(session, ids[0], session.get(User, ids[0]).community_id) == cap


def test_one_person_races_joins_beyond_the_team_cap(factory):
    n, cap = 4, 2
    with factory() as session:
        community = make_community(session)
        session.add(CommunitySettings(community_id=community.id, team_cap=cap))
        leader = make_user(session, community=community)
        team_ids = [make_team(session, community, leader=leader).id for _ in range(n)]
        person = make_user(session, community=community)
        ids = (person.id, team_ids)
        session.commit()

    def join(session: Session, i: int) -> None:
        teams.join_team(session, session.get(User, ids[0]), ids[1][i])

    outcomes = _race(factory, join, n)
    assert outcomes.count("ok") == cap and outcomes.count("team_cap") == n - cap
    with factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(TeamMembership)
                .where(TeamMembership.user_id == ids[0], TeamMembership.left_at.is_(None))
            )
            == cap
        )


def test_two_leaders_leave_at_once_one_stays(factory):
    with factory() as session:
        community = make_community(session)
        a, b, m = (make_user(session, community=community) for _ in range(3))
        team = make_team(session, community, leader=a, members=[m])
        session.add(TeamMembership(team_id=team.id, user_id=b.id, community_id=community.id, role="leader"))
        ids = (team.id, [a.id, b.id])
        session.commit()

    def step_down(session: Session, i: int) -> None:
        teams.step_down(session, session.get(User, ids[1][i]), ids[0])

    assert _race(factory, step_down, 2) == ["last_leader", "ok"]
