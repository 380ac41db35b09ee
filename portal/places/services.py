"""Looking places up (unknown ids are a translated 404 refusal)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import NotFound
from portal.places.models import Community, Street


def get_community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(_l("This community does not exist."), code="community_not_found")
    return community


def get_street(session: Session, street_id: int) -> Street:
    street = session.get(Street, street_id)
    if street is None:
        raise NotFound(_l("This street does not exist."), code="street_not_found")
    return street


def open_communities(session: Session) -> list[Community]:
    return list(
        session.scalars(
            select(Community).where(Community.is_open.is_(True)).order_by(Community.street_id, Community.id)
        )
    )
