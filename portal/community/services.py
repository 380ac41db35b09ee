"""Places, roles, partner units and 报到 — the rules.

Every function takes plain values, a Session and the acting user; it checks who may do
what *in which community* (ids from URLs and forms are never trusted), changes rows,
flushes and writes the audit record. It never commits: the request boundary does.

Refusals raise :class:`portal.errors.ServiceError` subclasses with translated messages:
``Forbidden`` for authorisation (the web layer audits it through ``portal.accounts.security.deny``),
``NotFound`` for unknown ids, ``Conflict`` for state that changed underneath (a report
already reviewed, a duplicate name), plain ``ServiceError`` for invalid input.

No Flask import except the lazy translation function, so the rules run in tests and CLI
commands without a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.audit.services import record
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Building, Community, Grid, Organisation, OrgKind, Street
from portal.places.services import get_community, get_street
from portal.policy import (
    community_for_staff,
    is_staff,
    is_street_admin,
    staff_communities,
    street_for_admin,
)

NAME_MAX = 80
ORG_NAME_MAX = 120
WORK_UNIT_MAX = 120
NOTE_MAX = 200
MEMBERS_PAGE_SIZE = 50

# Roles a street admin may grant or revoke in a community of their street. PARTY_MEMBER
# comes only from a confirmed 报到; RESIDENT from the home community.
GRANTABLE_ROLES = (Role.STAFF, Role.MERCHANT)


def _clean(value: str | None, limit: int, label: str, *, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise ServiceError(_l("%(field)s is required.", field=label), code="required")
    if len(value) > limit:
        raise ServiceError(
            _l("%(field)s is too long (at most %(n)d characters).", field=label, n=limit), code="too_long"
        )
    return value


def _flush_unique(session: Session, message: object, code: str, change: Callable[[], object]) -> None:
    """Apply ``change`` and flush inside a SAVEPOINT, so that a unique-key race lost at
    the database becomes a friendly Conflict and the session stays usable. (The change
    must happen inside: ``begin_nested`` first flushes whatever is already pending.)"""
    try:
        with session.begin_nested():
            change()
            session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None  # type: ignore[arg-type]


# --- grids and buildings ---------------------------------------------------------------


def _grid_in(session: Session, community: Community, grid_id: int) -> Grid:
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound(_l("This grid does not exist."), code="grid_not_found")
    if grid.community_id != community.id:
        raise Forbidden(_l("This grid belongs to another community."), code="other_community")
    return grid


def _building_in(session: Session, community: Community, building_id: int) -> Building:
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(_l("This building does not exist."), code="building_not_found")
    if building.community_id != community.id:
        raise Forbidden(_l("This building belongs to another community."), code="other_community")
    return building


def _community_for(session: Session, actor: User | None, community_id: int) -> Community:
    """Staff of the community; ``None`` is the operator at the console (CLI only)."""
    if actor is None:
        return get_community(session, community_id)
    return community_for_staff(session, actor, community_id)


def add_grid(session: Session, actor: User | None, community_id: int, name: str) -> Grid:
    community = _community_for(session, actor, community_id)
    name = _clean(name, NAME_MAX, str(_l("Name")))
    if session.scalar(select(Grid.id).where(Grid.community_id == community.id, Grid.name == name)):
        raise Conflict(_l("A grid with this name already exists."), code="duplicate", field="name")
    grid = Grid(community_id=community.id, name=name)
    _flush_unique(
        session, _l("A grid with this name already exists."), "duplicate", lambda: session.add(grid)
    )
    record(
        session,
        "community.grid.add",
        actor_id=actor.id if actor else None,
        community_id=community.id,
        target=("grid", grid.id),
        name=name,
    )
    return grid


def rename_grid(session: Session, actor: User, community_id: int, grid_id: int, name: str) -> Grid:
    community = community_for_staff(session, actor, community_id)
    grid = _grid_in(session, community, grid_id)
    name = _clean(name, NAME_MAX, str(_l("Name")))
    if name == grid.name:
        return grid
    if session.scalar(select(Grid.id).where(Grid.community_id == community.id, Grid.name == name)):
        raise Conflict(_l("A grid with this name already exists."), code="duplicate", field="name")
    old = grid.name
    _flush_unique(
        session, _l("A grid with this name already exists."), "duplicate", lambda: setattr(grid, "name", name)
    )
    record(
        session,
        "community.grid.rename",
        actor_id=actor.id,
        community_id=community.id,
        target=("grid", grid.id),
        old=old,
        new=name,
    )
    return grid


def add_building(
    session: Session, actor: User | None, community_id: int, grid_id: int, name: str
) -> Building:
    community = _community_for(session, actor, community_id)
    grid = _grid_in(session, community, grid_id)
    name = _clean(name, NAME_MAX, str(_l("Name")))
    if session.scalar(select(Building.id).where(Building.grid_id == grid.id, Building.name == name)):
        raise Conflict(
            _l("A building with this name already exists in this grid."), code="duplicate", field="name"
        )
    building = Building(grid_id=grid.id, community_id=community.id, name=name)
    _flush_unique(
        session,
        _l("A building with this name already exists in this grid."),
        "duplicate",
        lambda: session.add(building),
    )
    record(
        session,
        "community.building.add",
        actor_id=actor.id if actor else None,
        community_id=community.id,
        target=("building", building.id),
        name=name,
        grid_id=grid.id,
    )
    return building


def rename_building(
    session: Session, actor: User, community_id: int, building_id: int, name: str
) -> Building:
    community = community_for_staff(session, actor, community_id)
    building = _building_in(session, community, building_id)
    name = _clean(name, NAME_MAX, str(_l("Name")))
    if name == building.name:
        return building
    if session.scalar(select(Building.id).where(Building.grid_id == building.grid_id, Building.name == name)):
        raise Conflict(
            _l("A building with this name already exists in this grid."), code="duplicate", field="name"
        )
    old = building.name
    _flush_unique(
        session,
        _l("A building with this name already exists in this grid."),
        "duplicate",
        lambda: setattr(building, "name", name),
    )
    record(
        session,
        "community.building.rename",
        actor_id=actor.id,
        community_id=community.id,
        target=("building", building.id),
        old=old,
        new=name,
    )
    return building


# --- members and roles -----------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    user: User
    roles: tuple[Role, ...]


def list_members(
    session: Session, actor: User, community_id: int, page: int = 1
) -> tuple[list[MemberRow], int]:
    """People who live in the community or hold a role there (staff only). Returns one
    page of rows and the total count; the template masks phone numbers."""
    community = community_for_staff(session, actor, community_id)
    role_holders = select(RoleAssignment.user_id).where(RoleAssignment.community_id == community.id)
    where = or_(User.community_id == community.id, User.id.in_(role_holders))
    total = session.scalar(select(func.count()).select_from(User).where(where)) or 0
    page = max(1, page)
    users = list(
        session.scalars(
            select(User)
            .where(where)
            .order_by(User.id)
            .limit(MEMBERS_PAGE_SIZE)
            .offset((page - 1) * MEMBERS_PAGE_SIZE)
        )
    )
    rows = []
    for user in users:
        held = tuple(
            sorted(
                {r.role for r in user.roles if r.community_id == community.id},
                key=lambda r: list(Role).index(r),
            )
        )
        rows.append(MemberRow(user=user, roles=held))
    return rows, total


def list_role_assignments(session: Session, actor: User, community_id: int) -> list[RoleAssignment]:
    community = community_for_staff(session, actor, community_id)
    return list(
        session.scalars(
            select(RoleAssignment)
            .where(RoleAssignment.community_id == community.id, RoleAssignment.role.in_(GRANTABLE_ROLES))
            .order_by(RoleAssignment.role, RoleAssignment.id)
        )
    )


def _require_role_manager(actor: User, community: Community) -> None:
    if not is_street_admin(actor, community.street_id):
        raise Forbidden(
            _l("Only the street administrators can grant or revoke roles."), code="not_street_admin"
        )


def grant_role(
    session: Session,
    actor: User,
    community_id: int,
    phone: str,
    role: Role | str,
    organisation_id: int | None = None,
) -> RoleAssignment:
    """A street admin grants STAFF or MERCHANT (tied to an organisation of the street)."""
    community = get_community(session, community_id)
    _require_role_manager(actor, community)
    try:
        role = Role(role)
    except ValueError:
        raise ServiceError(_l("This role cannot be granted here."), code="bad_role", field="role") from None
    if role not in GRANTABLE_ROLES:
        raise ServiceError(_l("This role cannot be granted here."), code="bad_role", field="role")
    phone = (phone or "").strip()
    user = session.scalar(select(User).where(User.phone == phone)) if phone else None
    if user is None:
        raise NotFound(_l("No account uses this phone number."), code="user_not_found", field="phone")
    if not user.is_active:
        raise ServiceError(_l("This account is disabled."), code="inactive", field="phone")
    org_id: int | None = None
    if role == Role.MERCHANT:
        if organisation_id is None:
            raise ServiceError(
                _l("Choose the organisation this merchant represents."),
                code="org_required",
                field="organisation_id",
            )
        org = session.get(Organisation, organisation_id)
        if (
            org is None
            or org.street_id != community.street_id
            or (org.community_id is not None and org.community_id != community.id)
        ):
            raise Forbidden(
                _l("This organisation is not registered for this community."), code="other_community"
            )
        org_id = org.id
    exists = session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.community_id == community.id,
        )
    )
    if exists:
        raise Conflict(_l("This person already holds this role here."), code="duplicate")
    assignment = RoleAssignment(
        role=role, community_id=community.id, organisation_id=org_id, granted_by_id=actor.id
    )
    user.roles.append(assignment)
    session.flush()
    record(
        session,
        "community.role.grant",
        actor_id=actor.id,
        community_id=community.id,
        target=("user", user.id),
        role=role.value,
        organisation_id=org_id,
    )
    return assignment


def revoke_role(session: Session, actor: User, community_id: int, assignment_id: int) -> None:
    community = get_community(session, community_id)
    _require_role_manager(actor, community)
    assignment = session.get(RoleAssignment, assignment_id)
    if assignment is None:
        raise NotFound(
            _l("This role assignment does not exist (it may have been revoked already)."),
            code="assignment_not_found",
        )
    if assignment.community_id != community.id:
        raise Forbidden(_l("This role belongs to another community."), code="other_community")
    if assignment.role not in GRANTABLE_ROLES:
        raise ServiceError(_l("This role cannot be revoked here."), code="bad_role")
    user_id, role = assignment.user_id, assignment.role
    assignment.user.roles.remove(assignment)  # delete-orphan: the row goes
    session.flush()
    record(
        session,
        "community.role.revoke",
        actor_id=actor.id,
        community_id=community.id,
        target=("user", user_id),
        role=role.value,
    )


# --- organisations ---------------------------------------------------------------------


def register_organisation(
    session: Session,
    actor: User,
    street_id: int,
    *,
    kind: OrgKind | str,
    name: str,
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
    description: str = "",
    community_id: int | None = None,
) -> Organisation:
    """Street admins register partner units and merchants of their street; the staff of
    a community register merchants for their own community only."""
    street = get_street(session, street_id)
    try:
        kind = OrgKind(kind)
    except ValueError:
        raise ServiceError(_l("Choose a kind of organisation."), code="bad_kind", field="kind") from None
    community: Community | None = None
    if community_id is not None:
        community = get_community(session, community_id)
        if community.street_id != street.id:
            raise Forbidden(_l("This community belongs to another street."), code="other_street")
    if not is_street_admin(actor, street.id):
        # Community staff: merchants of their own community only.
        if community is None or not is_staff(actor, community):
            raise Forbidden(
                _l("Only the administrators of this street can register partner units."),
                code="not_street_admin",
            )
        if kind != OrgKind.MERCHANT:
            raise Forbidden(_l("Community staff can register merchants only."), code="merchant_only")
    if kind == OrgKind.MERCHANT and community is None:
        raise ServiceError(
            _l("A merchant serves one community: choose it."), code="community_required", field="community_id"
        )
    name = _clean(name, ORG_NAME_MAX, str(_l("Name")))
    contact_name = _clean(contact_name, 40, str(_l("Contact person")), required=False)
    contact_phone = _clean(contact_phone, 20, str(_l("Contact phone")), required=False)
    if contact_phone and not all(c.isdigit() or c == "-" for c in contact_phone):
        raise ServiceError(
            _l("Enter a phone number using digits only."), code="bad_phone", field="contact_phone"
        )
    address = _clean(address, 200, str(_l("Address")), required=False)
    description = (description or "").strip()
    if len(description) > 2000:
        raise ServiceError(
            _l("%(field)s is too long (at most %(n)d characters).", field=_l("Description"), n=2000),
            code="too_long",
            field="description",
        )
    duplicate = _l("An organisation with this name is already registered in this street.")
    if session.scalar(
        select(Organisation.id).where(Organisation.street_id == street.id, Organisation.name == name)
    ):
        raise Conflict(duplicate, code="duplicate", field="name")
    org = Organisation(
        street_id=street.id,
        community_id=community.id if community else None,
        kind=kind,
        name=name,
        contact_name=contact_name,
        contact_phone=contact_phone,
        address=address,
        description=description,
        created_by_id=actor.id,
    )
    _flush_unique(session, duplicate, "duplicate", lambda: session.add(org))
    record(
        session,
        "community.organisation.register",
        actor_id=actor.id,
        community_id=org.community_id,
        target=("organisation", org.id),
        kind=kind.value,
        street_id=street.id,
    )
    return org


def organisations_of_street(session: Session, street_id: int) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .where(Organisation.street_id == street_id)
            .order_by(Organisation.kind, Organisation.id)
        )
    )


def organisations_for_community(session: Session, community: Community) -> list[Organisation]:
    """Partner units serving the whole street and merchants of this community."""
    return list(
        session.scalars(
            select(Organisation)
            .where(
                Organisation.street_id == community.street_id,
                or_(Organisation.community_id.is_(None), Organisation.community_id == community.id),
            )
            .order_by(Organisation.kind, Organisation.id)
        )
    )


def street_organisations_visible(
    session: Session, actor: User, street_id: int
) -> tuple[Street, list[Organisation]]:
    """Street admins, and staff of a community in the street, may see the list."""
    street = get_street(session, street_id)
    if not is_street_admin(actor, street.id) and not any(
        c.street_id == street.id for c in staff_communities(session, actor)
    ):
        raise Forbidden(_l("Only the staff of this street can see this list."), code="not_staff")
    return street, organisations_of_street(session, street.id)


# --- the street overview ---------------------------------------------------------------


@dataclass(frozen=True)
class CommunityStats:
    community: Community
    residents: int
    staff: int
    party_members: int
    pending_reports: int
    grids: int
    buildings: int


def street_overview(session: Session, actor: User, street_id: int) -> tuple[Street, list[CommunityStats]]:
    street = street_for_admin(session, actor, street_id)
    communities = list(
        session.scalars(select(Community).where(Community.street_id == street.id).order_by(Community.id))
    )
    ids = [c.id for c in communities]

    def grouped(stmt) -> dict[int, int]:  # type: ignore[no-untyped-def]
        return {cid: n for cid, n in session.execute(stmt)} if ids else {}

    residents = grouped(
        select(User.community_id, func.count()).where(User.community_id.in_(ids)).group_by(User.community_id)
    )
    roles = {}
    for role in (Role.STAFF, Role.PARTY_MEMBER):
        roles[role] = grouped(
            select(RoleAssignment.community_id, func.count())
            .where(RoleAssignment.community_id.in_(ids), RoleAssignment.role == role)
            .group_by(RoleAssignment.community_id)
        )
    pending = grouped(
        select(PartyReport.community_id, func.count())
        .where(PartyReport.community_id.in_(ids), PartyReport.status == ReportStatus.PENDING)
        .group_by(PartyReport.community_id)
    )
    grids = grouped(
        select(Grid.community_id, func.count()).where(Grid.community_id.in_(ids)).group_by(Grid.community_id)
    )
    buildings = grouped(
        select(Building.community_id, func.count())
        .where(Building.community_id.in_(ids))
        .group_by(Building.community_id)
    )
    stats = [
        CommunityStats(
            c,
            residents.get(c.id, 0),
            roles[Role.STAFF].get(c.id, 0),
            roles[Role.PARTY_MEMBER].get(c.id, 0),
            pending.get(c.id, 0),
            grids.get(c.id, 0),
            buildings.get(c.id, 0),
        )
        for c in communities
    ]
    return street, stats


# --- 报到: party members report to their community --------------------------------------


def live_report(session: Session, user_id: int) -> PartyReport | None:
    return session.scalar(
        select(PartyReport).where(
            PartyReport.user_id == user_id,
            PartyReport.status.in_((ReportStatus.PENDING, ReportStatus.CONFIRMED)),
        )
    )


def reports_of(session: Session, user_id: int) -> list[PartyReport]:
    return list(
        session.scalars(
            select(PartyReport).where(PartyReport.user_id == user_id).order_by(PartyReport.id.desc())
        )
    )


def submit_report(
    session: Session, actor: User, community_id: int, work_unit: str, party_org: str
) -> PartyReport:
    """Report to the community where ``actor`` lives; with no home community yet, the
    chosen (open) community becomes it. One live report per person. Party membership
    is sensitive personal information: a live separate consent is required (PIPL)."""
    from portal.people import consent

    consent.require(session, actor)
    community = get_community(session, community_id)
    if actor.community_id is None:
        if not community.is_open:
            raise ServiceError(
                _l("This community does not accept new residents."), code="closed", field="community_id"
            )
    elif actor.community_id != community.id:
        raise ServiceError(
            _l("You can only report to the community where you live."), code="not_home", field="community_id"
        )
    work_unit = _clean(work_unit, WORK_UNIT_MAX, str(_l("Work unit")))
    party_org = _clean(party_org, WORK_UNIT_MAX, str(_l("Party organisation")))
    duplicate = _l(
        "You already have a report that is pending or confirmed. "
        "Withdraw the pending one first if you need to change it."
    )
    if live_report(session, actor.id) is not None:
        raise Conflict(duplicate, code="duplicate")
    report = PartyReport(
        user_id=actor.id,
        community_id=community.id,
        work_unit=work_unit,
        party_org=party_org,
        status=ReportStatus.PENDING,
    )
    # The partial unique index settles a race between two submissions of the same person.
    _flush_unique(session, duplicate, "duplicate", lambda: session.add(report))
    if actor.community_id is None:
        actor.community_id = community.id
        session.flush()
    record(
        session,
        "community.report.submit",
        actor_id=actor.id,
        community_id=community.id,
        target=("party_report", report.id),
    )
    return report


def withdraw_report(session: Session, actor: User, report_id: int) -> PartyReport:
    report = session.get(PartyReport, report_id)
    if report is None or report.user_id != actor.id:
        # Someone else's report: the same answer as a missing one.
        raise NotFound(_l("This report does not exist."), code="report_not_found")
    changed = session.execute(
        update(PartyReport)
        .where(PartyReport.id == report.id, PartyReport.status == ReportStatus.PENDING)
        .values(status=ReportStatus.WITHDRAWN)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(
            _l(
                "Only a pending report can be withdrawn; this one is %(status)s.",
                status=status_label(report.status),
            ),
            code="not_pending",
        )
    session.refresh(report)
    record(
        session,
        "community.report.withdraw",
        actor_id=actor.id,
        community_id=report.community_id,
        target=("party_report", report.id),
    )
    return report


def pending_reports(session: Session, actor: User, community_id: int) -> list[PartyReport]:
    community = community_for_staff(session, actor, community_id)
    return list(
        session.scalars(
            select(PartyReport)
            .where(PartyReport.community_id == community.id, PartyReport.status == ReportStatus.PENDING)
            .order_by(PartyReport.submitted_at, PartyReport.id)
        )
    )


def recent_reviews(session: Session, actor: User, community_id: int, limit: int = 20) -> list[PartyReport]:
    community = community_for_staff(session, actor, community_id)
    return list(
        session.scalars(
            select(PartyReport)
            .where(
                PartyReport.community_id == community.id,
                PartyReport.status.in_((ReportStatus.CONFIRMED, ReportStatus.REJECTED)),
            )
            .order_by(PartyReport.reviewed_at.desc(), PartyReport.id.desc())
            .limit(limit)
        )
    )


def review_report(
    session: Session, actor: User, community_id: int, report_id: int, *, confirm: bool, note: str = ""
) -> PartyReport:
    """Staff of the report's community confirm or reject a pending report, once.

    The status change is a conditional UPDATE (``WHERE status = 'pending'``), so two
    reviewers clicking at the same moment cannot both succeed; the loser — and a
    double-submitted form — gets a friendly Conflict and nothing changes.
    """
    community = community_for_staff(session, actor, community_id)
    report = session.get(PartyReport, report_id)
    if report is None:
        raise NotFound(_l("This report does not exist."), code="report_not_found")
    if report.community_id != community.id:
        raise Forbidden(_l("This report belongs to another community."), code="other_community")
    if report.user_id == actor.id:
        raise Forbidden(
            _l("You cannot review your own report; another staff member must do it."), code="self_review"
        )
    note = _clean(note, NOTE_MAX, str(_l("Note")), required=not confirm)
    if report.status != ReportStatus.PENDING:
        raise Conflict(
            _l(
                "This report has already been %(status)s; nothing was changed.",
                status=status_label(report.status),
            ),
            code="not_pending",
        )
    new_status = ReportStatus.CONFIRMED if confirm else ReportStatus.REJECTED
    changed = session.execute(
        update(PartyReport)
        .where(PartyReport.id == report.id, PartyReport.status == ReportStatus.PENDING)
        .values(status=new_status, reviewed_by_id=actor.id, reviewed_at=utcnow(), review_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(
            _l("Someone else reviewed this report at the same moment; nothing was changed."),
            code="not_pending",
        )
    session.refresh(report)
    if confirm:
        held = session.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.user_id == report.user_id,
                RoleAssignment.role == Role.PARTY_MEMBER,
                RoleAssignment.community_id == community.id,
            )
        )
        if held is None:
            report.user.roles.append(
                RoleAssignment(role=Role.PARTY_MEMBER, community_id=community.id, granted_by_id=actor.id)
            )
            session.flush()
            record(
                session,
                "community.report.confirm" if confirm else "community.report.reject",
                actor_id=actor.id,
                community_id=community.id,
                target=("party_report", report.id),
            )
    return report


def status_label(status: ReportStatus) -> str:
    labels = {
        ReportStatus.PENDING: _l("pending"),
        ReportStatus.CONFIRMED: _l("confirmed"),
        ReportStatus.REJECTED: _l("rejected"),
        ReportStatus.WITHDRAWN: _l("withdrawn"),
    }
    return str(labels[status])


# --- communities: a street admin sets them up ------------------------------------------

ADDRESS_MAX = 200


def _community_fields(name: str, address: str) -> tuple[str, str]:
    return (
        _clean(name, NAME_MAX, str(_l("Name"))),
        _clean(address, ADDRESS_MAX, str(_l("Address")), required=False),
    )


def create_community(
    session: Session,
    actor: User | None,
    street_id: int,
    *,
    name: str,
    address: str = "",
    is_open: bool = True,
) -> Community:
    """A street admin (or a sysadmin) adds a community to their street. ``actor`` None is
    the operator at the console (``flask places community``), never a web request."""
    street = get_street(session, street_id) if actor is None else street_for_admin(session, actor, street_id)
    name, address = _community_fields(name, address)
    duplicate = _l("A community with this name already exists in this street.")
    if session.scalar(select(Community.id).where(Community.street_id == street.id, Community.name == name)):
        raise Conflict(duplicate, code="duplicate", field="name")
    community = Community(street_id=street.id, name=name, address=address, is_open=bool(is_open))
    _flush_unique(session, duplicate, "duplicate", lambda: session.add(community))
    record(
        session,
        "community.create",
        actor_id=actor.id if actor else None,
        community_id=community.id,
        target=("community", community.id),
        street_id=street.id,
        name=name,
    )
    return community


def update_community(
    session: Session, actor: User, community_id: int, *, name: str, address: str = "", is_open: bool = True
) -> Community:
    """A street admin renames a community, changes its address, or closes it to new
    residents (a closed community keeps its people; it is only not offered at sign-up)."""
    community = get_community(session, community_id)
    if not is_street_admin(actor, community.street_id):
        raise Forbidden(_l("Only the administrators of this street can do this."), code="not_street_admin")
    name, address = _community_fields(name, address)
    duplicate = _l("A community with this name already exists in this street.")
    if name != community.name and session.scalar(
        select(Community.id).where(Community.street_id == community.street_id, Community.name == name)
    ):
        raise Conflict(duplicate, code="duplicate", field="name")
    old = {"name": community.name, "address": community.address, "is_open": community.is_open}

    def change() -> None:
        community.name, community.address, community.is_open = name, address, bool(is_open)

    _flush_unique(session, duplicate, "duplicate", change)
    new = {"name": community.name, "address": community.address, "is_open": community.is_open}
    record(
        session,
        "community.update",
        actor_id=actor.id,
        community_id=community.id,
        target=("community", community.id),
        changes={k: [old[k], new[k]] for k in old if old[k] != new[k]},
    )
    return community


def create_street(session: Session, *, name: str, district: str = "") -> Street:
    """Console only (``flask places street``): streets are set up by the operator."""
    name = _clean(name, NAME_MAX, str(_l("Name")))
    district = _clean(district, NAME_MAX, str(_l("District")), required=False)
    duplicate = _l("A street with this name already exists.")
    if session.scalar(select(Street.id).where(Street.name == name)):
        raise Conflict(duplicate, code="duplicate", field="name")
    street = Street(name=name, district=district)
    _flush_unique(session, duplicate, "duplicate", lambda: session.add(street))
    record(session, "community.street.create", actor_id=None, target=("street", street.id), name=name)
    return street
