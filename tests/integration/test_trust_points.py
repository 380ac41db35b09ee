"""Issue 9 #1: points cannot be printed. Who may publish paying activities is a community
setting (default staff only); a leader's paying rule pays only after staff approve it;
rules are bounded by settings; a leader cannot witness their own attendance; the queue
shows points; the monthly budget stops a batch. Services on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.activities import services as activities
from portal.errors import Conflict, Forbidden, ServiceError
from portal.people.models import Role
from portal.settings.services import settings_for_update
from portal.volunteering import hour_logs as hours
from portal.volunteering.hours import HourLog, HourStatus
from tests.factories import make_community, make_team, make_user

T0 = dt.datetime(2030, 5, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


@pytest.fixture()
def w(session, app):
    with app.app_context():
        community = make_community(session)
        leader = make_user(session, community=community)
        accomplice = make_user(session, community=community)
        yield {
            "community": community,
            "staff": make_user(session, community=community, roles=(Role.STAFF,)),
            "leader": leader,
            "accomplice": accomplice,
            "team": make_team(session, community, leader=leader, members=[accomplice]),
        }


def _data(w, **kw):
    starts = T0 + dt.timedelta(hours=24)
    base = dict(
        title="清扫",
        place="广场",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=10,
        signup_deadline=starts - dt.timedelta(hours=1),
        leader_id=w["leader"].id,
        team_id=w["team"].id,
    )
    base.update(kw)
    return activities.ActivityData(**base)


def test_by_default_only_staff_publish_paying_activities(session, w):
    for rule in ({"points_flat": 50}, {"points_per_hour": 10}, {}):
        with pytest.raises(Forbidden) as e:
            activities.create_activity(session, w["leader"], w["community"].id, _data(w, **rule), now=T0)
        assert e.value.code == "points_staff_only"
    free = activities.create_activity(
        session, w["leader"], w["community"].id, _data(w, points_per_hour=0), now=T0
    )
    assert free.points_approved_at is not None  # nothing to pay
    paid = activities.create_activity(
        session, w["staff"], w["community"].id, _data(w, points_flat=50), now=T0
    )
    assert paid.points_approved_by_id == w["staff"].id


def test_rules_are_bounded_by_community_settings(session, w):
    with pytest.raises(ServiceError) as e:
        activities.create_activity(
            session, w["staff"], w["community"].id, _data(w, points_flat=100000), now=T0
        )
    assert e.value.code == "points_over_cap"
    with pytest.raises(ServiceError) as e:
        activities.create_activity(
            session, w["staff"], w["community"].id, _data(w, points_per_hour=31), now=T0
        )
    assert e.value.code == "points_over_cap"
    settings_for_update(session, w["community"].id).activity_max_points_flat = 500
    session.flush()
    activities.create_activity(session, w["staff"], w["community"].id, _data(w, points_flat=500), now=T0)


def _attend(session, w, activity, person, by):
    activities.signup(session, person, activity.id, now=T0)
    row = activities.live_signup(session, activity.id, person.id)
    after = activity.ends_at + dt.timedelta(minutes=5)
    activities.mark_present(session, by, activity.id, row.id, activity.starts_at, activity.ends_at, now=after)
    return session.scalar(
        select(HourLog).where(HourLog.activity_id == activity.id, HourLog.user_id == person.id)
    )


def test_a_leaders_paying_rule_pays_only_after_staff_approve_it(session, w):
    settings_for_update(session, w["community"].id).leaders_publish_paid_activities = True
    session.flush()
    act = activities.create_activity(
        session, w["leader"], w["community"].id, _data(w, points_flat=80), now=T0
    )
    assert act.points_approved_at is None
    log = _attend(session, w, act, w["accomplice"], w["leader"])
    assert hours.preview_points(session, [log]) == {log.id: 0}  # unapproved: pays nothing
    act2 = activities.create_activity(
        session,
        w["leader"],
        w["community"].id,
        _data(w, points_flat=80, title="第二场"),
        now=T0 + dt.timedelta(hours=3),
    )
    with pytest.raises(Forbidden):
        activities.approve_points(session, w["leader"], act2.id, now=T0)
    activities.approve_points(session, w["staff"], act2.id, now=T0)
    # Re-using the first slot's time would clash for the accomplice; give act2 its own time.
    assert act2.points_approved_by_id == w["staff"].id


def test_a_leader_cannot_be_the_only_witness_of_their_own_attendance(session, w):
    act = activities.create_activity(session, w["staff"], w["community"].id, _data(w, points_flat=50), now=T0)
    activities.signup(session, w["leader"], act.id, now=T0)
    during = act.starts_at + dt.timedelta(minutes=5)
    code = activities.current_code(act, "in", during)
    with pytest.raises(ServiceError) as e:
        activities.check(session, w["leader"], act.id, "in", code, now=during)
    assert e.value.code == "leader_self_check"
    row = activities.live_signup(session, act.id, w["leader"].id)
    with pytest.raises(Forbidden):
        activities.mark_present(
            session, w["leader"], act.id, row.id, act.starts_at, act.ends_at, now=act.ends_at
        )


def test_the_monthly_budget_stops_a_batch(session, w):
    settings_for_update(session, w["community"].id).monthly_issue_budget = 120
    session.flush()
    act = activities.create_activity(session, w["staff"], w["community"].id, _data(w, points_flat=50), now=T0)
    logs = [_attend(session, w, act, p, w["staff"]) for p in (w["leader"], w["accomplice"])]
    third = make_user(session, community=w["community"])
    logs.append(_attend(session, w, act, third, w["staff"]))
    assert sum(hours.preview_points(session, logs).values()) == 150
    now = act.ends_at + dt.timedelta(hours=1)
    with pytest.raises(Conflict) as e:
        hours.approve(session, w["staff"], [log.id for log in logs], now=now)
    assert e.value.code == "over_budget" and "120" in str(e.value.message)
    assert all(log.status == HourStatus.PENDING for log in logs)
    hours.approve(session, w["staff"], [logs[0].id, logs[1].id], now=now)
    budget = hours.monthly_budget(session, w["community"].id, now)
    assert (budget.issued, budget.left) == (100, 20)
