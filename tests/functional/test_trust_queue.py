"""Issue 9 #1 through the pages: the approval queue shows what each line and the whole
batch pay, the month's budget, and "approve all" pays only the total it showed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.db import utcnow
from portal.people.models import Role
from portal.settings.services import settings_for_update
from portal.volunteering.hours import HourLog, HourSource, HourStatus
from tests.factories import login, make_community, make_user


def _log(session, user, community, start, minutes=60, flat=None):
    log = HourLog(
        community_id=community.id,
        user_id=user.id,
        source=HourSource.OTHER,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=minutes),
        minutes=minutes,
        points_flat=flat,
        description="巡楼",
        reported_by_id=user.id,
        status=HourStatus.PENDING,
    )
    session.add(log)
    session.flush()
    return log


def test_queue_shows_points_per_line_batch_total_and_budget(client, session):
    client.set_cookie("fufen_lang", "en")
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    vol = make_user(session, community=community)
    base = utcnow() - dt.timedelta(days=2)
    _log(session, vol, community, base, minutes=15, flat=5000)  # what the old queue showed as "15 min"
    _log(session, vol, community, base + dt.timedelta(hours=2), minutes=60)  # 10 at the default rate
    settings_for_update(session, community.id).monthly_issue_budget = 1000
    session.flush()
    login(client, staff)
    html = client.get(f"/hours/review?community_id={community.id}").get_data(as_text=True)
    assert "5000 Fufen points" in html and "10 Fufen points" in html
    assert "pays 5010 Fufen points" in html and 'name="expected_points" value="5010"' in html
    assert "0 of 1000" in html and "More than this month" in html
    # Approving all is refused as a whole: it would exceed the budget.
    resp = client.post(
        "/hours/review/approve",
        data={
            "all_matching": "1",
            "community_id": community.id,
            "status": "pending",
            "expected_points": "5010",
        },
    )
    assert resp.status_code == 409 and "budget" in resp.get_data(as_text=True)
    settings_for_update(session, community.id).monthly_issue_budget = 100000
    session.flush()
    # A total that differs from the one shown (an entry was added meanwhile) is not approved.
    resp = client.post(
        "/hours/review/approve",
        data={
            "all_matching": "1",
            "community_id": community.id,
            "status": "pending",
            "expected_points": "10",
        },
    )
    assert resp.status_code == 409
    approved = select(func.count()).select_from(HourLog).where(HourLog.status == HourStatus.APPROVED)
    assert session.scalar(approved) == 0
    resp = client.post(
        "/hours/review/approve",
        data={
            "all_matching": "1",
            "community_id": community.id,
            "status": "pending",
            "expected_points": "5010",
        },
    )
    assert resp.status_code == 302
    session.expire_all()
    assert session.scalar(approved) == 2
