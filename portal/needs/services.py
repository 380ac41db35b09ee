"""三单 rules: needs, resources, projects. Services take plain values, a Session and the
acting user; they check role *and* community (ids from URLs are never trusted), flush,
audit and notify, and never commit. State changes are conditional UPDATEs, so two people
clicking at once cannot both move a need or a project.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.audit.services import record, record_refusal
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.needs.models import (
    Need,
    NeedCategory,
    NeedStatus,
    Project,
    ProjectStatus,
    ProjectUpdate,
    Resource,
    ResourceKind,
    Urgency,
)
from portal.notifications.services import notify
from portal.people.models import Role, User
from portal.places.models import Building, Community, Organisation, OrgKind
from portal.places.services import get_community
from portal.policy import is_staff, is_street_admin

TITLE_MAX = 80
TEXT_MAX = 2000
NOTE_MAX = 500
HOURS_MAX = 100
LIVE_PROJECT = (ProjectStatus.DISPATCHED, ProjectStatus.ACCEPTED)

CATEGORY_LABELS = {
    NeedCategory.CARE: _l("Daily care"),
    NeedCategory.HEALTH: _l("Health"),
    NeedCategory.LEGAL: _l("Legal advice"),
    NeedCategory.REPAIR: _l("Repairs"),
    NeedCategory.VENUE: _l("A place to meet"),
    NeedCategory.CULTURE: _l("Culture and sports"),
    NeedCategory.OTHER: _l("Other"),
}
URGENCY_LABELS = {
    Urgency.LOW: _l("Not urgent"),
    Urgency.NORMAL: _l("Normal"),
    Urgency.HIGH: _l("Soon"),
    Urgency.URGENT: _l("Urgent"),
}
RESOURCE_LABELS = {
    ResourceKind.VENUE: _l("Venue"),
    ResourceKind.PARKING: _l("Parking spaces"),
    ResourceKind.CLINIC: _l("Free clinic"),
    ResourceKind.LEGAL: _l("Legal advice"),
    ResourceKind.REPAIR: _l("Repairs"),
    ResourceKind.OTHER: _l("Other"),
}
NEED_STATUS_LABELS = {
    NeedStatus.OPEN: _l("waiting for a match"),
    NeedStatus.MATCHED: _l("being handled"),
    NeedStatus.DONE: _l("done, please confirm"),
    NeedStatus.CONFIRMED: _l("confirmed"),
    NeedStatus.WITHDRAWN: _l("withdrawn"),
}
PROJECT_STATUS_LABELS = {
    ProjectStatus.DISPATCHED: _l("waiting for the unit"),
    ProjectStatus.ACCEPTED: _l("accepted"),
    ProjectStatus.DONE: _l("done"),
    ProjectStatus.CONFIRMED: _l("confirmed"),
    ProjectStatus.CANCELLED: _l("cancelled"),
}


def _refuse(session: Session, actor: User, action: str, err: ServiceError, **detail: Any) -> ServiceError:
    if isinstance(err, Forbidden):
        record_refusal(session, f"needs.{action}", actor_id=actor.id, code=err.code, **detail)
    return err


def _text(value: str | None, limit: int, field: str, *, required: bool, message: Any) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError(message, code="required", field=field)
    if len(value) > limit:
        raise ServiceError(_l("Use at most %(max)d characters.", max=limit), code="too_long", field=field)
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ServiceError(
            _l("The text contains characters that are not allowed."), code="bad_text", field=field
        )
    return value


def _enum(kind: type, value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ServiceError(_l("Choose one of the offered values."), code="bad_value", field=field) from None


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


# --- who is who ----------------------------------------------------------------------------


def unit_ids(user: User) -> set[int]:
    """Organisations ``user`` speaks for (their merchant / partner-unit roles)."""
    if not user.is_active:
        return set()
    return {
        r.organisation_id for r in user.roles if r.role == Role.MERCHANT and r.organisation_id is not None
    }


def _staff_of(session: Session, actor: User, community_id: int, action: str) -> Community:
    community = get_community(session, community_id)
    if not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Only the staff of this community can do this."), code="not_staff"),
            community_id=community_id,
        )
    return community


# --- needs ---------------------------------------------------------------------------------


def create_need(
    session: Session,
    actor: User,
    community_id: int,
    *,
    category: str,
    title: str,
    description: str = "",
    urgency: str = "normal",
    building_id: int | None = None,
    photo_path: str | None = None,
    for_user_id: int | None = None,
) -> Need:
    """A resident posts a need in their own community; staff may post for a resident."""
    community = get_community(session, community_id)
    requester = actor
    if for_user_id is not None and for_user_id != actor.id:
        if not is_staff(actor, community):
            raise _refuse(
                session,
                actor,
                "create",
                Forbidden(_l("Only staff can post a need for someone else."), code="not_staff"),
                community_id=community.id,
            )
        person = session.get(User, for_user_id)
        if person is None or person.community_id != community.id or not person.is_active:
            raise ServiceError(
                _l("Choose a resident of this community."), code="bad_person", field="for_user_id"
            )
        requester = person
    elif actor.community_id != community.id and not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            "create",
            Forbidden(_l("You can post needs only in the community where you live."), code="not_member"),
            community_id=community.id,
        )
    need = Need(
        community_id=community.id,
        requester_id=requester.id,
        created_by_id=actor.id,
        category=_enum(NeedCategory, category, "category"),
        title=_text(
            title, TITLE_MAX, "title", required=True, message=_l("Say in a few words what you need.")
        ),
        description=_text(description, TEXT_MAX, "description", required=False, message=""),
        urgency=_enum(Urgency, urgency or "normal", "urgency"),
        photo_path=photo_path,
        created_at=utcnow(),
    )
    if building_id:
        building = session.get(Building, building_id)
        if building is None or building.community_id != community.id:
            raise ServiceError(
                _l("Choose a building of this community."), code="bad_building", field="building_id"
            )
        need.building_id = building.id
    session.add(need)
    session.flush()
    record(
        session,
        "needs.create",
        actor_id=actor.id,
        community_id=community.id,
        target=("need", need.id),
        category=need.category.value,
        urgency=need.urgency.value,
        for_user_id=requester.id if requester is not actor else None,
    )
    return need


def project_of(session: Session, need_id: int) -> Project | None:
    return session.scalar(select(Project).where(Project.need_id == need_id))


def can_view_need(session: Session, actor: User, need: Need) -> bool:
    if actor.id in (need.requester_id, need.created_by_id):
        return True
    community = session.get(Community, need.community_id)
    if community is not None and is_staff(actor, community):
        return True
    project = project_of(session, need.id)
    return project is not None and project.organisation_id in unit_ids(actor)


def get_need(session: Session, actor: User, need_id: int) -> Need:
    need = session.get(Need, need_id)
    if need is None or not can_view_need(session, actor, need):
        # Someone else's need: the same answer as a missing one.
        raise NotFound(_l("This need does not exist."), code="need_not_found")
    return need


def _move_need(
    session: Session, need: Need, old: tuple[NeedStatus, ...], new: NeedStatus, **values: Any
) -> bool:
    changed = session.execute(
        update(Need)
        .where(Need.id == need.id, Need.status.in_(old))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(need)
    return bool(changed)


def withdraw_need(session: Session, actor: User, need_id: int) -> Need:
    need = get_need(session, actor, need_id)
    community = get_community(session, need.community_id)
    if actor.id != need.requester_id and not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            "withdraw",
            Forbidden(_l("Only the resident or the staff can withdraw this need."), code="not_owner"),
            community_id=need.community_id,
        )
    if not _move_need(session, need, (NeedStatus.OPEN,), NeedStatus.WITHDRAWN):
        raise Conflict(_l("Only a need still waiting for a match can be withdrawn."), code="not_open")
    record(
        session, "needs.withdraw", actor_id=actor.id, community_id=need.community_id, target=("need", need.id)
    )
    return need


def my_needs(session: Session, user: User) -> list[Need]:
    return list(
        session.scalars(
            select(Need)
            .where(or_(Need.requester_id == user.id, Need.created_by_id == user.id))
            .order_by(Need.id.desc())
            .limit(100)
        )
    )


def open_needs(session: Session, actor: User, community_id: int) -> list[Need]:
    """Needs waiting for a match, oldest first (staff)."""
    community = _staff_of(session, actor, community_id, "list")
    return list(
        session.scalars(
            select(Need)
            .where(Need.community_id == community.id, Need.status == NeedStatus.OPEN)
            .order_by(Need.created_at, Need.id)
            .limit(500)
        )
    )


def open_need_counts(session: Session, community_ids: list[int]) -> dict[int, int]:
    if not community_ids:
        return {}
    rows = session.execute(
        select(Need.community_id, func.count())
        .where(Need.community_id.in_(community_ids), Need.status == NeedStatus.OPEN)
        .group_by(Need.community_id)
    )
    return {int(c): int(n) for c, n in rows}


# --- resources -----------------------------------------------------------------------------


def _partner(session: Session, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(_l("This organisation does not exist."), code="org_not_found")
    return org


def create_resource(
    session: Session,
    actor: User,
    organisation_id: int,
    *,
    kind: str,
    title: str,
    description: str = "",
    capacity: int = 1,
    hours: str = "",
) -> Resource:
    """A partner unit's contact (or its street admin) publishes a resource."""
    org = _partner(session, organisation_id)
    if org.id not in unit_ids(actor) and not is_street_admin(actor, org.street_id):
        raise _refuse(
            session,
            actor,
            "resource.create",
            Forbidden(_l("Only the unit itself or the street can publish its resources."), code="not_unit"),
            organisation_id=org.id,
        )
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 100000:
        raise ServiceError(
            _l("Between %(lo)d and %(hi)d.", lo=1, hi=100000), code="bad_capacity", field="capacity"
        )
    resource = Resource(
        street_id=org.street_id,
        organisation_id=org.id,
        community_id=org.community_id,
        kind=_enum(ResourceKind, kind, "kind"),
        title=_text(title, TITLE_MAX, "title", required=True, message=_l("Give the resource a name.")),
        description=_text(description, TEXT_MAX, "description", required=False, message=""),
        capacity=capacity,
        hours=_text(hours, HOURS_MAX, "hours", required=False, message=""),
        created_by_id=actor.id,
    )
    session.add(resource)
    session.flush()
    record(
        session,
        "needs.resource.create",
        actor_id=actor.id,
        community_id=org.community_id,
        target=("resource", resource.id),
        organisation_id=org.id,
    )
    return resource


def resources_for(session: Session, community: Community) -> list[Resource]:
    """Active resources offered to ``community`` (street-wide or its own)."""
    return list(
        session.scalars(
            select(Resource)
            .where(
                Resource.street_id == community.street_id,
                Resource.is_active.is_(True),
                or_(Resource.community_id.is_(None), Resource.community_id == community.id),
            )
            .order_by(Resource.kind, Resource.id)
        )
    )


def partner_units_for(session: Session, community: Community) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .where(
                Organisation.street_id == community.street_id,
                Organisation.kind == OrgKind.PARTNER,
                or_(Organisation.community_id.is_(None), Organisation.community_id == community.id),
            )
            .order_by(Organisation.id)
        )
    )


# --- projects ------------------------------------------------------------------------------


def match_need(
    session: Session,
    actor: User,
    need_id: int,
    *,
    owner_id: int,
    deadline: dt.date,
    resource_id: int | None = None,
    organisation_id: int | None = None,
    team_id: int | None = None,
    post_id: int | None = None,
    title: str = "",
    now: dt.datetime | None = None,
) -> Project:
    """社区下单: staff turn an open need into a project carried by a resource's unit, a
    partner unit, a volunteer team or a service post, with an owner and a deadline."""
    from portal.volunteering.posts import ServicePost
    from portal.volunteering.teams import Team

    need = get_need(session, actor, need_id)
    community = _staff_of(session, actor, need.community_id, "match")
    chosen = [x for x in (resource_id, organisation_id, team_id, post_id) if x]
    if len(chosen) != 1:
        raise ServiceError(
            _l("Choose one resource, partner unit, team or service post."),
            code="one_carrier",
            field="carrier",
        )
    if resource_id:
        resource = session.get(Resource, resource_id)
        if resource is None or resource not in resources_for(session, community):
            raise ServiceError(
                _l("This resource is not offered to this community."), code="bad_resource", field="carrier"
            )
        organisation_id = resource.organisation_id
    elif organisation_id:
        if organisation_id not in {o.id for o in partner_units_for(session, community)}:
            raise ServiceError(
                _l("This unit does not serve this community."), code="bad_unit", field="carrier"
            )
    elif team_id:
        team = session.get(Team, team_id)
        if team is None or team.community_id != community.id:
            raise ServiceError(_l("Choose a team of this community."), code="bad_team", field="carrier")
    elif post_id:
        post = session.get(ServicePost, post_id)
        if post is None or post.community_id != community.id:
            raise ServiceError(
                _l("Choose a service post of this community."), code="bad_post", field="carrier"
            )
    owner = session.get(User, owner_id) if owner_id else None
    if owner is None or not is_staff(owner, community):
        raise ServiceError(
            _l("The owner must be a staff member of this community."), code="bad_owner", field="owner_id"
        )
    if not isinstance(deadline, dt.date) or deadline < local_today(now):
        raise ServiceError(_l("The deadline cannot be in the past."), code="bad_deadline", field="deadline")
    if deadline > local_today(now) + dt.timedelta(days=366):
        raise ServiceError(
            _l("The deadline is more than a year away."), code="bad_deadline", field="deadline"
        )
    title = _text(title, TITLE_MAX, "title", required=False, message="") or need.title
    if not _move_need(session, need, (NeedStatus.OPEN,), NeedStatus.MATCHED):
        raise Conflict(
            _l("This need is no longer waiting for a match; nothing was changed."), code="not_open"
        )
    old = project_of(session, need.id)
    if old is not None:  # a cancelled project is replaced by the new match
        session.delete(old)
        session.flush()
    project = Project(
        community_id=community.id,
        need_id=need.id,
        resource_id=resource_id or None,
        organisation_id=organisation_id or None,
        team_id=team_id or None,
        post_id=post_id or None,
        owner_id=owner.id,
        title=title,
        deadline=deadline,
        created_by_id=actor.id,
        created_at=now or utcnow(),
    )
    session.add(project)
    session.flush()
    if not organisation_id:  # a team or post of the community: no unit to accept it
        project.status = ProjectStatus.ACCEPTED
        project.accepted_at = now or utcnow()
    session.add(ProjectUpdate(project_id=project.id, author_id=actor.id, kind="dispatched"))
    session.flush()
    notify(
        session,
        need.requester_id,
        "needs.matched",
        _l("Your need is being handled: %(title)s", title=need.title),
        link=f"/needs/{need.id}",
        dedupe_key=f"needs.matched:{project.id}",
    )
    if organisation_id:
        for contact in _unit_contacts(session, organisation_id):
            notify(
                session,
                contact,
                "needs.dispatched",
                _l("A new task for your unit: %(title)s", title=project.title),
                link=f"/needs/{need.id}",
                dedupe_key=f"needs.dispatched:{project.id}:{contact}",
            )
    record(
        session,
        "needs.match",
        actor_id=actor.id,
        community_id=community.id,
        target=("project", project.id),
        need_id=need.id,
        organisation_id=organisation_id,
        team_id=team_id,
        post_id=post_id,
        owner_id=owner.id,
    )
    return project


def _unit_contacts(session: Session, organisation_id: int) -> list[int]:
    from portal.people.models import RoleAssignment

    return list(
        session.scalars(
            select(RoleAssignment.user_id)
            .where(RoleAssignment.organisation_id == organisation_id, RoleAssignment.role == Role.MERCHANT)
            .distinct()
        )
    )


def _project(session: Session, actor: User, project_id: int, action: str) -> Project:
    """A project the actor carries: a contact of its unit, or (team/post projects, and
    any project for cancelling) the staff of its community."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(_l("This project does not exist."), code="project_not_found")
    community = get_community(session, project.community_id)
    ok = (
        (project.organisation_id in unit_ids(actor))
        if project.organisation_id
        else is_staff(actor, community)
    )
    if action == "cancel":
        ok = is_staff(actor, community)
    if not ok:
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Only the unit carrying this project can do this."), code="not_carrier"),
            community_id=project.community_id,
            project_id=project.id,
        )
    return project


def _move_project(
    session: Session, project: Project, old: tuple[ProjectStatus, ...], new: ProjectStatus, **values: Any
) -> bool:
    changed = session.execute(
        update(Project)
        .where(Project.id == project.id, Project.status.in_(old))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(project)
    return bool(changed)


def _story(session: Session, project: Project, actor: User, kind: str, note: str = "") -> None:
    session.add(ProjectUpdate(project_id=project.id, author_id=actor.id, kind=kind, note=note))
    session.flush()
    record(
        session,
        f"needs.project.{kind}",
        actor_id=actor.id,
        community_id=project.community_id,
        target=("project", project.id),
    )


def accept_project(
    session: Session, actor: User, project_id: int, *, now: dt.datetime | None = None
) -> Project:
    project = _project(session, actor, project_id, "accept")
    if not _move_project(
        session, project, (ProjectStatus.DISPATCHED,), ProjectStatus.ACCEPTED, accepted_at=now or utcnow()
    ):
        raise Conflict(_l("This project is not waiting to be accepted."), code="not_dispatched")
    _story(session, project, actor, "accepted")
    return project


def report_progress(session: Session, actor: User, project_id: int, note: str) -> Project:
    project = _project(session, actor, project_id, "progress")
    note = _text(note, NOTE_MAX, "note", required=True, message=_l("Say what has been done so far."))
    if project.status != ProjectStatus.ACCEPTED:
        raise Conflict(_l("Accept the project first."), code="not_accepted")
    _story(session, project, actor, "progress", note)
    return project


def finish_project(
    session: Session, actor: User, project_id: int, note: str = "", *, now: dt.datetime | None = None
) -> Project:
    project = _project(session, actor, project_id, "done")
    note = _text(note, NOTE_MAX, "note", required=False, message="")
    when = now or utcnow()
    if not _move_project(session, project, (ProjectStatus.ACCEPTED,), ProjectStatus.DONE, done_at=when):
        raise Conflict(_l("Only an accepted project can be marked done."), code="not_accepted")
    need = session.get(Need, project.need_id)
    assert need is not None
    _move_need(session, need, (NeedStatus.MATCHED,), NeedStatus.DONE)
    _story(session, project, actor, "done", note)
    notify(
        session,
        need.requester_id,
        "needs.done",
        _l("Your need was handled: please confirm and rate"),
        need.title,
        link=f"/needs/{need.id}",
        dedupe_key=f"needs.done:{project.id}",
    )
    return project


def cancel_project(session: Session, actor: User, project_id: int, note: str = "") -> Project:
    """Staff take a project back (the unit could not do it): the need waits for a new match."""
    project = _project(session, actor, project_id, "cancel")
    note = _text(note, NOTE_MAX, "note", required=False, message="")
    if not _move_project(session, project, LIVE_PROJECT, ProjectStatus.CANCELLED):
        raise Conflict(_l("Only a project in progress can be cancelled."), code="not_live")
    need = session.get(Need, project.need_id)
    assert need is not None
    _move_need(session, need, (NeedStatus.MATCHED,), NeedStatus.OPEN)
    _story(session, project, actor, "cancelled", note)
    return project


def confirm_need(
    session: Session,
    actor: User,
    need_id: int,
    *,
    rating: int,
    comment: str = "",
    now: dt.datetime | None = None,
) -> Need:
    """居民评价: the resident (or a relative acting for them) confirms and rates."""
    from portal.people.carers import is_carer

    need = get_need(session, actor, need_id)
    if actor.id != need.requester_id and not is_carer(session, actor, need.requester_id):
        raise _refuse(
            session,
            actor,
            "confirm",
            Forbidden(_l("Only the resident who asked can confirm."), code="not_requester"),
            community_id=need.community_id,
        )
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ServiceError(_l("Choose 1 to 5 stars."), code="bad_rating", field="rating")
    comment = _text(comment, NOTE_MAX, "comment", required=False, message="")
    when = now or utcnow()
    if not _move_need(
        session,
        need,
        (NeedStatus.DONE,),
        NeedStatus.CONFIRMED,
        rating=rating,
        comment=comment,
        confirmed_at=when,
    ):
        raise Conflict(_l("This need is not waiting for your confirmation."), code="not_done")
    project = project_of(session, need.id)
    if project is not None:
        _move_project(
            session, project, (ProjectStatus.DONE,), ProjectStatus.CONFIRMED, rating=rating, confirmed_at=when
        )
        _story(session, project, actor, "confirmed")
    record(
        session,
        "needs.confirm",
        actor_id=actor.id,
        community_id=need.community_id,
        target=("need", need.id),
        rating=rating,
    )
    return need


# --- staff lists ---------------------------------------------------------------------------


def overdue_projects(
    session: Session, actor: User, community_id: int, now: dt.datetime | None = None
) -> list[Project]:
    community = _staff_of(session, actor, community_id, "list")
    return list(
        session.scalars(
            select(Project)
            .where(
                Project.community_id == community.id,
                Project.status.in_(LIVE_PROJECT),
                Project.deadline < local_today(now),
            )
            .order_by(Project.deadline, Project.id)
        )
    )


def live_projects(session: Session, actor: User, community_id: int) -> list[Project]:
    community = _staff_of(session, actor, community_id, "list")
    return list(
        session.scalars(
            select(Project)
            .where(
                Project.community_id == community.id, Project.status.in_((*LIVE_PROJECT, ProjectStatus.DONE))
            )
            .order_by(Project.deadline, Project.id)
            .limit(500)
        )
    )


def unit_projects(session: Session, actor: User) -> list[Project]:
    ids = unit_ids(actor)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Project)
            .where(Project.organisation_id.in_(ids))
            .order_by(Project.status, Project.deadline, Project.id)
            .limit(500)
        )
    )


@dataclass(frozen=True)
class UnitRecord:
    organisation: Organisation
    dispatched: int
    accepted: int
    done: int
    on_time: int
    rating: float | None
    ratings: int


def unit_records(session: Session, organisations: list[Organisation]) -> list[UnitRecord]:
    """Each unit's record over all its projects: accepted, done, on time, mean rating."""
    ids = [o.id for o in organisations]
    if not ids:
        return []
    rows = session.execute(
        select(
            Project.organisation_id,
            Project.status,
            Project.accepted_at,
            Project.done_at,
            Project.deadline,
            Project.rating,
        ).where(Project.organisation_id.in_(ids))
    )
    stats: dict[int, dict[str, Any]] = {i: {"n": 0, "acc": 0, "done": 0, "ontime": 0, "r": []} for i in ids}
    for org_id, status, accepted_at, done_at, deadline, rating in rows:
        s = stats[org_id]
        s["n"] += 1
        if accepted_at is not None:
            s["acc"] += 1
        if status in (ProjectStatus.DONE, ProjectStatus.CONFIRMED) and done_at is not None:
            s["done"] += 1
            if done_at.astimezone(LOCAL_TZ).date() <= deadline:
                s["ontime"] += 1
        if rating is not None:
            s["r"].append(rating)
    return [
        UnitRecord(
            o,
            stats[o.id]["n"],
            stats[o.id]["acc"],
            stats[o.id]["done"],
            stats[o.id]["ontime"],
            round(sum(stats[o.id]["r"]) / len(stats[o.id]["r"]), 1) if stats[o.id]["r"] else None,
            len(stats[o.id]["r"]),
        )
        for o in organisations
    ]
