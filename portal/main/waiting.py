"""What waits for staff and street admins (read-only; grouped queries, so a street with
fifty communities costs the same handful of statements as one community)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.people.models import User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Community

# A wish nobody has taken for this long needs staff to find a helper.
STALE_WISH = dt.timedelta(days=3)


@dataclass(frozen=True)
class Waiting:
    community: Community
    reports: int = 0  # 报到 waiting for confirmation
    hours: int = 0  # hour logs waiting for approval (not the viewer's own)
    wishes: int = 0  # open wishes without a helper for STALE_WISH
    needs: int = 0  # residents' needs not yet matched to a project

    @property
    def total(self) -> int:
        return self.reports + self.hours + self.wishes + self.needs


def _grouped(session: Session, stmt: Select[tuple[int, int]]) -> dict[int, int]:
    return {int(cid): int(n) for cid, n in session.execute(stmt)}


def waiting_for(
    session: Session, actor: User, communities: Sequence[Community], now: dt.datetime | None = None
) -> list[Waiting]:
    """Counts for communities the caller already checked ``actor`` may manage."""
    from portal.needs.services import open_need_counts
    from portal.volunteering.hour_logs import pending_counts
    from portal.volunteering.wishes import Wish, WishStatus

    ids = [c.id for c in communities]
    if not ids:
        return []
    now = now or utcnow()
    reports = _grouped(
        session,
        select(PartyReport.community_id, func.count())
        .where(PartyReport.community_id.in_(ids), PartyReport.status == ReportStatus.PENDING)
        .group_by(PartyReport.community_id),
    )
    hours = pending_counts(session, actor, ids)
    wishes = _grouped(
        session,
        select(Wish.community_id, func.count())
        .where(Wish.community_id.in_(ids), Wish.status == WishStatus.OPEN, Wish.created_at < now - STALE_WISH)
        .group_by(Wish.community_id),
    )
    needs = open_need_counts(session, ids)
    return [
        Waiting(c, reports.get(c.id, 0), hours.get(c.id, 0), wishes.get(c.id, 0), needs.get(c.id, 0))
        for c in communities
    ]
