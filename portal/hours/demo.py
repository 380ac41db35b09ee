"""Demo hour logs: approved (paid through the ledger, so balances show) and pending ones
for the demo volunteers of 幸福里社区. Idempotent: a volunteer who already has hour logs
gets nothing new."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.people.models import User
from portal.volunteering import hour_logs as svc
from portal.volunteering.hours import HourLog, HourSource
from portal.volunteering.recording import record_hours

STAFF_PHONE = "13900000011"  # 李秀梅, staff of 幸福里社区
# phone → [(days ago, local start hour, minutes, what, approve?)]
PLAN = {
    "13900000101": [
        (20, 9, 120, "清扫2号楼楼道，清理小广告", True),
        (12, 15, 90, "陪孙桂兰阿姨去社区卫生站", True),
        (2, 9, 60, "社区垃圾分类宣传值守", False),
    ],
    "13900000102": [(15, 14, 120, "为楼栋老人测量血压", True), (3, 10, 90, "整理社区图书角", False)],
    "13900000103": [(9, 19, 60, "夜间巡楼，检查消防通道", True), (1, 19, 60, "夜间巡楼", False)],
}


def seed(session: Session) -> None:
    staff = session.scalar(select(User).where(User.phone == STAFF_PHONE))
    if staff is None or staff.community_id is None:
        return
    now = utcnow()
    to_approve: list[int] = []
    for phone, items in PLAN.items():
        user = session.scalar(select(User).where(User.phone == phone))
        if user is None or user.community_id is None:
            continue
        if (
            session.scalar(
                select(HourLog.id)
                .where(HourLog.user_id == user.id, HourLog.source == HourSource.OTHER)
                .limit(1)
            )
            is not None
        ):
            continue
        for days, hour, minutes, what, approve in items:
            day = (now.astimezone(LOCAL_TZ) - dt.timedelta(days=days)).date()
            start = dt.datetime.combine(day, dt.time(hour), tzinfo=LOCAL_TZ).astimezone(dt.UTC)
            log = record_hours(
                session,
                user_id=user.id,
                community_id=user.community_id,
                source="other",
                source_id=None,
                started_at=start,
                ended_at=start + dt.timedelta(minutes=minutes),
                description=what,
                reported_by=user,
                now=now,
            )
            if approve:
                to_approve.append(log.id)
    if to_approve:
        svc.approve(session, staff, to_approve, now=now)
