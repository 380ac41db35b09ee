"""Posts and teams over HTTP (SQLite and PostgreSQL): pages render, every refusal is a 4xx
with a clear message, nothing changes and the refusal is audited; no state change on GET;
CSRF required; the "我的" page shows my claims."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.people.models import Role
from portal.settings.models import CommunitySettings
from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost
from portal.volunteering.teams import Team, TeamMembership
from tests.conftest import make_test_app
from tests.factories import login, make_community, make_post, make_street, make_team, make_user


@pytest.fixture()
def w(session):
    street = make_street(session)
    a = make_community(session, street=street, name="幸福里社区")
    b = make_community(session, street=street, name="和平路社区")
    return {
        "a": a,
        "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,), display_name="李秀梅"),
        "staff2": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "vol": make_user(session, community=a, display_name="王建华", phone="13812345678"),
        "vol2": make_user(session, community=a, display_name="张丽娟"),
        "outsider": make_user(session, community=b),
    }


@pytest.fixture()
def en(client):
    client.set_cookie("fufen_lang", "en")
    return client


def _refusals(session, actor, action=None):
    session.expire_all()
    stmt = select(AuditEvent).where(AuditEvent.outcome == "refused", AuditEvent.actor_id == actor.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return session.scalars(stmt).all()


def _claims(session, **where):
    session.expire_all()
    return session.scalars(select(PostClaim).filter_by(**where)).all()


def _approval(session, community, on=True, cap=2):
    session.add(
        CommunitySettings(community_id=community.id, post_claim_needs_approval=on, post_claim_cap=cap)
    )
    session.flush()


# --- posts: volunteer ------------------------------------------------------------------------


def test_post_list_and_claim_flow(en, session, w):
    post = make_post(session, w["a"], title="宣传员", places=2, schedule="每周六上午")
    make_post(session, w["b"], title="别处的岗位")
    login(en, w["vol"])
    page = en.get("/posts/").get_data(as_text=True)
    assert "宣传员" in page and "别处的岗位" not in page and "2 of 2 places left" in page
    assert en.get(f"/posts/{post.id}").status_code == 200
    assert _claims(session) == []  # GET changed nothing
    resp = en.post(f"/posts/{post.id}/claim")
    assert resp.status_code == 302
    claim = _claims(session, user_id=w["vol"].id)[0]
    assert claim.status == ClaimStatus.ACTIVE
    page = en.get("/posts/").get_data(as_text=True)
    assert "Claimed" in page and "1 of 2 places left" in page
    # The "Me" page shows the claim.
    assert "宣传员" in en.get("/accounts/me").get_data(as_text=True)
    # Claim twice: 409, clear message, nothing changed, audited.
    resp = en.post(f"/posts/{post.id}/claim")
    assert resp.status_code == 409 and "already claimed" in resp.get_data(as_text=True)
    assert len(_claims(session, user_id=w["vol"].id)) == 1
    assert len(_refusals(session, w["vol"], "posts.claim")) == 1
    # Withdraw.
    assert en.post(f"/posts/claims/{claim.id}/withdraw").status_code == 302
    assert _claims(session, id=claim.id)[0].status == ClaimStatus.WITHDRAWN


def test_claim_refusals(en, session, w):
    _approval(session, w["a"], on=False, cap=1)
    full = make_post(session, w["a"], title="满员", places=1)
    closed = make_post(session, w["a"], title="关闭", status=PostStatus.CLOSED)
    other = make_post(session, w["b"], title="别处")
    spare = make_post(session, w["a"], title="空闲", places=3)
    session.add(
        PostClaim(post_id=full.id, user_id=w["vol2"].id, community_id=w["a"].id, status=ClaimStatus.ACTIVE)
    )
    session.flush()
    login(en, w["vol"])
    cases = [
        (full.id, 409, "All places of this post are taken"),
        (closed.id, 409, "This post is closed"),
        (other.id, 403, "only claim posts in your own community"),
        (999999, 404, None),
    ]
    for post_id, status, text in cases:
        resp = en.post(f"/posts/{post_id}/claim")
        assert resp.status_code == status, post_id
        if text:
            assert text in resp.get_data(as_text=True)
    assert _claims(session, user_id=w["vol"].id) == []
    assert len(_refusals(session, w["vol"], "posts.claim")) == 4
    # Beyond the cap (1).
    assert en.post(f"/posts/{spare.id}/claim").status_code == 302
    resp = en.post(f"/posts/{make_post(session, w['a'], title='第二个').id}/claim")
    assert resp.status_code == 409 and "the most this community allows" in resp.get_data(as_text=True)
    assert len(_claims(session, user_id=w["vol"].id)) == 1


def test_withdraw_someone_elses_claim_is_404(en, session, w):
    post = make_post(session, w["a"])
    claim = PostClaim(
        post_id=post.id, user_id=w["vol2"].id, community_id=w["a"].id, status=ClaimStatus.ACTIVE
    )
    session.add(claim)
    session.flush()
    login(en, w["vol"])
    assert en.post(f"/posts/claims/{claim.id}/withdraw").status_code == 404
    assert _claims(session, id=claim.id)[0].status == ClaimStatus.ACTIVE


# --- posts: staff -------------------------------------------------------------------------------


def test_staff_create_edit_close(en, session, w):
    login(en, w["staff"])
    assert en.get(f"/community/{w['a'].id}/posts").status_code == 200
    assert en.get(f"/community/{w['a'].id}/posts/new").status_code == 200
    data = {
        "title": "调解员",
        "duties": "调解邻里纠纷",
        "schedule": "随叫随到",
        "places": "2",
        "point_rule": "duty",
        "points": "15",
        "grid_id": "0",
        "building_id": "0",
    }
    resp = en.post(f"/community/{w['a'].id}/posts/new", data=data)
    assert resp.status_code == 302
    post = session.scalars(select(ServicePost).where(ServicePost.title == "调解员")).one()
    assert post.points_per_duty == 15 and post.created_by_id == w["staff"].id
    # Bad input: 400 with the message, nothing added.
    resp = en.post(f"/community/{w['a'].id}/posts/new", data={**data, "title": "坏的", "places": "0"})
    assert resp.status_code == 400
    assert (
        session.scalar(select(func.count()).select_from(ServicePost).where(ServicePost.title == "坏的")) == 0
    )
    assert en.get(f"/posts/{post.id}/edit").status_code == 200
    assert en.post(f"/posts/{post.id}/edit", data={**data, "places": "5"}).status_code == 302
    session.expire_all()
    assert session.get(ServicePost, post.id).places == 5
    assert en.post(f"/posts/{post.id}/close").status_code == 302
    session.expire_all()
    assert session.get(ServicePost, post.id).status == PostStatus.CLOSED
    assert en.post(f"/posts/{post.id}/close").status_code == 409
    assert en.post(f"/posts/{post.id}/reopen").status_code == 302


def test_staff_pages_refused_elsewhere(en, session, w):
    post = make_post(session, w["a"])
    login(en, w["staff_b"])
    a = w["a"].id
    for url in (
        f"/community/{a}/posts",
        f"/community/{a}/posts/new",
        f"/community/{a}/posts/claims",
        f"/posts/{post.id}/edit",
    ):
        assert en.get(url).status_code == 403, url
    assert en.post(f"/posts/{post.id}/close").status_code == 403
    assert (
        en.post(
            f"/community/{a}/posts/new",
            data={"title": "x", "places": "1", "point_rule": "none", "grid_id": "0", "building_id": "0"},
        ).status_code
        == 403
    )
    assert len(_refusals(session, w["staff_b"])) == 6
    session.expire_all()
    assert session.get(ServicePost, post.id).status == PostStatus.OPEN
    en.post("/accounts/logout")
    login(en, w["vol"])
    assert en.get(f"/community/{a}/posts").status_code == 403


def test_claims_queue_approve_reject_release(en, session, w):
    _approval(session, w["a"], on=True)
    post = make_post(session, w["a"], title="楼栋长", places=3)
    c1, c2, own = (
        PostClaim(post_id=post.id, user_id=u.id, community_id=w["a"].id, status=ClaimStatus.PENDING)
        for u in (w["vol"], w["vol2"], w["staff"])
    )
    session.add_all([c1, c2, own])
    session.flush()
    login(en, w["staff"])
    page = en.get(f"/community/{w['a'].id}/posts/claims").get_data(as_text=True)
    assert "王建华" in page and "138****5678" in page and "13812345678" not in page
    assert en.post(f"/posts/claims/{c1.id}/approve").status_code == 302
    # Reject needs a reason.
    resp = en.post(f"/posts/claims/{c2.id}/reject", data={"note": ""})
    assert resp.status_code == 400 and "Note is required" in resp.get_data(as_text=True)
    assert en.post(f"/posts/claims/{c2.id}/reject", data={"note": "名额已满"}).status_code == 302
    # No self-approval.
    resp = en.post(f"/posts/claims/{own.id}/approve")
    assert resp.status_code == 403 and "cannot decide your own claim" in resp.get_data(as_text=True)
    assert len(_refusals(session, w["staff"], "posts.approve")) == 1
    assert en.post(f"/posts/claims/{c1.id}/release", data={"note": "已搬走"}).status_code == 302
    session.expire_all()
    assert [session.get(PostClaim, c.id).status for c in (c1, c2, own)] == [
        ClaimStatus.RELEASED,
        ClaimStatus.REJECTED,
        ClaimStatus.PENDING,
    ]
    # Another community's staff cannot approve it; forged id is 404.
    en.post("/accounts/logout")
    login(en, w["staff_b"])
    assert en.post(f"/posts/claims/{own.id}/approve").status_code == 403
    assert en.post("/posts/claims/987654/approve").status_code == 404
    session.expire_all()
    assert session.get(PostClaim, own.id).status == ClaimStatus.PENDING


# --- teams ----------------------------------------------------------------------------------------


def test_team_flow(en, session, w):
    login(en, w["vol"])
    assert en.get("/teams/").status_code == 200
    assert en.get("/teams/new").status_code == 200
    resp = en.post("/teams/new", data={"name": "夕阳红巡逻队", "description": "每晚七点巡逻"})
    assert resp.status_code == 302
    team = session.scalars(select(Team).where(Team.name == "夕阳红巡逻队")).one()
    assert team.community_id == w["a"].id
    # Duplicate name: 409, nothing added.
    assert en.post("/teams/new", data={"name": "夕阳红巡逻队"}).status_code == 409
    en.post("/accounts/logout")
    login(en, w["vol2"])
    page = en.get(f"/teams/{team.id}").get_data(as_text=True)
    assert "王建华" in page and "138****5678" in page and "13812345678" not in page
    assert en.post(f"/teams/{team.id}/join").status_code == 302
    resp = en.post(f"/teams/{team.id}/join")
    assert resp.status_code == 409 and "already a member" in resp.get_data(as_text=True)
    assert len(_refusals(session, w["vol2"], "teams.join")) == 1
    # A member cannot appoint leaders.
    assert en.post(f"/teams/{team.id}/members/{w['vol2'].id}/leader").status_code == 403
    en.post("/accounts/logout")
    # The only leader cannot leave while others remain.
    login(en, w["vol"])
    resp = en.post(f"/teams/{team.id}/leave")
    assert resp.status_code == 409 and "only leader" in resp.get_data(as_text=True)
    assert (
        en.post(f"/teams/{team.id}/members/{w['vol2'].id}/leader", data={"step_down": "1"}).status_code == 302
    )
    assert en.post(f"/teams/{team.id}/leave").status_code == 302
    session.expire_all()
    live = session.scalars(
        select(TeamMembership).where(TeamMembership.team_id == team.id, TeamMembership.left_at.is_(None))
    ).all()
    assert [(m.user_id, m.role.value) for m in live] == [(w["vol2"].id, "leader")]


def test_team_refusals_and_staff_view(en, session, w):
    session.add(CommunitySettings(community_id=w["a"].id, team_cap=1))
    session.flush()
    t1 = make_team(session, w["a"], leader=w["vol"])
    t2 = make_team(session, w["a"], leader=w["staff2"])
    login(en, w["outsider"])
    assert en.get(f"/teams/{t1.id}").status_code == 403
    assert en.post(f"/teams/{t1.id}/join").status_code == 403
    assert en.post("/teams/424242/join").status_code == 404
    en.post("/accounts/logout")
    login(en, w["vol"])
    resp = en.post(f"/teams/{t2.id}/join")
    assert resp.status_code == 409 and "the most this community allows" in resp.get_data(as_text=True)
    en.post("/accounts/logout")
    login(en, w["staff"])
    assert "13812345678" in en.get(f"/teams/{t1.id}").get_data(as_text=True)  # staff see the full number
    assert en.post(f"/teams/{t1.id}/close").status_code == 302
    session.expire_all()
    assert session.get(Team, t1.id).is_active is False


# --- CSRF -------------------------------------------------------------------------------------------


@pytest.fixture()
def csrf_client(db_url, engine, connection):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, WTF_CSRF_ENABLED=True
    )
    return app.test_client()


def test_claim_needs_csrf(csrf_client, session, w):
    post = make_post(session, w["a"])
    client = csrf_client
    page = client.get("/accounts/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/accounts/login", data={"phone": w["vol"].phone, "password": "Correct-Horse-9", "csrf_token": token}
    )
    assert client.post(f"/posts/{post.id}/claim").status_code == 400
    assert _claims(session) == []
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/posts/{post.id}/claim", data={"csrf_token": token}).status_code == 302
    assert len(_claims(session)) == 1


def test_team_page_lists_team_activities(en, session, w):
    import datetime as dt

    from core.db import utcnow

    activities = pytest.importorskip("portal.volunteering.activities")
    team = make_team(session, w["a"], leader=w["vol"])
    start = utcnow() + dt.timedelta(days=2)
    for title, team_id in (("楼道大扫除", team.id), ("别队的活动", None)):
        session.add(
            activities.Activity(
                community_id=w["a"].id,
                team_id=team_id,
                title=title,
                place="小区南门",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=2),
                capacity=5,
                signup_deadline=start,
                leader_id=w["vol"].id,
                created_by_id=w["staff"].id,
                code_secret="ab" * 16,
            )
        )
    session.flush()
    login(en, w["vol2"])
    page = en.get(f"/teams/{team.id}").get_data(as_text=True)
    assert "楼道大扫除" in page and "别队的活动" not in page
