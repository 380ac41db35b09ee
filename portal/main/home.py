"""What the home page shows: things I can do now, my hours and 福分; for staff, the
approval queue and today's activities. Read-only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.accounts.models import User
from portal.community.models import Community


@dataclass
class StaffLine:
    community: Community
    pending_hours: int
    today: list[Any] = field(default_factory=list)


@dataclass
class HomeData:
    open_posts: list[Any] = field(default_factory=list)
    activities: list[Any] = field(default_factory=list)
    wishes: list[Any] = field(default_factory=list)
    year_minutes: int = 0
    staff: list[StaffLine] = field(default_factory=list)
    party_cards: list[Any] = field(default_factory=list)
    year: int = 0


def home_data(session: Session, user: User, now: dt.datetime | None = None) -> HomeData:
    from portal.activities.models import Activity, ActivityStatus
    from portal.community.services import staff_communities
    from portal.compliance.services import my_progress
    from portal.hours.services import LOCAL_TZ, approved_minutes, local_day_bounds, local_year, pending_count
    from portal.posts.services import open_posts
    from portal.wishes.services import open_wishes

    now = now or utcnow()
    year = local_year(now)
    data = HomeData(year=year, year_minutes=approved_minutes(session, user.id, year))
    cid = user.community_id
    if cid is not None:
        data.open_posts = [r for r in open_posts(session, user, cid) if r.my_claim is None][:3]
        data.activities = list(
            session.scalars(
                select(Activity)
                .where(
                    Activity.community_id == cid,
                    Activity.status == ActivityStatus.PUBLISHED,
                    Activity.starts_at > now,
                )
                .order_by(Activity.starts_at)
                .limit(3)
            )
        )
        data.wishes = open_wishes(session, cid, exclude_user=user.id, limit=3)
    start, end = local_day_bounds(now.astimezone(LOCAL_TZ).date())
    for community in staff_communities(session, user):
        today = list(
            session.scalars(
                select(Activity)
                .where(
                    Activity.community_id == community.id,
                    Activity.status != ActivityStatus.CANCELLED,
                    Activity.starts_at >= start,
                    Activity.starts_at < end,
                )
                .order_by(Activity.starts_at)
            )
        )
        data.staff.append(StaffLine(community, pending_count(session, user, community.id), today))
    data.party_cards = my_progress(session, user, year)
    return data
