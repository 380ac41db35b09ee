"""Who may act where: the one place that answers "may this actor do this here?".

A role is held *in* a place: staff in a community, street admins in a street (staff powers
in every community of it), system admins everywhere; residents in their home community.

Each answer is given once per request: it is kept on ``flask.g`` for the rest of the
request (the view, the service and the template ask the same question), keyed by the
actor, the roles they hold and the place — a role granted or revoked mid-request is a new
question. Outside a request every call answers afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.errors import Forbidden
from portal.people.models import Role, User
from portal.places.models import Community, Street
from portal.places.services import get_community, get_street

T = TypeVar("T")


def _once(question: str, user: User, place: Any, answer: Callable[[], T]) -> T:
    """``answer()``, asked once per request for (question, actor, place)."""
    if not has_request_context() or getattr(user, "id", None) is None:
        return answer()
    memo: dict[tuple[Any, ...], Any] = g.setdefault("_fufen_policy", {})
    held = tuple((r.role, r.community_id, r.street_id) for r in user.roles)
    key = (question, user.id, user.is_active, user.community_id, held, place)
    if key not in memo:
        memo[key] = answer()
    return memo[key]  # type: ignore[no-any-return]


def is_sysadmin(user: User) -> bool:
    return any(r.role == Role.SYSADMIN for r in user.roles)


def admin_street_ids(user: User) -> set[int]:
    return {r.street_id for r in user.roles if r.role == Role.STREET_ADMIN and r.street_id is not None}


def is_street_admin(user: User, street_id: int) -> bool:
    return is_sysadmin(user) or street_id in admin_street_ids(user)


def is_staff(user: User, community: Community) -> bool:
    """Staff powers in ``community``: its own staff, admins of its street, sysadmins."""
    return _once("staff", user, community.id, lambda: _is_staff(user, community))


def _is_staff(user: User, community: Community) -> bool:
    if not user.is_active:
        return False
    if any(r.role == Role.STAFF and r.community_id == community.id for r in user.roles):
        return True
    return is_street_admin(user, community.street_id)


def is_member(user: User, community: Community) -> bool:
    """Lives there, holds any role there, or oversees it."""
    return _once("member", user, community.id, lambda: _is_member(user, community))


def _is_member(user: User, community: Community) -> bool:
    if user.community_id == community.id:
        return True
    if any(r.community_id == community.id for r in user.roles):
        return True
    return is_street_admin(user, community.street_id)


def staff_communities(session: Session, user: User) -> list[Community]:
    """Communities where ``user`` has staff powers, by street then name."""
    return list(_once("staff_communities", user, None, lambda: _staff_communities(session, user)))


def _staff_communities(session: Session, user: User) -> list[Community]:
    conditions = []
    own = {r.community_id for r in user.roles if r.role == Role.STAFF and r.community_id is not None}
    if is_sysadmin(user):
        return list(session.scalars(select(Community).order_by(Community.street_id, Community.id)))
    if own:
        conditions.append(Community.id.in_(own))
    streets = admin_street_ids(user)
    if streets:
        conditions.append(Community.street_id.in_(streets))
    if not conditions:
        return []
    return list(
        session.scalars(select(Community).where(or_(*conditions)).order_by(Community.street_id, Community.id))
    )


def administered_streets(session: Session, user: User) -> list[Street]:
    if is_sysadmin(user):
        return list(session.scalars(select(Street).order_by(Street.id)))
    ids = admin_street_ids(user)
    if not ids:
        return []
    return list(session.scalars(select(Street).where(Street.id.in_(ids)).order_by(Street.id)))


def community_for_member(session: Session, actor: User, community_id: int) -> Community:
    community = get_community(session, community_id)
    if not is_member(actor, community):
        raise Forbidden(_l("You are not a member of this community."), code="not_member")
    return community


def community_for_staff(session: Session, actor: User, community_id: int) -> Community:
    community = get_community(session, community_id)
    if not is_staff(actor, community):
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    return community


def street_for_admin(session: Session, actor: User, street_id: int) -> Street:
    street = get_street(session, street_id)
    if not is_street_admin(actor, street.id):
        raise Forbidden(_l("Only the administrators of this street can do this."), code="not_street_admin")
    return street
