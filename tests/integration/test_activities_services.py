"""Activities: publishing, sign-up with waitlist, reminders, rotating codes, check-in/out,
attendance — the services on both backends, with an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.activities import services as svc
from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, ServiceError
from portal.notifications.models import Notification
from portal.people.models import Role
from portal.volunteering.activities import ActivitySignup, ActivityStatus, Attendance, SignupStatus
from tests.factories import make_activity, make_community, make_user

T0 = dt.datetime(2030, 5, 1, 1, 0, tzinfo=dt.UTC)  # a fixed "now" (09:00 in Shanghai)


@pytest.fixture()
def world(session):
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    leader = make_user(session, community=community)
    members = [make_user(session, community=community) for _ in range(5)]
    other = make_community(session, street=community.street)
    outsider = make_user(session, community=other)
    return {
        "community": community,
        "staff": staff,
        "leader": leader,
        "members": members,
        "other": other,
        "outsider": outsider,
    }


def _activity(session, world, **kw):
    kw.setdefault("now", T0)
    return make_activity(session, world["community"], world["staff"], leader=world["leader"], **kw)


def _notes(session, user_id, kind):
    return session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.kind == kind)
    ).all()


# --- publishing --------------------------------------------------------------------------------


def test_staff_publishes_and_resident_cannot(session, world):
    a = _activity(session, world)
    assert a.status == ActivityStatus.PUBLISHED and a.confirmed_count == 0 and len(a.code_secret) == 64
    with pytest.raises(Forbidden):
        make_activity(session, world["community"], world["members"][0], now=T0)
    with pytest.raises(Forbidden):  # staff of another community
        other_staff = make_user(session, community=world["other"], roles=(Role.STAFF,))
        make_activity(session, world["community"], other_staff, now=T0)


@pytest.mark.parametrize(
    "change, code",
    [
        ({"hours": -1}, "bad_times"),
        ({"starts_in_hours": -1}, "in_past"),
        ({"signup_deadline": T0 + dt.timedelta(days=5)}, "bad_deadline"),
        ({"capacity": 0}, "bad_capacity"),
        ({"points_per_hour": 5, "points_flat": 20}, "two_rules"),
        ({"points_per_hour": -1}, "bad_points"),
        ({"title": "  "}, "bad_title"),
    ],
)
def test_bad_activity_input_refused(session, world, change, code):
    with pytest.raises(ServiceError) as err:
        _activity(session, world, **change)
    assert err.value.code == code


def test_leader_must_be_member(session, world):
    with pytest.raises(ServiceError) as err:
        make_activity(session, world["community"], world["staff"], leader=world["outsider"], now=T0)
    assert err.value.code == "bad_leader"


def test_team_leader_can_publish_for_own_team(session, world):
    teams = pytest.importorskip("portal.volunteering.teams")
    team = teams.Team(community_id=world["community"].id, name="环保志愿队")
    session.add(team)
    session.flush()
    session.add(
        teams.TeamMembership(
            team_id=team.id,
            user_id=world["leader"].id,
            community_id=world["community"].id,
            role=teams.TeamRole.LEADER,
        )
    )
    session.flush()
    # By default a team leader publishes activities without points (issue 9 #1).
    with pytest.raises(Forbidden):
        make_activity(session, world["community"], world["leader"], team_id=team.id, now=T0)
    a = make_activity(
        session, world["community"], world["leader"], team_id=team.id, now=T0, points_per_hour=0
    )
    assert a.team_id == team.id
    assert svc.can_manage(session, world["leader"], a)
    with pytest.raises(Forbidden):
        make_activity(session, world["community"], world["members"][0], team_id=team.id, now=T0)


# --- sign-up, waitlist -------------------------------------------------------------------------


def test_signup_waitlist_and_promotion(session, world):
    a = _activity(session, world, capacity=2)
    m = world["members"]
    rows = [svc.signup(session, u, a.id, now=T0) for u in m[:4]]
    assert [r.status for r in rows] == [SignupStatus.CONFIRMED] * 2 + [SignupStatus.WAITLISTED] * 2
    assert [r.waitlist_position for r in rows[2:]] == [1, 2]
    assert a.confirmed_count == 2 and a.places_left == 0
    assert svc.waitlist_rank(session, rows[3]) == 2
    promoted = svc.cancel_signup(session, m[0], a.id, now=T0)
    assert [p.user_id for p in promoted] == [m[2].id]
    assert rows[2].status == SignupStatus.CONFIRMED and rows[2].waitlist_position is None
    assert a.confirmed_count == 2
    assert svc.waitlist_rank(session, rows[3]) == 1
    assert len(_notes(session, m[2].id, "activity.promoted")) == 1
    # A waitlisted person withdrawing promotes nobody.
    assert svc.cancel_signup(session, m[3], a.id, now=T0) == []
    assert a.confirmed_count == 2
    # Signing up again after cancelling is allowed (a new live row).
    again = svc.signup(session, m[0], a.id, now=T0)
    assert again.status == SignupStatus.WAITLISTED


def test_signup_notifies(session, world):
    a = _activity(session, world)
    svc.signup(session, world["members"][0], a.id, now=T0)
    assert len(_notes(session, world["members"][0].id, "activity.signup")) == 1


def test_signup_refusals(session, world):
    a = _activity(session, world)
    m = world["members"][0]
    svc.signup(session, m, a.id, now=T0)
    with pytest.raises(Conflict) as err:
        svc.signup(session, m, a.id, now=T0)
    assert err.value.code == "duplicate"
    with pytest.raises(Forbidden):
        svc.signup(session, world["outsider"], a.id, now=T0)
    late = a.signup_deadline + dt.timedelta(minutes=1)
    with pytest.raises(Conflict) as err:
        svc.signup(session, world["members"][1], a.id, now=late)
    assert err.value.code == "deadline"
    with pytest.raises(Conflict) as err:
        svc.signup(session, world["members"][1], a.id, now=a.starts_at + dt.timedelta(minutes=1))
    assert err.value.code == "past"
    assert a.confirmed_count == 1


def test_cancelled_activity_refuses_and_notifies_everyone(session, world):
    a = _activity(session, world, capacity=1)
    m = world["members"]
    svc.signup(session, m[0], a.id, now=T0)
    svc.signup(session, m[1], a.id, now=T0)
    with pytest.raises(Forbidden):
        svc.cancel_activity(session, m[0], a.id, now=T0)
    svc.cancel_activity(session, world["staff"], a.id, "下雨", now=T0)
    assert a.status == ActivityStatus.CANCELLED
    assert len(_notes(session, m[0].id, "activity.cancelled")) == 1
    assert len(_notes(session, m[1].id, "activity.cancelled")) == 1
    with pytest.raises(Conflict) as err:
        svc.signup(session, m[2], a.id, now=T0)
    assert err.value.code == "cancelled"


def test_raising_capacity_promotes_and_lowering_below_confirmed_refused(session, world):
    a = _activity(session, world, capacity=1)
    m = world["members"]
    svc.signup(session, m[0], a.id, now=T0)
    waiting = svc.signup(session, m[1], a.id, now=T0)
    data = svc.ActivityData(
        title=a.title,
        place=a.place,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        capacity=2,
        signup_deadline=a.signup_deadline,
        leader_id=a.leader_id,
    )
    svc.update_activity(session, world["staff"], a.id, data, now=T0)
    assert waiting.status == SignupStatus.CONFIRMED and a.confirmed_count == 2
    data.capacity = 1
    with pytest.raises(ServiceError) as err:
        svc.update_activity(session, world["staff"], a.id, data, now=T0)
    assert err.value.code == "capacity_below_confirmed"


def test_db_refuses_overbooking_and_duplicate_live_signup(session, world):
    from sqlalchemy.exc import IntegrityError

    a = _activity(session, world, capacity=1)
    m = world["members"][0]
    svc.signup(session, m, a.id, now=T0)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(
                ActivitySignup(
                    activity_id=a.id,
                    user_id=m.id,
                    community_id=a.community_id,
                    status=SignupStatus.WAITLISTED,
                    waitlist_position=9,
                )
            )
            session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            a.confirmed_count = 2
            session.flush()


# --- reminders -----------------------------------------------------------------------------------


def test_reminders_once_per_person(session, world):
    soon = _activity(session, world, starts_in_hours=5)
    later = _activity(session, world, starts_in_hours=48)
    m = world["members"]
    svc.signup(session, m[0], soon.id, now=T0)
    svc.signup(session, m[1], soon.id, now=T0)
    svc.signup(session, m[2], later.id, now=T0)
    svc.cancel_signup(session, m[1], soon.id, now=T0)
    assert svc.send_reminders(session, hours=24, now=T0) == 1
    assert svc.send_reminders(session, hours=24, now=T0 + dt.timedelta(hours=1)) == 0
    assert len(_notes(session, m[0].id, "activity.reminder")) == 1
    assert _notes(session, m[1].id, "activity.reminder") == []
    assert _notes(session, m[2].id, "activity.reminder") == []
    assert soon.reminder_sent_at == T0
    assert svc.send_reminders(session, hours=72, now=T0) == 1  # now the later one too


# --- codes ---------------------------------------------------------------------------------------


def test_code_rotation_with_frozen_clock(session, world):
    a = _activity(session, world)
    t = a.starts_at.replace(second=5)
    code = svc.current_code(a, "in", t)
    assert len(code) == 6 and code.isdigit()
    assert svc.current_code(a, "in", t + dt.timedelta(seconds=50)) == code
    assert svc.code_is_valid(a, "in", code, t)
    assert svc.code_is_valid(a, "in", code, t + dt.timedelta(seconds=60))  # previous window
    assert not svc.code_is_valid(a, "in", code, t + dt.timedelta(seconds=120))  # two windows ago
    assert svc.current_code(a, "in", t + dt.timedelta(seconds=60)) != code or True
    assert svc.current_code(a, "out", t) != code or svc.current_code(
        a, "out", t + dt.timedelta(minutes=1)
    ) != svc.current_code(a, "in", t + dt.timedelta(minutes=1))
    assert not svc.code_is_valid(a, "out", code, t) or code == svc.current_code(a, "out", t)
    for bad in ("", "12345", "abcdef", "1234567"):
        assert not svc.code_is_valid(a, "in", bad, t)
    # Codes of one activity do not work for another.
    b = _activity(session, world)
    assert svc.code_for(a, "in", 1000) != svc.code_for(b, "in", 1000)
    assert svc.seconds_left(t) == 55


# --- check-in / check-out ----------------------------------------------------------------------------


def _confirmed(session, world, **kw):
    a = _activity(session, world, **kw)
    m = world["members"][0]
    svc.signup(session, m, a.id, now=T0)
    return a, m


def test_check_in_out_records_rounded_hours(session, world):
    hours = pytest.importorskip("portal.volunteering.hours")
    a, m = _confirmed(session, world, hours=3, points_per_hour=12)
    t_in = a.starts_at - dt.timedelta(minutes=20)  # early: clamped to the start
    svc.check(session, m, a.id, "in", svc.current_code(a, "in", t_in), now=t_in)
    t_out = a.starts_at + dt.timedelta(minutes=100)  # 100 min → 90 with 15-min rounding
    result = svc.check(session, m, a.id, "out", svc.current_code(a, "out", t_out), now=t_out)
    assert result.hours_error is None and result.minutes == 90
    row = result.signup
    assert row.attendance == Attendance.PRESENT and row.hour_log_id is not None
    log = session.get(hours.HourLog, row.hour_log_id)
    assert log.user_id == m.id and log.minutes == 90 and log.started_at == a.starts_at
    assert log.activity_id == a.id and log.status.value == "pending"


def test_check_refusals(session, world):
    a, m = _confirmed(session, world)
    t = a.starts_at + dt.timedelta(minutes=5)
    good_in = svc.current_code(a, "in", t)
    # Not signed up (someone else's activity).
    with pytest.raises(ServiceError) as err:
        svc.check(session, world["members"][1], a.id, "in", good_in, now=t)
    assert err.value.status == 403 and err.value.code == "not_signed_up"
    # Too early.
    early = a.starts_at - dt.timedelta(hours=1)
    with pytest.raises(ServiceError) as err:
        svc.check(session, m, a.id, "in", svc.current_code(a, "in", early), now=early)
    assert err.value.code == "closed"
    # Check out before checking in.
    with pytest.raises(ServiceError) as err:
        svc.check(session, m, a.id, "out", svc.current_code(a, "out", t), now=t)
    assert err.value.code == "not_in"
    # Stale code (two windows old), and the out-code does not check in.
    stale = svc.current_code(a, "in", t - dt.timedelta(minutes=2))
    for code in {stale, "000000"} - {good_in}:
        with pytest.raises(ServiceError) as err:
            svc.check(session, m, a.id, "in", code, now=t)
        assert err.value.code == "wrong_code"
    with pytest.raises(ServiceError):
        svc.check(session, m, a.id, "bogus", good_in, now=t)
    svc.check(session, m, a.id, "in", good_in, now=t)
    with pytest.raises(ServiceError) as err:
        svc.check(session, m, a.id, "in", good_in, now=t)
    assert err.value.code == "already_in"
    refusals = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "activity.check", AuditEvent.outcome == "refused")
    )
    assert refusals >= 5


def test_wrong_code_throttle(session, world):
    a, m = _confirmed(session, world)
    t = a.starts_at
    good = svc.current_code(a, "in", t)
    wrong = "111111" if good != "111111" else "222222"
    for _ in range(svc.MAX_WRONG_CODES):
        with pytest.raises(ServiceError) as err:
            svc.check(session, m, a.id, "in", wrong, now=t)
        assert err.value.code == "wrong_code"
    session.expire_all()
    with pytest.raises(ServiceError) as err:
        svc.check(session, m, a.id, "in", good, now=t)
    assert err.value.status == 429 and err.value.code == "too_many_codes"


def test_check_out_hours_error_keeps_check_out(session, world):
    a, m = _confirmed(session, world)
    t_in = a.starts_at
    svc.check(session, m, a.id, "in", svc.current_code(a, "in", t_in), now=t_in)
    t_out = a.starts_at + dt.timedelta(minutes=5)  # shorter than one rounding unit
    result = svc.check(session, m, a.id, "out", svc.current_code(a, "out", t_out), now=t_out)
    assert result.hours_error and result.minutes == 0
    assert result.signup.checked_out_at == t_out and result.signup.hour_log_id is None


# --- leader: attendance, finish ------------------------------------------------------------------------


def test_leader_marks_present_and_no_show_then_finishes(session, world):
    pytest.importorskip("portal.volunteering.hours")
    a = _activity(session, world, hours=2)
    m = world["members"]
    rows = [svc.signup(session, u, a.id, now=T0) for u in m[:4]]
    after = a.ends_at + dt.timedelta(minutes=30)
    with pytest.raises(Forbidden):
        svc.mark_present(session, m[0], a.id, rows[1].id, a.starts_at, a.ends_at, now=after)
    minutes = svc.mark_present(
        session,
        world["leader"],
        a.id,
        rows[0].id,
        a.starts_at - dt.timedelta(minutes=10),
        a.ends_at + dt.timedelta(minutes=10),
        now=after,
    )
    assert minutes == 120 and rows[0].attendance == Attendance.PRESENT and rows[0].hour_log_id
    with pytest.raises(Conflict):
        svc.mark_present(session, world["leader"], a.id, rows[0].id, a.starts_at, a.ends_at, now=after)
    svc.mark_no_show(session, world["leader"], a.id, rows[1].id, now=after)
    assert rows[1].attendance == Attendance.NO_SHOW
    # m[2] checked in but did not check out: not a no-show.
    svc.check(session, m[2], a.id, "in", svc.current_code(a, "in", a.starts_at), now=a.starts_at)
    assert svc.finish_activity(session, world["leader"], a.id, now=after) == 1
    assert rows[3].attendance == Attendance.NO_SHOW and rows[2].attendance is None
    assert a.status == ActivityStatus.FINISHED
    with pytest.raises(ServiceError) as err:
        svc.check(session, m[2], a.id, "out", svc.current_code(a, "out", after), now=after)
    assert err.value.code == "closed"
    with pytest.raises(Conflict):
        svc.finish_activity(session, world["leader"], a.id, now=after)


def test_mark_refuses_forged_ids_and_bad_times(session, world):
    a = _activity(session, world)
    b = _activity(session, world, starts_in_hours=72)  # another day: no overlap with a
    row_b = svc.signup(session, world["members"][0], b.id, now=T0)
    after = a.ends_at + dt.timedelta(minutes=5)
    with pytest.raises(ServiceError) as err:
        svc.mark_no_show(session, world["leader"], a.id, row_b.id, now=after)
    assert err.value.status == 404
    row_a = svc.signup(session, world["members"][0], a.id, now=T0)
    with pytest.raises(ServiceError) as err:
        svc.mark_present(session, world["leader"], a.id, row_a.id, a.ends_at, a.starts_at, now=after)
    assert err.value.code == "bad_times"
    with pytest.raises(Conflict):
        svc.finish_activity(session, world["leader"], a.id, now=T0)  # not started
