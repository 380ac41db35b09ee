"""Issue 9 #6 (back-dating), #10 (overlapping sign-ups), #12 (compliance counts the
reported community only) — the services, on both backends, with a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.activities import services as activities
from portal.audit.models import AuditEvent
from portal.compliance.services import year_rows
from portal.errors import Conflict, ServiceError
from portal.people.models import Role
from portal.settings.services import settings_for_update
from portal.volunteering.activities import ActivitySignup, Attendance
from portal.volunteering.hours import HourLog, HourStatus
from portal.volunteering.recording import record_hours
from tests.factories import make_activity, make_community, make_street, make_user

NOW = dt.datetime(2030, 5, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture()
def w(session, app):
    with app.app_context():
        street = make_street(session)
        a = make_community(session, street=street)
        b = make_community(session, street=street)
        yield {
            "a": a,
            "b": b,
            "staff": make_user(session, community=a, roles=(Role.STAFF,)),
            "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
            "vol": make_user(session, community=a),
        }


def _record(session, w, day: dt.date, **kw):
    start = dt.datetime.combine(day, dt.time(9), tzinfo=SH).astimezone(dt.UTC)
    return record_hours(
        session,
        user_id=w["vol"].id,
        community_id=kw.pop("community_id", w["a"].id),
        source="other",
        source_id=None,
        started_at=start,
        ended_at=start + dt.timedelta(hours=1),
        description="扫楼道",
        reported_by=kw.pop("reported_by", w["vol"]),
        now=NOW,
    )


# --- #6 back-dating ---------------------------------------------------------------------------


def test_hours_older_than_the_community_limit_are_refused(session, w):
    today = NOW.astimezone(SH).date()
    _record(session, w, today - dt.timedelta(days=30))  # the oldest day still allowed
    for day in (today - dt.timedelta(days=31), dt.date(2001, 1, 1)):
        with pytest.raises(ServiceError) as e:
            _record(session, w, day)
        assert e.value.code == "too_old" and "30" in str(e.value.message)
    assert session.scalars(
        select(AuditEvent).where(AuditEvent.action == "hours.record", AuditEvent.outcome == "refused")
    ).all()
    # Staff recording for someone is bound by the same limit.
    with pytest.raises(ServiceError):
        _record(session, w, dt.date(2001, 1, 1), reported_by=w["staff"])
    # The community can widen it.
    settings_for_update(session, w["a"].id).hours_backdate_days = 90
    session.flush()
    _record(session, w, today - dt.timedelta(days=60))


# --- #10 overlapping sign-ups -------------------------------------------------------------------


def _activity(session, w, start_hours: float, length: float, title: str):
    return make_activity(
        session, w["a"], w["staff"], starts_in_hours=start_hours, hours=length, now=NOW, title=title
    )


def test_overlapping_signups_are_refused_naming_the_clash(session, w):
    nine_to_twelve = _activity(session, w, 47, 3, "植树 9–12")
    ten_to_three = _activity(session, w, 48, 5, "义诊 10–15")
    same = _activity(session, w, 47, 3, "另一个 9–12")
    back_to_back = _activity(session, w, 50, 2, "12–14 接着来")
    activities.signup(session, w["vol"], nine_to_twelve.id, now=NOW)
    for clash in (ten_to_three, same):
        with pytest.raises(Conflict) as e:
            activities.signup(session, w["vol"], clash.id, now=NOW)
        assert e.value.code == "overlap" and "植树 9–12" in str(e.value.message)
    activities.signup(session, w["vol"], back_to_back.id, now=NOW)  # touching is fine
    # Cancelling frees the time again.
    row = activities.live_signup(session, nine_to_twelve.id, w["vol"].id)
    activities.cancel_signup(session, w["vol"], nine_to_twelve.id, now=NOW)
    assert row is not None
    live = session.scalars(select(ActivitySignup).where(ActivitySignup.user_id == w["vol"].id)).all()
    assert {s.activity_id for s in live if s.status.value in ("confirmed", "waitlisted")} == {back_to_back.id}


# --- #12 compliance in the reported community ------------------------------------------------------


def test_compliance_counts_only_the_reported_community(session, w):
    from portal.people.models import RoleAssignment

    vol = w["vol"]
    session.add(RoleAssignment(user_id=vol.id, role=Role.PARTY_MEMBER, community_id=w["a"].id))
    session.flush()
    year = NOW.astimezone(SH).year
    # Approved hours and an attended activity in community B (e.g. they help their parents there).
    log = HourLog(
        user_id=vol.id,
        community_id=w["b"].id,
        source="other",
        started_at=NOW - dt.timedelta(days=3),
        ended_at=NOW - dt.timedelta(days=3, hours=-2),
        minutes=120,
        points=20,
        status=HourStatus.APPROVED,
        reviewed_by_id=w["staff_b"].id,
        reviewed_at=NOW,
        description="别处",
        reported_by_id=vol.id,
    )
    session.add(log)
    elsewhere = make_activity(session, w["b"], w["staff_b"], now=NOW - dt.timedelta(days=10))
    session.add(
        ActivitySignup(
            activity_id=elsewhere.id, user_id=vol.id, community_id=w["b"].id, attendance=Attendance.PRESENT
        )
    )
    session.flush()
    (row,) = year_rows(session, w["a"].id, year)
    assert (row.minutes, row.points, row.activities) == (0, 0, 0)


# --- #11 deactivated members are left out of the compliance figures unless asked -----------


def test_compliance_leaves_out_deactivated_members_unless_asked(session, w):
    from portal.people.models import RoleAssignment

    vol = w["vol"]
    session.add(RoleAssignment(user_id=vol.id, role=Role.PARTY_MEMBER, community_id=w["a"].id))
    vol.is_active = False
    session.flush()
    year = NOW.astimezone(SH).year
    assert year_rows(session, w["a"].id, year) == []
    assert [r.user_id for r in year_rows(session, w["a"].id, year, include_inactive=True)] == [vol.id]
