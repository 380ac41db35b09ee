"""Activity pages through the HTTP client, both backends."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from core.db import utcnow
from portal.activities import services as svc
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.people.models import Role
from portal.volunteering.activities import ActivitySignup, SignupStatus
from tests.factories import login, make_activity, make_community, make_user


def _csrf(client, url):
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    return match.group(1) if match else ""


def _world(session):
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    member = make_user(session, community=community)
    return community, staff, member


def test_list_detail_signup_and_withdraw(client, session):
    community, staff, member = _world(session)
    activity = make_activity(session, community, staff, capacity=1, title="敬老院慰问")
    login(client, member)
    page = client.get("/activities/")
    assert page.status_code == 200 and "敬老院慰问" in page.get_data(as_text=True)
    url = f"/activities/{activity.id}"
    token = _csrf(client, url)
    assert client.post(f"{url}/signup", data={"csrf_token": token}).status_code == 302
    assert svc.live_signup(session, activity.id, member.id).status == SignupStatus.CONFIRMED
    again = client.post(f"{url}/signup", data={"csrf_token": token})
    assert again.status_code == 409
    assert client.get("/activities/mine").status_code == 200
    assert client.post(f"{url}/withdraw", data={"csrf_token": token}).status_code == 302
    assert svc.live_signup(session, activity.id, member.id) is None


def test_signup_without_csrf_changes_nothing(db_url, engine, connection, session):
    from tests.conftest import make_test_app
    from tests.factories import DEFAULT_PASSWORD

    client = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, WTF_CSRF_ENABLED=True
    ).test_client()
    community, staff, member = _world(session)
    activity = make_activity(session, community, staff)
    page = client.get("/accounts/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/accounts/login", data={"phone": member.phone, "password": DEFAULT_PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    assert client.post(f"/activities/{activity.id}/signup").status_code == 400
    assert svc.live_signup(session, activity.id, member.id) is None


def test_other_community_refused_and_audited(client, session):
    community, staff, _member = _world(session)
    activity = make_activity(session, community, staff)
    outsider = make_user(session, community=make_community(session))
    login(client, outsider)
    assert client.get(f"/activities/{activity.id}").status_code == 403
    token = _csrf(client, "/activities/")
    assert client.post(f"/activities/{activity.id}/signup", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/activities/{activity.id}/participants").status_code == 403
    assert client.get(f"/activities/{activity.id}/screen").status_code == 403
    assert client.get("/activities/999999").status_code == 404
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == outsider.id, AuditEvent.outcome == "refused")
        )
        >= 3
    )
    assert session.scalar(select(func.count()).select_from(ActivitySignup)) == 0


def test_staff_publishes_through_the_form(client, session):
    community, staff, member = _world(session)
    login(client, staff)
    token = _csrf(client, f"/activities/new?community_id={community.id}")
    start = (utcnow() + dt.timedelta(days=3)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    fmt = "%Y-%m-%dT%H:%M"
    data = {
        "csrf_token": token,
        "title": "社区大扫除",
        "place": "幸福里小区",
        "description": "",
        "starts_at": start.strftime(fmt),
        "ends_at": (start + dt.timedelta(hours=2)).strftime(fmt),
        "signup_deadline": (start - dt.timedelta(hours=12)).strftime(fmt),
        "capacity": "15",
        "points_rule": "flat",
        "points_value": "30",
        "leader_id": str(member.id),
        "team_id": "0",
    }
    resp = client.post(f"/activities/new?community_id={community.id}", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    from portal.volunteering.activities import Activity

    activity = session.scalar(select(Activity).where(Activity.title == "社区大扫除"))
    assert activity.points_flat == 30 and activity.points_per_hour is None and activity.leader_id == member.id
    assert abs((activity.starts_at - start).total_seconds()) < 60
    # End before start: the form comes back with 400-ish status and nothing changes.
    bad = dict(data, title="反诈宣传", ends_at=(start - dt.timedelta(hours=2)).strftime(fmt))
    assert client.post(f"/activities/new?community_id={community.id}", data=bad).status_code == 400
    assert session.scalar(select(Activity).where(Activity.title == "反诈宣传")) is None
    # A resident may not publish.
    client.get("/accounts/logout")


def test_resident_cannot_publish(client, session):
    community, _staff, member = _world(session)
    login(client, member)
    token = _csrf(client, f"/activities/new?community_id={community.id}")
    resp = client.post(
        f"/activities/new?community_id={community.id}",
        data={
            "csrf_token": token,
            "title": "x",
            "place": "y",
            "starts_at": "2031-01-01T09:00",
            "ends_at": "2031-01-01T11:00",
            "signup_deadline": "2031-01-01T08:00",
            "capacity": "5",
            "points_rule": "default",
            "leader_id": str(member.id),
            "team_id": "0",
        },
    )
    assert resp.status_code == 403


def test_check_in_screen_and_qr_flow(client, session, app):
    community, staff, member = _world(session)
    leader = make_user(session, community=community)
    now = utcnow()
    activity = make_activity(
        session,
        community,
        staff,
        leader=leader,
        starts_in_hours=0.75,
        now=now - dt.timedelta(hours=1),
        signup_deadline=now - dt.timedelta(hours=1, minutes=-5),
    )
    session.add(
        ActivitySignup(
            activity_id=activity.id,
            user_id=member.id,
            community_id=community.id,
            status=SignupStatus.CONFIRMED,
        )
    )
    activity.confirmed_count = 1
    session.flush()
    login(client, leader)
    screen = client.get(f"/activities/{activity.id}/screen?phase=in")
    html = screen.get_data(as_text=True)
    assert screen.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in html
    # No <meta refresh> (axe: critical); a script fetches the new code when it is due.
    assert 'http-equiv="refresh"' not in html and "/static/js/screen.js" in html
    assert re.search(r'id="checkin-screen" data-refresh="\d+"', html)
    code = svc.current_code(activity, "in")
    assert code in html
    client.get("/accounts/logout")

    login(client, member)
    # GET (what the QR opens) shows a confirm button and changes nothing.
    page = client.get(f"/activities/{activity.id}/check?code={code}&phase=in")
    assert page.status_code == 200 and f'value="{code}"' in page.get_data(as_text=True)
    row = session.scalar(select(ActivitySignup).where(ActivitySignup.user_id == member.id))
    assert row.checked_in_at is None
    token = _csrf(client, f"/activities/{activity.id}/check?code={code}&phase=in")
    wrong = "000000" if code != "000000" else "111111"
    resp = client.post(
        f"/activities/{activity.id}/check", data={"csrf_token": token, "phase": "in", "code": wrong}
    )
    assert resp.status_code == 400
    session.expire_all()
    row = session.get(ActivitySignup, row.id)
    assert row.checked_in_at is None and row.wrong_codes == 1
    resp = client.post(
        f"/activities/{activity.id}/check",
        data={"csrf_token": token, "phase": "in", "code": svc.current_code(activity, "in")},
    )
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(ActivitySignup, row.id).checked_in_at is not None


def test_leader_participants_and_finish(client, session):
    community, staff, member = _world(session)
    now = utcnow()
    activity = make_activity(
        session,
        community,
        staff,
        starts_in_hours=1,
        hours=2,
        now=now - dt.timedelta(hours=4),
        signup_deadline=now - dt.timedelta(hours=3, minutes=30),
    )
    session.add(
        ActivitySignup(
            activity_id=activity.id,
            user_id=member.id,
            community_id=community.id,
            status=SignupStatus.CONFIRMED,
        )
    )
    activity.confirmed_count = 1
    session.flush()
    login(client, staff)
    url = f"/activities/{activity.id}/participants"
    page = client.get(url)
    assert page.status_code == 200 and member.display_name in page.get_data(as_text=True)
    token = _csrf(client, url)
    assert client.post(f"/activities/{activity.id}/finish", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    row = session.scalar(select(ActivitySignup).where(ActivitySignup.user_id == member.id))
    assert row.attendance.value == "no_show"


def test_remind_cli(runner, session):
    community, staff, member = _world(session)
    activity = make_activity(
        session, community, staff, starts_in_hours=3, signup_deadline=utcnow() + dt.timedelta(hours=1)
    )
    svc.signup(session, member, activity.id)
    session.flush()
    result = runner.invoke(args=["activities", "remind", "--hours", "24"])
    assert result.exit_code == 0, result.output
    assert "1 reminder(s) sent" in result.output
    result = runner.invoke(args=["activities", "remind"])
    assert "0 reminder(s) sent" in result.output
    assert (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == member.id, Notification.kind == "activity.reminder")
        )
        == 1
    )


def test_demo_seed_is_idempotent(session):
    from portal.activities import demo
    from portal.demo import seed_demo
    from portal.volunteering.activities import Activity

    seed_demo(session)
    demo.seed(session)
    count = session.scalar(select(func.count()).select_from(Activity))
    signups = session.scalar(select(func.count()).select_from(ActivitySignup))
    assert count == 8 and signups > 0
    demo.seed(session)
    assert session.scalar(select(func.count()).select_from(Activity)) == count
    assert session.scalar(select(func.count()).select_from(ActivitySignup)) == signups
    assert (
        session.scalar(
            select(func.count()).select_from(ActivitySignup).where(ActivitySignup.attendance.is_not(None))
        )
        > 0
    )


def test_rule_refusal_is_audited(client, session):
    community, staff, member = _world(session)
    activity = make_activity(session, community, staff)
    svc.signup(session, member, activity.id)
    session.flush()
    login(client, member)
    resp = client.post(f"/activities/{activity.id}/signup", data={})
    assert resp.status_code == 409
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "activity.signup", AuditEvent.outcome == "refused")
    )
    assert event is not None and event.actor_id == member.id and event.detail["code"] == "duplicate"


def test_leader_marks_present_through_the_page(client, session):
    community, staff, member = _world(session)
    now = utcnow()
    activity = make_activity(
        session,
        community,
        staff,
        starts_in_hours=1,
        hours=2,
        now=now - dt.timedelta(hours=4),
        signup_deadline=now - dt.timedelta(hours=3, minutes=30),
    )
    row = ActivitySignup(
        activity_id=activity.id, user_id=member.id, community_id=community.id, status=SignupStatus.CONFIRMED
    )
    session.add(row)
    activity.confirmed_count = 1
    session.flush()
    login(client, staff)
    local = dt.timezone(dt.timedelta(hours=8))
    fmt = "%Y-%m-%dT%H:%M"
    url = f"/activities/{activity.id}/participants/{row.id}/mark"
    # Arrived after leaving: refused, nothing changed.
    bad = client.post(
        url,
        data={
            "outcome": "present",
            "started_at": activity.ends_at.astimezone(local).strftime(fmt),
            "ended_at": activity.starts_at.astimezone(local).strftime(fmt),
        },
    )
    assert bad.status_code == 400
    session.expire_all()
    assert session.get(ActivitySignup, row.id).attendance is None
    ok = client.post(
        url,
        data={
            "outcome": "present",
            "started_at": activity.starts_at.astimezone(local).strftime(fmt),
            "ended_at": activity.ends_at.astimezone(local).strftime(fmt),
        },
    )
    assert ok.status_code == 302
    session.expire_all()
    saved = session.get(ActivitySignup, row.id)
    assert (
        saved.attendance.value == "present"
        and saved.hour_log_id is not None
        and saved.marked_by_id == staff.id
    )


def test_check_in_says_when_it_opens(client, session):
    """Days before the start, the activity and its check-in page say when check-in opens
    (the time, not a rule to work out) and the activity page offers no code field yet."""
    community, staff, member = _world(session)
    activity = make_activity(session, community, staff, capacity=5, starts_in_hours=72)
    login(client, member)
    url = f"/activities/{activity.id}"
    assert client.post(f"{url}/signup", data={"csrf_token": _csrf(client, url)}).status_code == 302
    client.set_cookie("fufen_lang", "en")
    opens = (activity.starts_at - svc.CHECKIN_OPENS_BEFORE).astimezone(dt.timezone(dt.timedelta(hours=8)))
    when = opens.strftime("%Y-%m-%d\u00a0%H:%M")
    detail = client.get(url).get_data(as_text=True)
    assert f"Check-in opens at {when}." in detail and 'name="code"' not in detail
    check = client.get(f"{url}/check?phase=in").get_data(as_text=True)
    assert f"Check-in opens at {when}." in check
