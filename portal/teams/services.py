"""志愿队伍 — the rules.

Who may do what:

* **create** a team: any member of the community who may volunteer there (lives there,
  or holds the party-member or staff role there). The creator becomes its first leader,
  and that membership counts against their team cap. Staff may also create teams.
* **join / leave**: members of the community; at most ``team_cap`` live memberships in the
  community (community setting, default 2). A team's last leader cannot leave while
  other members remain: hand over first.
* **appoint a leader**: the team's leaders (hand-over) and the community's staff.
  **step down**: a leader, while another leader remains.
* **close** a team (``is_active = False``): staff; every live membership ends.

Phone numbers of members: masked for everyone except the staff of the team's community.

Concurrency: joining locks the joiner's user row (cap), then the team row; leaving and
leadership changes lock the team row, so "a team with members has a leader" holds.
Nothing here commits; refusals are audited by ``audit_refusals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.db import utcnow
from portal.audit.services import record
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.masking import mask_phone
from portal.people.models import User
from portal.places.models import Community
from portal.places.services import get_community
from portal.policy import is_member, is_staff
from portal.settings.services import get_settings
from portal.volunteering.rules import audit_refusals, can_volunteer, clean, is_team_leader, lock
from portal.volunteering.teams import Team, TeamMembership, TeamRole

NAME_MAX = 60
DESCRIPTION_MAX = 2000


# --- functions other features call ----------------------------------------------------------


def team_cap(session: Session, community_id: int) -> int:
    return get_settings(session, community_id).team_cap


# --- lookups -------------------------------------------------------------------------------


def _community(session: Session, community_id: int) -> Community:
    return get_community(session, community_id)


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(_l("This team does not exist."), code="team_not_found")
    return team


def _membership(session: Session, team_id: int, user_id: int) -> TeamMembership | None:
    return session.scalar(
        select(TeamMembership).where(
            TeamMembership.team_id == team_id,
            TeamMembership.user_id == user_id,
            TeamMembership.left_at.is_(None),
        )
    )


def _live_members(session: Session, team_id: int) -> list[TeamMembership]:
    return list(
        session.scalars(
            select(TeamMembership)
            .where(TeamMembership.team_id == team_id, TeamMembership.left_at.is_(None))
            .options(selectinload(TeamMembership.user))
            .order_by(TeamMembership.role, TeamMembership.joined_at, TeamMembership.id)
        )
    )


def _live_count_in_community(session: Session, user_id: int, community_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(TeamMembership)
            .join(Team, Team.id == TeamMembership.team_id)
            .where(
                TeamMembership.user_id == user_id,
                TeamMembership.community_id == community_id,
                TeamMembership.left_at.is_(None),
                Team.is_active.is_(True),
            )
        )
        or 0
    )


def _leaders(members: list[TeamMembership]) -> list[TeamMembership]:
    return [m for m in members if m.role == TeamRole.LEADER]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    team: Team
    members: int
    mine: TeamMembership | None


@audit_refusals("teams.list", target="community")
def community_teams(session: Session, actor: User, community_id: int) -> list[TeamRow]:
    community = _community(session, community_id)
    if not is_member(actor, community):
        raise Forbidden(_l("You are not a member of this community."), code="not_member")
    teams = list(
        session.scalars(
            select(Team).where(Team.community_id == community.id, Team.is_active.is_(True)).order_by(Team.id)
        )
    )
    ids = [t.id for t in teams]
    counts: dict[int, int] = {}
    mine: dict[int, TeamMembership] = {}
    if ids:
        counts = {
            int(tid): int(n)
            for tid, n in session.execute(
                select(TeamMembership.team_id, func.count())
                .where(TeamMembership.team_id.in_(ids), TeamMembership.left_at.is_(None))
                .group_by(TeamMembership.team_id)
            )
        }
        for m in session.scalars(
            select(TeamMembership).where(
                TeamMembership.team_id.in_(ids),
                TeamMembership.user_id == actor.id,
                TeamMembership.left_at.is_(None),
            )
        ):
            mine[m.team_id] = m
    return [TeamRow(team=t, members=counts.get(t.id, 0), mine=mine.get(t.id)) for t in teams]


@dataclass(frozen=True)
class MemberView:
    membership: TeamMembership
    name: str
    phone: str  # full for staff of the community, masked for everyone else

    @property
    def is_leader(self) -> bool:
        return self.membership.role == TeamRole.LEADER


@dataclass(frozen=True)
class TeamPage:
    team: Team
    members: list[MemberView]
    mine: TeamMembership | None
    is_staff: bool
    is_leader: bool
    can_join: bool
    activities: list[Any]


def team_activities(session: Session, team_id: int, limit: int = 20) -> list[Any]:
    """The team's activities (newest first), once the activities feature exists."""
    try:
        from portal.volunteering.activities import Activity
    except ImportError:
        return []
    team_col = getattr(Activity, "team_id", None)
    if team_col is None:
        return []
    order = getattr(Activity, "starts_at", Activity.id)
    return list(
        session.scalars(select(Activity).where(team_col == team_id).order_by(order.desc()).limit(limit))
    )


@audit_refusals("teams.view", target="team")
def team_page(session: Session, actor: User, team_id: int) -> TeamPage:
    team = _team(session, team_id)
    community = team.community
    if not is_member(actor, community):
        raise Forbidden(_l("You are not a member of this community."), code="not_member")
    staff = is_staff(actor, community)
    members = _live_members(session, team.id)
    views = [
        MemberView(
            membership=m, name=m.user.display_name, phone=m.user.phone if staff else mask_phone(m.user.phone)
        )
        for m in members
    ]
    mine = next((m for m in members if m.user_id == actor.id), None)
    return TeamPage(
        team=team,
        members=views,
        mine=mine,
        is_staff=staff,
        is_leader=mine is not None and mine.role == TeamRole.LEADER,
        can_join=team.is_active and mine is None and can_volunteer(actor, team.community_id),
        activities=team_activities(session, team.id),
    )


# --- changes -------------------------------------------------------------------------------


def _check_cap(session: Session, actor: User, community_id: int) -> None:
    cap = team_cap(session, community_id)
    if _live_count_in_community(session, actor.id, community_id) >= cap:
        raise Conflict(
            _l(
                "You are already in %(n)d teams, the most this community allows. "
                "Leave one before joining another.",
                n=cap,
            ),
            code="team_cap",
        )


def _add_member(session: Session, team: Team, user_id: int, role: TeamRole) -> TeamMembership:
    membership = TeamMembership(team_id=team.id, user_id=user_id, community_id=team.community_id, role=role)
    try:
        with session.begin_nested():
            session.add(membership)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("You are already a member of this team."), code="already_member") from None
    return membership


@audit_refusals("teams.create", target="community")
def create_team(session: Session, actor: User, community_id: int, name: str, description: str = "") -> Team:
    community = _community(session, community_id)
    if not can_volunteer(actor, community.id):
        raise Forbidden(_l("You can only create teams in your own community."), code="other_community")
    name = clean(name, NAME_MAX, _l("Team name"), required=True)
    description = clean(description, DESCRIPTION_MAX, _l("Description"), multiline=True)
    lock(session, User, actor.id)
    if session.scalar(select(Team.id).where(Team.community_id == community.id, Team.name == name)):
        raise Conflict(_l("A team with this name already exists."), code="duplicate", field="name")
    _check_cap(session, actor, community.id)
    team = Team(community_id=community.id, name=name, description=description, created_by_id=actor.id)
    try:
        with session.begin_nested():
            session.add(team)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("A team with this name already exists."), code="duplicate", field="name") from None
    _add_member(session, team, actor.id, TeamRole.LEADER)
    record(
        session,
        "teams.create",
        actor_id=actor.id,
        community_id=community.id,
        target=("team", team.id),
        name=name,
    )
    return team


@audit_refusals("teams.join", target="team")
def join_team(session: Session, actor: User, team_id: int) -> TeamMembership:
    team = _team(session, team_id)
    if not can_volunteer(actor, team.community_id):
        raise Forbidden(_l("You can only join teams in your own community."), code="other_community")
    lock(session, User, actor.id)
    team = lock(session, Team, team.id)
    if not team.is_active:
        raise Conflict(_l("This team is closed."), code="team_closed")
    if _membership(session, team.id, actor.id) is not None:
        raise Conflict(_l("You are already a member of this team."), code="already_member")
    _check_cap(session, actor, team.community_id)
    leaders = _leaders(_live_members(session, team.id))
    # A team that lost all its members gets its next member as leader.
    membership = _add_member(session, team, actor.id, TeamRole.MEMBER if leaders else TeamRole.LEADER)
    record(session, "teams.join", actor_id=actor.id, community_id=team.community_id, target=("team", team.id))
    from flask import has_request_context, url_for

    from portal.notifications.services import notify

    link = url_for("teams.detail", team_id=team.id) if has_request_context() else None
    for leader in leaders:
        notify(
            session,
            leader.user_id,
            "teams.joined",
            _l("%(name)s joined your team %(team)s", name=actor.display_name, team=team.name),
            link=link,
            dedupe_key=f"teams.joined:{membership.id}:{leader.user_id}",
        )
    return membership


@audit_refusals("teams.leave", target="team")
def leave_team(session: Session, actor: User, team_id: int) -> TeamMembership:
    team = _team(session, team_id)
    team = lock(session, Team, team.id)
    mine = _membership(session, team.id, actor.id)
    if mine is None:
        raise Conflict(_l("You are not a member of this team."), code="not_member")
    members = _live_members(session, team.id)
    if mine.role == TeamRole.LEADER and len(_leaders(members)) == 1 and len(members) > 1:
        raise Conflict(
            _l("You are the team's only leader. Hand over to another member before leaving."),
            code="last_leader",
        )
    mine.left_at = utcnow()
    session.flush()
    record(
        session, "teams.leave", actor_id=actor.id, community_id=team.community_id, target=("team", team.id)
    )
    return mine


@audit_refusals("teams.leader", target="team")
def make_leader(
    session: Session, actor: User, team_id: int, user_id: int, *, step_down: bool = False
) -> TeamMembership:
    """A leader hands over (``step_down=True`` also makes the actor a plain member) or
    staff appoint a leader."""
    team = _team(session, team_id)
    staff = is_staff(actor, team.community)
    if not staff and not is_team_leader(session, actor.id, team.id):
        raise Forbidden(
            _l("Only the team's leaders and the community staff can appoint leaders."), code="not_leader"
        )
    team = lock(session, Team, team.id)
    if not team.is_active:
        raise Conflict(_l("This team is closed."), code="team_closed")
    target = _membership(session, team.id, user_id)
    if target is None:
        raise ServiceError(_l("This person is not a member of the team."), code="not_team_member")
    if target.role == TeamRole.LEADER and not step_down:
        raise Conflict(_l("This member is already a leader."), code="already_leader")
    target.role = TeamRole.LEADER
    if step_down and target.user_id != actor.id:
        mine = _membership(session, team.id, actor.id)
        if mine is not None:
            mine.role = TeamRole.MEMBER
    session.flush()
    record(
        session,
        "teams.leader",
        actor_id=actor.id,
        community_id=team.community_id,
        target=("team", team.id),
        user_id=user_id,
        step_down=step_down,
    )
    from portal.notifications.services import notify

    if target.user_id != actor.id:
        notify(
            session,
            target.user_id,
            "teams.leader",
            _l("You are now a leader of the team %(team)s", team=team.name),
        )
    return target


@audit_refusals("teams.step_down", target="team")
def step_down(session: Session, actor: User, team_id: int) -> TeamMembership:
    team = _team(session, team_id)
    team = lock(session, Team, team.id)
    mine = _membership(session, team.id, actor.id)
    if mine is None or mine.role != TeamRole.LEADER:
        raise Conflict(_l("You are not a leader of this team."), code="not_leader")
    if len(_leaders(_live_members(session, team.id))) < 2:
        raise Conflict(
            _l("A team needs at least one leader. Appoint another leader first."), code="last_leader"
        )
    mine.role = TeamRole.MEMBER
    session.flush()
    record(
        session,
        "teams.step_down",
        actor_id=actor.id,
        community_id=team.community_id,
        target=("team", team.id),
    )
    return mine


@audit_refusals("teams.close", target="team")
def close_team(session: Session, actor: User, team_id: int) -> Team:
    team = _team(session, team_id)
    if not is_staff(actor, team.community):
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    team = lock(session, Team, team.id)
    if not team.is_active:
        raise Conflict(_l("This team is closed."), code="team_closed")
    team.is_active = False
    now = utcnow()
    for m in _live_members(session, team.id):
        m.left_at = now
    session.flush()
    record(
        session, "teams.close", actor_id=actor.id, community_id=team.community_id, target=("team", team.id)
    )
    return team
