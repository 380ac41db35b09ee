"""Demo activities for the demo street (see ``portal/demo.py``): upcoming and past 集中活动
in each community, with sign-ups and, for past ones, attendance. The hour logs for past
attendance come from the hours feature's demo. Idempotent: activities are looked up by
community and title."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.people.models import User
from portal.places.models import Community
from portal.volunteering.activities import Activity, ActivitySignup, ActivityStatus, Attendance, SignupStatus

TZ = LOCAL_TZ

# community name, staff phone, leader phone, participants' phones
COMMUNITIES = [
    (
        "幸福里社区",
        "13900000011",
        "13900000101",
        ["13900000101", "13900000102", "13900000103", "13900000302"],
    ),
    ("和平路社区", "13900000021", "13900000201", ["13900000201", "13900000303"]),
]

# title, days from today, start hour, hours, capacity, points rule, place, description
ACTIVITIES: list[dict[str, Any]] = [
    {
        "title": "垃圾分类宣传",
        "days": 3,
        "hour": 9,
        "hours": 2,
        "capacity": 10,
        "points_per_hour": None,
        "place": "小区南门宣传点",
        "description": "向居民讲解垃圾分类知识，发放宣传册，指导正确投放。",
    },
    {
        "title": "反诈宣传进楼栋",
        "days": 7,
        "hour": 19,
        "hours": 1.5,
        "capacity": 3,
        "points_flat": 20,
        "place": "各楼栋一层大厅",
        "description": "和社区民警一起讲解常见电信诈骗手法，帮助老人安装国家反诈中心App。",
    },
    {
        "title": "敬老院慰问",
        "days": -6,
        "hour": 14,
        "hours": 2,
        "capacity": 8,
        "points_per_hour": 15,
        "place": "城关街道敬老院",
        "description": "为老人表演节目、理发、陪聊，送去生活用品。",
    },
    {
        "title": "社区大扫除",
        "days": -20,
        "hour": 8,
        "hours": 3,
        "capacity": 20,
        "points_per_hour": None,
        "place": "小区公共区域",
        "description": "清理楼道杂物、绿化带垃圾和小广告。",
    },
]


def _user(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def seed(session: Session) -> None:
    today = utcnow().astimezone(TZ).date()
    for community_name, staff_phone, leader_phone, phones in COMMUNITIES:
        community = session.scalar(select(Community).where(Community.name == community_name))
        staff, leader = _user(session, staff_phone), _user(session, leader_phone)
        if community is None or staff is None or leader is None:
            continue
        people = [u for u in (_user(session, p) for p in phones) if u is not None]
        for spec in ACTIVITIES:
            if (
                session.scalar(
                    select(Activity.id).where(
                        Activity.community_id == community.id, Activity.title == spec["title"]
                    )
                )
                is not None
            ):
                continue
            day = today + dt.timedelta(days=spec["days"])
            starts = dt.datetime(day.year, day.month, day.day, spec["hour"], tzinfo=TZ).astimezone(dt.UTC)
            ends = starts + dt.timedelta(hours=spec["hours"])
            past = spec["days"] < 0
            activity = Activity(
                community_id=community.id,
                title=spec["title"],
                description=spec["description"],
                place=spec["place"],
                starts_at=starts,
                ends_at=ends,
                capacity=spec["capacity"],
                signup_deadline=starts - dt.timedelta(hours=12),
                points_per_hour=spec.get("points_per_hour"),
                points_flat=spec.get("points_flat"),
                leader_id=leader.id,
                created_by_id=staff.id,
                created_at=starts - dt.timedelta(days=10),
                code_secret=secrets.token_hex(32),
                status=ActivityStatus.FINISHED if past else ActivityStatus.PUBLISHED,
                finished_at=ends + dt.timedelta(minutes=30) if past else None,
            )
            session.add(activity)
            session.flush()
            confirmed = 0
            waitlist = 0
            for i, person in enumerate(people):
                row = ActivitySignup(
                    activity_id=activity.id,
                    user_id=person.id,
                    community_id=community.id,
                    created_at=activity.created_at + dt.timedelta(hours=i + 1),
                )
                if confirmed < activity.capacity:
                    row.status = SignupStatus.CONFIRMED
                    confirmed += 1
                else:
                    waitlist += 1
                    row.status, row.waitlist_position = SignupStatus.WAITLISTED, waitlist
                if past and row.status == SignupStatus.CONFIRMED:
                    if i == len(people) - 1 and len(people) > 2:
                        row.attendance = Attendance.NO_SHOW
                        row.marked_by_id = leader.id
                    else:
                        row.attendance = Attendance.PRESENT
                        row.checked_in_at = starts - dt.timedelta(minutes=5 + i)
                        row.checked_out_at = ends + dt.timedelta(minutes=3 + i)
                session.add(row)
            activity.confirmed_count = confirmed
            session.flush()
