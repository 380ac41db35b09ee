"""在职党员 compliance: each confirmed party member's year at a glance.

A member is anyone holding ``Role.PARTY_MEMBER`` in the community (granted when staff
confirm their 报到). For the year (Asia/Shanghai calendar):
* posts — service posts they hold now (PostClaim ``active``) in this community;
* teams — live team memberships (``left_at`` NULL) in this community;
* activities — sign-ups marked ``present`` for activities starting in that year;
* hours / points — approved hour logs started in that year (reversed ones do not count).

Every figure counts this community only: a member who also volunteers elsewhere is
reported there for that work (issue 9 #12).
A member is *behind* when they hold no post, belong to no team, or attended fewer
activities than ``party_activity_goal``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import BytesIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import year_bounds
from portal.audit.services import record, record_refusal
from portal.errors import Forbidden
from portal.exports import safe_cell
from portal.people.masking import mask_phone
from portal.people.models import Role, RoleAssignment, User
from portal.places.models import Community
from portal.policy import is_staff
from portal.settings.services import get_settings
from portal.volunteering.hours import HourLog, HourStatus


@dataclass
class MemberYear:
    user_id: int
    name: str
    phone: str
    posts: int
    teams: int
    activities: int
    goal: int
    minutes: int
    points: int

    @property
    def behind(self) -> bool:
        return self.posts < 1 or self.teams < 1 or self.activities < self.goal

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


def _counts(session: Session, q: object) -> dict[int, int]:
    return {uid: int(n) for uid, n in session.execute(q)}  # type: ignore[call-overload]


def year_rows(
    session: Session,
    community_id: int,
    year: int,
    user_ids: list[int] | None = None,
    *,
    include_inactive: bool = False,
) -> list[MemberYear]:
    from portal.volunteering.activities import Activity, ActivitySignup, Attendance
    from portal.volunteering.posts import ClaimStatus, PostClaim
    from portal.volunteering.teams import TeamMembership

    goal = get_settings(session, community_id).party_activity_goal
    members_q = (
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == Role.PARTY_MEMBER, RoleAssignment.community_id == community_id)
        .order_by(User.display_name, User.id)
    )
    if user_ids is not None:
        members_q = members_q.where(User.id.in_(user_ids))
    if not include_inactive:  # deactivated members only when asked for (issue 9 #11)
        members_q = members_q.where(User.is_active.is_(True))
    members = list(session.scalars(members_q).unique())
    ids = [m.id for m in members]
    if not ids:
        return []
    start, end = year_bounds(year)
    posts = _counts(
        session,
        select(PostClaim.user_id, func.count())
        .where(
            PostClaim.user_id.in_(ids),
            PostClaim.community_id == community_id,
            PostClaim.status == ClaimStatus.ACTIVE,
        )
        .group_by(PostClaim.user_id),
    )
    teams = _counts(
        session,
        select(TeamMembership.user_id, func.count())
        .where(
            TeamMembership.user_id.in_(ids),
            TeamMembership.community_id == community_id,
            TeamMembership.left_at.is_(None),
        )
        .group_by(TeamMembership.user_id),
    )
    acts = _counts(
        session,
        select(ActivitySignup.user_id, func.count())
        .join(Activity, Activity.id == ActivitySignup.activity_id)
        .where(
            ActivitySignup.user_id.in_(ids),
            ActivitySignup.attendance == Attendance.PRESENT,
            Activity.community_id == community_id,
            Activity.starts_at >= start,
            Activity.starts_at < end,
        )
        .group_by(ActivitySignup.user_id),
    )
    hours = {
        uid: (int(m), int(p))
        for uid, m, p in session.execute(
            select(
                HourLog.user_id,
                func.coalesce(func.sum(HourLog.minutes), 0),
                func.coalesce(func.sum(HourLog.points), 0),
            )
            .where(
                HourLog.user_id.in_(ids),
                HourLog.community_id == community_id,
                HourLog.status == HourStatus.APPROVED,
                HourLog.started_at >= start,
                HourLog.started_at < end,
            )
            .group_by(HourLog.user_id)
        )
    }
    return [
        MemberYear(
            user_id=m.id,
            name=m.real_name or m.display_name,
            phone=m.phone,
            posts=posts.get(m.id, 0),
            teams=teams.get(m.id, 0),
            activities=acts.get(m.id, 0),
            goal=goal,
            minutes=hours.get(m.id, (0, 0))[0],
            points=hours.get(m.id, (0, 0))[1],
        )
        for m in members
    ]


def _staff_community(session: Session, actor: User, community_id: int, action: str) -> Community:
    community = session.get(Community, community_id)
    if community is None or not is_staff(actor, community):
        record_refusal(session, f"compliance.{action}", actor_id=actor.id, community_id=community_id)
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    return community


def community_overview(
    session: Session,
    actor: User,
    community_id: int,
    year: int,
    *,
    behind_only: bool = False,
    include_inactive: bool = False,
) -> list[MemberYear]:
    _staff_community(session, actor, community_id, "view")
    rows = year_rows(session, community_id, year, include_inactive=include_inactive)
    return [r for r in rows if r.behind] if behind_only else rows


def my_progress(session: Session, user: User, year: int) -> list[tuple[Community, MemberYear]]:
    """The member's own card, one per community where they are a party member."""
    out = []
    for ra in user.roles:
        if ra.role == Role.PARTY_MEMBER and ra.community_id is not None:
            rows = year_rows(session, ra.community_id, year, [user.id])
            community = session.get(Community, ra.community_id)
            if rows and community is not None:
                out.append((community, rows[0]))
    return out


def export_xlsx(
    session: Session, actor: User, community_id: int, year: int, *, behind_only: bool = False
) -> bytes:
    """Spreadsheet with full phone numbers: staff of that community only; audited."""
    from openpyxl import Workbook

    community = _staff_community(session, actor, community_id, "export")
    rows = community_overview(session, actor, community_id, year, behind_only=behind_only)
    wb = Workbook()
    ws = wb.active
    ws.title = str(year)
    ws.append(
        [
            str(_l("Name")),
            str(_l("Phone")),
            str(_l("Posts")),
            str(_l("Teams")),
            str(_l("Activities attended")),
            str(_l("Activity goal")),
            str(_l("Approved hours")),
            str(_l("Points earned")),
            str(_l("Behind")),
        ]
    )
    for r in rows:
        ws.append(
            [
                _safe(r.name),
                r.phone,
                r.posts,
                r.teams,
                r.activities,
                r.goal,
                r.hours,
                r.points,
                str(_l("Yes")) if r.behind else "",
            ]
        )
    buf = BytesIO()
    wb.save(buf)
    record(
        session,
        "compliance.export",
        actor_id=actor.id,
        community_id=community.id,
        year=year,
        rows=len(rows),
        behind_only=behind_only,
    )
    return buf.getvalue()


def _safe(value: str) -> str:
    return str(safe_cell(value))


def current_year(now: dt.datetime | None = None) -> int:
    from core.clock import local_year

    return local_year(now)
