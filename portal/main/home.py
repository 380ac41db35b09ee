"""What the home page shows: things I can do now, my hours and 福分; for staff, the
approval queue and today's activities. Read-only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.people.models import User
from portal.places.models import Community


@dataclass
class StaffLine:
    community: Community
    pending_hours: int
    today: list[Any] = field(default_factory=list)
    waiting: Any = None  # portal.main.waiting.Waiting


@dataclass
class StreetLine:
    street: Any
    communities: list[Any] = field(default_factory=list)  # Waiting per community

    @property
    def total(self) -> int:
        return sum(w.total for w in self.communities)


@dataclass
class ShopLine:
    community_id: int
    org_key: int
    name: str


@dataclass
class HomeData:
    open_posts: list[Any] = field(default_factory=list)
    activities: list[Any] = field(default_factory=list)
    wishes: list[Any] = field(default_factory=list)
    year_minutes: int = 0
    staff: list[StaffLine] = field(default_factory=list)
    party_cards: list[Any] = field(default_factory=list)
    year: int = 0
    streets: list[StreetLine] = field(default_factory=list)
    shops: list[ShopLine] = field(default_factory=list)
    is_unit: bool = False  # speaks for a partner unit (三单)


def home_data(session: Session, user: User, now: dt.datetime | None = None) -> HomeData:
    from core.clock import LOCAL_TZ, local_day_bounds, local_year
    from portal.compliance.services import my_progress
    from portal.main.waiting import waiting_for
    from portal.needs.services import unit_ids
    from portal.places.models import Organisation, OrgKind
    from portal.policy import administered_streets, staff_communities
    from portal.posts.services import open_posts
    from portal.rewards.services import scopes_for
    from portal.volunteering.activities import Activity, ActivityStatus
    from portal.volunteering.hour_logs import approved_minutes
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
    streets = administered_streets(session, user)
    street_ids = {s.id for s in streets}
    managed = staff_communities(session, user)
    # A street admin sees their streets as one card each; their own staff posts in other
    # streets still get a card per community.
    own = [c for c in managed if c.street_id not in street_ids]
    waiting = {w.community.id: w for w in waiting_for(session, user, managed, now)}
    for street in streets:
        data.streets.append(
            StreetLine(
                street, [waiting[c.id] for c in managed if c.street_id == street.id and c.id in waiting]
            )
        )
    units = unit_ids(user)
    if units:  # no query for the many who speak for no organisation
        data.is_unit = any(
            o.kind == OrgKind.PARTNER
            for o in session.scalars(select(Organisation).where(Organisation.id.in_(units)))
        )
    data.shops = [
        ShopLine(s.community_id, s.org_key, s.name) for s in scopes_for(session, user) if s.organisation_id
    ]
    for community in own:
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
        w = waiting[community.id]
        data.staff.append(StaffLine(community, w.hours, today, w))
    data.party_cards = my_progress(session, user, year)
    return data
