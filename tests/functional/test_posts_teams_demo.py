"""Posts and teams demo seeds: realistic content on the demo world, idempotent, and
within the rules (places, caps, one leader per team)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.demo import seed_demo
from portal.posts import demo as posts_demo
from portal.teams import demo as teams_demo
from portal.volunteering.posts import PostClaim, ServicePost
from portal.volunteering.teams import Team, TeamMembership, TeamRole


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_seeds_are_idempotent_and_keep_the_rules(app, session):
    with app.app_context():
        seed_demo(session)
        runs = []
        for _ in range(2):
            posts_demo.seed(session)
            teams_demo.seed(session)
            runs.append([_count(session, m) for m in (ServicePost, PostClaim, Team, TeamMembership)])
        assert runs[0] == runs[1] == [9, 7, 4, 9]
    titles = set(session.scalars(select(ServicePost.title)))
    assert {"宣传员", "调解员", "楼栋长", "网格员"} <= titles
    for post in session.scalars(select(ServicePost)):
        live = session.scalar(
            select(func.count())
            .select_from(PostClaim)
            .where(PostClaim.post_id == post.id, PostClaim.status.in_(["pending", "active"]))
        )
        assert live <= post.places
    per_person = session.execute(select(PostClaim.user_id, func.count()).group_by(PostClaim.user_id)).all()
    assert max(n for _u, n in per_person) <= 2
    for team in session.scalars(select(Team)):
        leaders = session.scalar(
            select(func.count())
            .select_from(TeamMembership)
            .where(TeamMembership.team_id == team.id, TeamMembership.role == TeamRole.LEADER)
        )
        assert leaders == 1
    per_member = session.execute(
        select(TeamMembership.user_id, func.count()).group_by(TeamMembership.user_id)
    ).all()
    assert max(n for _u, n in per_member) <= 2


def test_seeds_without_demo_world_do_nothing(app, session):
    with app.app_context():
        posts_demo.seed(session)
        teams_demo.seed(session)
    assert _count(session, ServicePost) == 0 and _count(session, Team) == 0
