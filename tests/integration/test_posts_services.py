"""服务岗位 rules at the service layer (SQLite and PostgreSQL): claim cap, places,
closed posts, double claims, other communities, approval and self-approval, withdraw,
release, edits, refusals audited, DB backstops."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.notifications.models import Notification
from portal.people.models import Role
from portal.posts import services as svc
from portal.settings.models import CommunitySettings
from portal.volunteering import rules
from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus
from tests.factories import make_community, make_post, make_street, make_user


@pytest.fixture()
def w(session):
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=street)
    return {
        "a": a,
        "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff2": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "vol": make_user(session, community=a),
        "vol2": make_user(session, community=a),
        "outsider": make_user(session, community=b),
        # Lives elsewhere but reported here as a party member: may claim here.
        "member": make_user(session, community=b, roles=((Role.PARTY_MEMBER, a),)),
    }


def _settings(session, community, **values):
    row = session.get(CommunitySettings, community.id) or CommunitySettings(community_id=community.id)
    for k, v in values.items():
        setattr(row, k, v)
    session.add(row)
    session.flush()


def _refused(session, action, actor):
    return session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == "refused", AuditEvent.actor_id == actor.id
        )
    ).all()


def _live(session, post):
    return session.scalars(
        select(PostClaim).where(PostClaim.post_id == post.id, PostClaim.status.in_(["pending", "active"]))
    ).all()


def test_claim_is_active_at_once_without_approval(session, w):
    post = make_post(session, w["a"], places=2)
    claim = svc.claim_post(session, w["vol"], post.id)
    assert claim.status == ClaimStatus.ACTIVE and claim.community_id == w["a"].id
    assert [c.id for c in rules.active_claims(session, w["vol"].id)] == [claim.id]
    assert [c.id for c in svc.my_claims(session, w["vol"].id)] == [claim.id]


def test_party_member_reported_here_may_claim(session, w):
    post = make_post(session, w["a"])
    assert svc.claim_post(session, w["member"], post.id).status == ClaimStatus.ACTIVE


def test_claim_cap_counts_pending_and_active(session, w):
    _settings(session, w["a"], post_claim_cap=2, post_claim_needs_approval=True)
    posts = [make_post(session, w["a"], title=f"岗位{i}") for i in range(3)]
    first = svc.claim_post(session, w["vol"], posts[0].id)
    assert first.status == ClaimStatus.PENDING
    svc.approve_claim(session, w["staff"], first.id)
    svc.claim_post(session, w["vol"], posts[1].id)  # pending counts too
    with pytest.raises(Conflict) as exc:
        svc.claim_post(session, w["vol"], posts[2].id)
    assert exc.value.code == "claim_cap"
    assert _live(session, posts[2]) == []
    assert len(_refused(session, "posts.claim", w["vol"])) == 1
    # Withdrawing frees a slot.
    svc.withdraw_claim(session, w["vol"], first.id)
    svc.claim_post(session, w["vol"], posts[2].id)


def test_cap_of_one(session, w):
    _settings(session, w["a"], post_claim_cap=1)
    p1, p2 = make_post(session, w["a"]), make_post(session, w["a"], title="调解员")
    svc.claim_post(session, w["vol"], p1.id)
    with pytest.raises(Conflict, match="1"):
        svc.claim_post(session, w["vol"], p2.id)


def test_full_post_is_not_overbooked(session, w):
    post = make_post(session, w["a"], places=1)
    svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(Conflict) as exc:
        svc.claim_post(session, w["vol2"], post.id)
    assert exc.value.code == "post_full"
    assert len(_live(session, post)) == 1


def test_closed_post_cannot_be_claimed(session, w):
    post = make_post(session, w["a"], status=PostStatus.CLOSED)
    with pytest.raises(Conflict) as exc:
        svc.claim_post(session, w["vol"], post.id)
    assert exc.value.code == "post_closed"


def test_claiming_twice_is_refused(session, w):
    post = make_post(session, w["a"], places=3)
    svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(Conflict) as exc:
        svc.claim_post(session, w["vol"], post.id)
    assert exc.value.code == "already_claimed"
    assert len(_live(session, post)) == 1


def test_other_community_and_forged_ids(session, w):
    post = make_post(session, w["a"])
    with pytest.raises(Forbidden):
        svc.claim_post(session, w["outsider"], post.id)
    with pytest.raises(NotFound):
        svc.claim_post(session, w["vol"], 987654)
    refusals = _refused(session, "posts.claim", w["outsider"])
    assert len(refusals) == 1 and refusals[0].community_id == w["a"].id
    assert refusals[0].detail["code"] == "other_community"
    assert _live(session, post) == []


def test_approve_in_other_community_is_refused(session, w):
    _settings(session, w["a"], post_claim_needs_approval=True)
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(Forbidden):
        svc.approve_claim(session, w["staff_b"], claim.id)
    with pytest.raises(Forbidden):
        svc.approve_claim(session, w["vol2"], claim.id)
    assert session.get(PostClaim, claim.id).status == ClaimStatus.PENDING
    assert len(_refused(session, "posts.approve", w["staff_b"])) == 1


def test_staff_cannot_approve_their_own_claim(session, w):
    _settings(session, w["a"], post_claim_needs_approval=True)
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["staff"], post.id)
    with pytest.raises(Forbidden) as exc:
        svc.approve_claim(session, w["staff"], claim.id)
    assert exc.value.code == "self_decision"
    assert session.get(PostClaim, claim.id).status == ClaimStatus.PENDING
    assert _refused(session, "posts.approve", w["staff"])[0].detail["code"] == "self_decision"
    # Another staff member may.
    assert svc.approve_claim(session, w["staff2"], claim.id).decided_by_id == w["staff2"].id


def test_self_decision_blocked_by_database(session, w):
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["staff"], post.id)
    claim.decided_by_id = w["staff"].id
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.flush()


def test_double_live_claim_blocked_by_database(session, w):
    post = make_post(session, w["a"], places=5)
    svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                PostClaim(
                    post_id=post.id, user_id=w["vol"].id, community_id=w["a"].id, status=ClaimStatus.PENDING
                )
            )
            session.flush()


def test_reject_needs_note_and_notifies(session, w):
    _settings(session, w["a"], post_claim_needs_approval=True)
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(ServiceError) as exc:
        svc.reject_claim(session, w["staff"], claim.id, "  ")
    assert exc.value.status == 400
    svc.reject_claim(session, w["staff"], claim.id, "该岗位需要有调解经验")
    claim = session.get(PostClaim, claim.id)
    assert claim.status == ClaimStatus.REJECTED and claim.note == "该岗位需要有调解经验"
    note = session.scalars(select(Notification).where(Notification.user_id == w["vol"].id)).one()
    assert note.kind == "posts.rejected"
    # A rejected claim frees the place and does not count to the cap.
    svc.claim_post(session, w["vol2"], post.id)
    with pytest.raises(Conflict):
        svc.approve_claim(session, w["staff"], claim.id)


def test_approve_twice_and_notification(session, w):
    _settings(session, w["a"], post_claim_needs_approval=True)
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["vol"], post.id)
    svc.approve_claim(session, w["staff"], claim.id)
    with pytest.raises(Conflict):
        svc.approve_claim(session, w["staff2"], claim.id)
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == w["vol"].id)).all()
    assert kinds == ["posts.approved"]


def test_release_frees_the_place(session, w):
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(Forbidden):
        svc.release_claim(session, w["staff_b"], claim.id)
    svc.release_claim(session, w["staff"], claim.id, "搬离本社区")
    assert session.get(PostClaim, claim.id).status == ClaimStatus.RELEASED
    assert session.scalars(select(Notification.kind).where(Notification.user_id == w["vol"].id)).all() == [
        "posts.released"
    ]
    svc.claim_post(session, w["vol2"], post.id)
    with pytest.raises(Conflict):
        svc.release_claim(session, w["staff"], claim.id)


def test_withdraw_only_own_live_claim(session, w):
    post = make_post(session, w["a"])
    claim = svc.claim_post(session, w["vol"], post.id)
    with pytest.raises(NotFound):
        svc.withdraw_claim(session, w["vol2"], claim.id)
    svc.withdraw_claim(session, w["vol"], claim.id)
    with pytest.raises(Conflict):
        svc.withdraw_claim(session, w["vol"], claim.id)
    # Claiming again after withdrawing is allowed (the unique index covers live claims only).
    svc.claim_post(session, w["vol"], post.id)


def test_create_edit_close_reopen(session, w):
    grid_id = None
    post = svc.create_post(
        session,
        w["staff"],
        w["a"].id,
        svc.PostInput(
            title=" 楼栋长 ",
            duties="收集楼内居民诉求",
            schedule="每周一次",
            places=2,
            point_rule="duty",
            points=20,
            grid_id=grid_id,
        ),
    )
    assert post.title == "楼栋长" and post.points_per_duty == 20 and post.points_per_hour is None
    with pytest.raises(Forbidden):
        svc.create_post(session, w["staff_b"], w["a"].id, svc.PostInput(title="x"))
    with pytest.raises(Forbidden):
        svc.create_post(session, w["vol"], w["a"].id, svc.PostInput(title="x"))
    for bad in (
        svc.PostInput(title=""),
        svc.PostInput(title="x", places=0),
        svc.PostInput(title="x", places=9999),
        svc.PostInput(title="x", points=-1),
        svc.PostInput(title="x", point_rule="weird"),
        svc.PostInput(title="x" * 61),
    ):
        with pytest.raises(ServiceError) as exc:
            svc.create_post(session, w["staff"], w["a"].id, bad)
        assert exc.value.status == 400
    svc.claim_post(session, w["vol"], post.id)
    svc.claim_post(session, w["vol2"], post.id)
    with pytest.raises(Conflict):
        svc.update_post(session, w["staff"], post.id, svc.PostInput(title="楼栋长", places=1))
    svc.update_post(
        session, w["staff"], post.id, svc.PostInput(title="楼栋长", places=3, point_rule="hour", points=12)
    )
    assert post.places == 3 and post.points_per_hour == 12 and post.points_per_duty is None
    svc.set_post_status(session, w["staff"], post.id, PostStatus.CLOSED)
    with pytest.raises(Conflict):
        svc.set_post_status(session, w["staff"], post.id, PostStatus.CLOSED)
    # Holders keep the post when it closes.
    assert len(_live(session, post)) == 2
    svc.set_post_status(session, w["staff"], post.id, PostStatus.OPEN)
    with pytest.raises(Forbidden):
        svc.set_post_status(session, w["staff_b"], post.id, PostStatus.CLOSED)


def test_grid_and_building_must_belong_to_community(session, w):
    from portal.places.models import Building, Grid

    ga = Grid(community_id=w["a"].id, name="第一网格")
    gb = Grid(community_id=w["b"].id, name="东片网格")
    session.add_all([ga, gb])
    session.flush()
    ba = Building(grid_id=ga.id, community_id=w["a"].id, name="1号楼")
    bb = Building(grid_id=gb.id, community_id=w["b"].id, name="东1栋")
    session.add_all([ba, bb])
    session.flush()
    with pytest.raises(ServiceError):
        svc.create_post(session, w["staff"], w["a"].id, svc.PostInput(title="楼栋长", grid_id=gb.id))
    with pytest.raises(ServiceError):
        svc.create_post(session, w["staff"], w["a"].id, svc.PostInput(title="楼栋长", building_id=bb.id))
    post = svc.create_post(session, w["staff"], w["a"].id, svc.PostInput(title="楼栋长", building_id=ba.id))
    assert post.grid_id == ga.id and post.building_id == ba.id


def test_open_posts_lists_places_left_and_marks_mine(session, w):
    full = make_post(session, w["a"], title="满员岗位", places=1)
    mine = make_post(session, w["a"], title="我的岗位", places=1)
    free = make_post(session, w["a"], title="空闲岗位", places=2)
    make_post(session, w["a"], title="已关闭", status=PostStatus.CLOSED)
    make_post(session, w["b"], title="别的社区")
    svc.claim_post(session, w["vol2"], full.id)
    svc.claim_post(session, w["vol"], mine.id)
    rows = svc.open_posts(session, w["vol"], w["a"].id)
    assert [r.post.title for r in rows] == ["我的岗位", "空闲岗位"]
    assert rows[0].my_claim is not None and rows[1].places_left == 2
    with pytest.raises(Forbidden):
        svc.open_posts(session, w["outsider"], w["a"].id)
    assert free.id
