"""代办 rules. Services take plain values, a Session and the acting user; they check who
may act for whom *in which community*, flush and audit, and never commit.

- Staff of a community enrol a person there (name, building, optional landline) and link
  relatives who have an account (by their mobile number).
- A resident enrols a family member into their own home community and becomes their carer.
- A carer acts for the dependent (sign-ups, redemptions); staff record the dependent's
  hours and attendance through the hours and activities services as for anyone else.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.policy import try_normalize_phone
from portal.accounts.services import clean_name
from portal.audit.services import record
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.carers import NO_LOGIN, Carer, dependent_for, is_carer  # noqa: F401  (re-exported)
from portal.people.models import User
from portal.places.models import Building, Community
from portal.places.services import get_community
from portal.policy import is_staff
from portal.volunteering.hours import HourLog
from portal.volunteering.recording import record_hours

LANDLINE_MAX = 20
RELATION_MAX = 20
# A landline as people write it: digits with an optional area code and extension.
_LANDLINE = re.compile(r"[0-9]{3,4}-?[0-9]{7,8}(-[0-9]{1,6})?|[0-9]{7,8}")


def _landline(raw: str | None) -> str | None:
    value = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "")
    if not value:
        return None
    if len(value) > LANDLINE_MAX or not _LANDLINE.fullmatch(value):
        raise ServiceError(
            _l("Enter a landline like 0592-1234567, or leave it empty."),
            code="bad_landline",
            field="landline",
        )
    return value


def _relation(raw: str | None) -> str:
    value = " ".join((raw or "").split())
    if len(value) > RELATION_MAX:
        raise ServiceError(
            _l("Use at most %(max)d characters.", max=RELATION_MAX), code="too_long", field="relation"
        )
    return value


def _building(session: Session, community: Community, building_id: int | None) -> Building:
    building = session.get(Building, building_id) if building_id else None
    if building is None or building.community_id != community.id:
        raise ServiceError(
            _l("Choose the building where the person lives."), code="bad_building", field="building_id"
        )
    return building


def enrol(
    session: Session,
    actor: User,
    community_id: int,
    *,
    name: str,
    building_id: int | None,
    landline: str | None = None,
    relation: str = "",
) -> User:
    """Enrol a person without a mobile phone. Staff may enrol into their community; a
    resident into their own home community, becoming the person's carer."""
    community = get_community(session, community_id)
    as_staff = is_staff(actor, community)
    if not as_staff and actor.community_id != community.id:
        raise Forbidden(
            _l("You can enrol family members only in the community where you live."), code="not_member"
        )
    display = clean_name(name, field="name", required=True)
    building = _building(session, community, building_id)
    person = User(
        phone=None,
        landline=_landline(landline),
        password_hash=NO_LOGIN,
        display_name=display,
        real_name=display,
        community_id=community.id,
        building_id=building.id,
        enrolled_by_id=actor.id,
    )
    session.add(person)
    session.flush()
    if not as_staff:
        session.add(
            Carer(
                dependent_id=person.id,
                carer_id=actor.id,
                relation=_relation(relation),
                created_by_id=actor.id,
            )
        )
        session.flush()
    record(
        session,
        "proxy.enrol",
        actor_id=actor.id,
        community_id=community.id,
        target=("user", person.id),
        as_staff=as_staff,
        building_id=building.id,
    )
    return person


def person_for_staff(session: Session, actor: User, community_id: int, user_id: int) -> User:
    """A resident of ``community_id`` whom ``actor`` (staff there) looks after."""
    community = get_community(session, community_id)
    if not is_staff(actor, community):
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    person = session.get(User, user_id)
    if person is None or person.community_id != community.id:
        # Someone of another community: the same answer as nobody.
        raise NotFound(_l("This person does not exist."), code="person_not_found")
    return person


def link_carer(
    session: Session, actor: User, community_id: int, user_id: int, *, phone: str, relation: str = ""
) -> Carer:
    """Staff let the holder of ``phone`` act for a person of their community."""
    person = person_for_staff(session, actor, community_id, user_id)
    normalized = try_normalize_phone(phone)
    carer = session.scalar(select(User).where(User.phone == normalized)) if normalized else None
    if carer is None or not carer.is_active:
        raise NotFound(_l("No account uses this phone number."), code="user_not_found", field="phone")
    if carer.id == person.id:
        raise ServiceError(_l("A person cannot be their own carer."), code="self", field="phone")
    if session.scalar(select(Carer.id).where(Carer.dependent_id == person.id, Carer.carer_id == carer.id)):
        raise Conflict(_l("This relative can already act for this person."), code="duplicate", field="phone")
    link = Carer(
        dependent_id=person.id, carer_id=carer.id, relation=_relation(relation), created_by_id=actor.id
    )
    session.add(link)
    session.flush()
    record(
        session,
        "proxy.carer.link",
        actor_id=actor.id,
        community_id=community_id,
        target=("user", person.id),
        carer_id=carer.id,
    )
    return link


def unlink_carer(session: Session, actor: User, community_id: int, user_id: int, carer_link_id: int) -> None:
    person = person_for_staff(session, actor, community_id, user_id)
    link = session.get(Carer, carer_link_id)
    if link is None or link.dependent_id != person.id:
        raise NotFound(_l("This link does not exist."), code="link_not_found")
    carer_id = link.carer_id
    session.delete(link)
    session.flush()
    record(
        session,
        "proxy.carer.unlink",
        actor_id=actor.id,
        community_id=community_id,
        target=("user", person.id),
        carer_id=carer_id,
    )


def carers_of(session: Session, user_id: int) -> list[Carer]:
    return list(session.scalars(select(Carer).where(Carer.dependent_id == user_id).order_by(Carer.id)))


def dependents_of(session: Session, actor: User) -> list[Carer]:
    return list(session.scalars(select(Carer).where(Carer.carer_id == actor.id).order_by(Carer.id)))


def proxies_of_community(session: Session, actor: User, community_id: int) -> list[User]:
    """People of the community enrolled without a phone (staff only)."""
    community = get_community(session, community_id)
    if not is_staff(actor, community):
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    return list(
        session.scalars(
            select(User)
            .where(User.community_id == community.id, User.phone.is_(None))
            .order_by(User.display_name, User.id)
            .limit(500)
        )
    )


def record_hours_for(
    session: Session,
    actor: User,
    community_id: int,
    user_id: int,
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    description: str,
) -> HourLog:
    """Staff record the hours of a person of their community (pending, as any report:
    another staff member or they approve it — never the person themselves)."""
    person = person_for_staff(session, actor, community_id, user_id)
    description = (description or "").strip()
    if not description or len(description) > 500:
        raise ServiceError(
            _l("Say in a few words what they did."), code="bad_description", field="description"
        )
    return record_hours(
        session,
        user_id=person.id,
        community_id=community_id,
        source="other",
        source_id=None,
        started_at=started_at,
        ended_at=ended_at,
        description=description,
        reported_by=actor,
    )
