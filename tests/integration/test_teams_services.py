"""志愿队伍 rules at the service layer (SQLite and PostgreSQL): create, join (cap, twice,
other community, closed team), leave (last leader), leaders (hand-over, staff appoint,
step down), close, masking, refusals audited, functions other tracks call."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.notifications.models import Notification
from portal.people.models import Role
from portal.settings.models import CommunitySettings
from portal.teams import services as svc
from portal.volunteering import rules
from portal.volunteering.teams import TeamMembership, TeamRole
from tests.factories import make_community, make_street, make_team, make_user


@pytest.fixture()
def w(session):
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=street)
    return {
        "a": a,
        "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "lead": make_user(session, community=a, phone="13811112222"),
        "vol": make_user(session, community=a),
        "vol2": make_user(session, community=a),
        "outsider": make_user(session, community=b),
    }


def _refused(session, action, actor):
    return session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == "refused", AuditEvent.actor_id == actor.id
        )
    ).all()


def test_create_makes_creator_leader(session, w):
    team = svc.create_team(session, w["lead"], w["a"].id, " 夕阳红巡逻队 ", "每晚巡逻")
    assert team.name == "夕阳红巡逻队"
    assert rules.is_team_leader(session, w["lead"].id, team.id)
    assert rules.active_team_ids(session, w["lead"].id) == [team.id]
    with pytest.raises(Conflict):
        svc.create_team(session, w["vol"], w["a"].id, "夕阳红巡逻队")
    with pytest.raises(Forbidden):
        svc.create_team(session, w["outsider"], w["a"].id, "外来队")
    with pytest.raises(ServiceError):
        svc.create_team(session, w["vol"], w["a"].id, "   ")
    with pytest.raises(NotFound):
        svc.create_team(session, w["vol"], 99999, "无社区")


def test_join_notifies_leaders_and_refuses_twice(session, w):
    team = make_team(session, w["a"], leader=w["lead"])
    svc.join_team(session, w["vol"], team.id)
    assert not rules.is_team_leader(session, w["vol"].id, team.id)
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == w["lead"].id)).all()
    assert kinds == ["teams.joined"]
    with pytest.raises(Conflict) as exc:
        svc.join_team(session, w["vol"], team.id)
    assert exc.value.code == "already_member"
    assert len(_refused(session, "teams.join", w["vol"])) == 1


def test_team_cap(session, w):
    row = CommunitySettings(community_id=w["a"].id, team_cap=2)
    session.add(row)
    session.flush()
    teams = [make_team(session, w["a"], leader=w["lead"]) for _ in range(3)]
    svc.join_team(session, w["vol"], teams[0].id)
    svc.join_team(session, w["vol"], teams[1].id)
    with pytest.raises(Conflict) as exc:
        svc.join_team(session, w["vol"], teams[2].id)
    assert exc.value.code == "team_cap"
    # Creating a team counts too.
    with pytest.raises(Conflict):
        svc.create_team(session, w["vol"], w["a"].id, "第三支队")
    svc.leave_team(session, w["vol"], teams[0].id)
    svc.join_team(session, w["vol"], teams[2].id)
    assert sorted(rules.active_team_ids(session, w["vol"].id)) == sorted([teams[1].id, teams[2].id])


def test_join_other_community_and_forged(session, w):
    team = make_team(session, w["a"], leader=w["lead"])
    with pytest.raises(Forbidden):
        svc.join_team(session, w["outsider"], team.id)
    with pytest.raises(NotFound):
        svc.join_team(session, w["vol"], 424242)
    refusal = _refused(session, "teams.join", w["outsider"])[0]
    assert refusal.community_id == w["a"].id and refusal.detail["code"] == "other_community"


def test_last_leader_cannot_leave_with_members(session, w):
    team = make_team(session, w["a"], leader=w["lead"], members=[w["vol"]])
    with pytest.raises(Conflict) as exc:
        svc.leave_team(session, w["lead"], team.id)
    assert exc.value.code == "last_leader"
    with pytest.raises(Conflict):
        svc.step_down(session, w["lead"], team.id)
    # Hand over and step down, then leave.
    svc.make_leader(session, w["lead"], team.id, w["vol"].id, step_down=True)
    assert rules.is_team_leader(session, w["vol"].id, team.id)
    assert not rules.is_team_leader(session, w["lead"].id, team.id)
    svc.leave_team(session, w["lead"], team.id)
    with pytest.raises(Conflict):
        svc.leave_team(session, w["lead"], team.id)
    # The only member, also the only leader, may leave; the next joiner leads.
    svc.leave_team(session, w["vol"], team.id)
    svc.join_team(session, w["vol2"], team.id)
    assert rules.is_team_leader(session, w["vol2"].id, team.id)


def test_who_may_appoint_leaders(session, w):
    team = make_team(session, w["a"], leader=w["lead"], members=[w["vol"], w["vol2"]])
    with pytest.raises(Forbidden):
        svc.make_leader(session, w["vol"], team.id, w["vol2"].id)
    with pytest.raises(Forbidden):
        svc.make_leader(session, w["staff_b"], team.id, w["vol2"].id)
    with pytest.raises(ServiceError):
        svc.make_leader(session, w["staff"], team.id, w["outsider"].id)
    svc.make_leader(session, w["staff"], team.id, w["vol2"].id)
    assert rules.is_team_leader(session, w["vol2"].id, team.id)
    with pytest.raises(Conflict):
        svc.make_leader(session, w["staff"], team.id, w["vol2"].id)
    # Two leaders now: one may step down.
    svc.step_down(session, w["lead"], team.id)
    assert not rules.is_team_leader(session, w["lead"].id, team.id)
    assert session.scalars(select(Notification.kind).where(Notification.user_id == w["vol2"].id)).all() == [
        "teams.leader"
    ]


def test_close_team(session, w):
    team = make_team(session, w["a"], leader=w["lead"], members=[w["vol"]])
    with pytest.raises(Forbidden):
        svc.close_team(session, w["lead"], team.id)
    svc.close_team(session, w["staff"], team.id)
    assert rules.active_team_ids(session, w["vol"].id) == []
    with pytest.raises(Conflict) as exc:
        svc.join_team(session, w["vol2"], team.id)
    assert exc.value.code == "team_closed"


def test_team_page_masks_phones_except_for_staff(session, w):
    team = make_team(session, w["a"], leader=w["lead"], members=[w["vol"]])
    page = svc.team_page(session, w["vol"], team.id)
    lead = next(m for m in page.members if m.is_leader)
    assert lead.phone == "138****2222" and not page.is_staff and page.mine is not None
    page = svc.team_page(session, w["staff"], team.id)
    assert next(m for m in page.members if m.is_leader).phone == "13811112222"
    with pytest.raises(Forbidden):
        svc.team_page(session, w["outsider"], team.id)
    with pytest.raises(Forbidden):
        svc.team_page(session, w["staff_b"], team.id)


def test_double_live_membership_blocked_by_database(session, w):
    team = make_team(session, w["a"], leader=w["lead"])
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                TeamMembership(
                    team_id=team.id, user_id=w["lead"].id, community_id=w["a"].id, role=TeamRole.MEMBER
                )
            )
            session.flush()


def test_community_teams_lists_mine(session, w):
    t1 = make_team(session, w["a"], name="环境整治队", leader=w["lead"], members=[w["vol"]])
    make_team(session, w["a"], name="文艺宣传队", leader=w["vol2"])
    make_team(session, w["b"], name="别的社区队")
    rows = svc.community_teams(session, w["vol"], w["a"].id)
    assert [r.team.name for r in rows] == ["环境整治队", "文艺宣传队"]
    assert rows[0].members == 2 and rows[0].mine is not None and rows[1].mine is None
    assert t1.id
