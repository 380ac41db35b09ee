"""Me: profile, roles, communities and points (balance, held, available)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from portal.accounts.services import ROLE_LABELS
from portal.activities.services import member_community_ids
from portal.api.auth import actor, protected
from portal.exchange import points
from portal.extensions import db
from portal.people.masking import mask_phone
from portal.people.models import Role
from portal.places.models import Community

blp = Blueprint("Me", __name__, url_prefix="/me", description="The person behind the token.")


class RoleSchema(Schema):
    role = fields.String(
        required=True,
        metadata={"enum": ["resident", "party_member", "staff", "merchant", "street_admin", "sysadmin"]},
    )
    label = fields.String(required=True)
    community_id = fields.Integer(required=True, allow_none=True)
    street_id = fields.Integer(required=True, allow_none=True)
    organisation_id = fields.Integer(required=True, allow_none=True)


class PointsSchema(Schema):
    community_id = fields.Integer(required=True, allow_none=True)
    balance = fields.Integer(required=True)
    held = fields.Integer(required=True, metadata={"description": "Reserved by open redemptions."})
    available = fields.Integer(required=True, metadata={"description": "balance − held: what can be spent."})


class MeCommunitySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    street_id = fields.Integer(required=True)
    home = fields.Boolean(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    display_name = fields.String(required=True)
    real_name = fields.String(required=True, allow_none=True)
    mobile_masked = fields.String(required=True, metadata={"example": "139****0001"})
    locale = fields.String(required=True, allow_none=True)
    large_text = fields.Boolean(required=True, metadata={"description": "长辈模式 (large text)."})
    home_community_id = fields.Integer(required=True, allow_none=True)
    roles = fields.List(fields.Nested(RoleSchema), required=True)
    communities = fields.List(fields.Nested(MeCommunitySchema), required=True)
    points = fields.Nested(PointsSchema, required=True)


@blp.route("", methods=["GET"])
@protected(blp, "me:read")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """My profile, roles, communities and 福分 in my home community."""
    user = actor()
    session = db.session
    roles = []
    if user.community_id is not None:
        roles.append(_role(Role.RESIDENT, user.community_id, None, None))
    for a in sorted(user.roles, key=lambda a: a.id):
        if a.role == Role.RESIDENT and a.community_id == user.community_id:
            continue
        roles.append(_role(a.role, a.community_id, a.street_id, a.organisation_id))
    ids = member_community_ids(user)
    if ids == {user.community_id} and user.community is not None:
        # The usual case: only the home community, loaded with the person.
        home = user.community
        communities = [(home.id, home.name, home.street_id)]
    else:
        communities = session.execute(
            select(Community.id, Community.name, Community.street_id)
            .where(Community.id.in_(ids))
            .order_by(Community.id)
        ).all()
    summary = (
        points.summary(session, user.id, user.community_id)
        if user.community_id is not None
        else points.Summary(None, 0, 0, 0)
    )
    return {
        "id": user.id,
        "display_name": user.display_name,
        "real_name": user.real_name,
        "mobile_masked": mask_phone(user.phone),
        "locale": user.locale,
        "large_text": user.large_text,
        "home_community_id": user.community_id,
        "roles": roles,
        "communities": [
            {"id": cid, "name": name, "street_id": street_id, "home": cid == user.community_id}
            for cid, name, street_id in communities
        ],
        "points": {
            "community_id": user.community_id,
            "balance": summary.balance,
            "held": summary.held,
            "available": summary.available,
        },
    }


def _role(role: Role, community_id: int | None, street_id: int | None, org_id: int | None) -> dict[str, Any]:
    return {
        "role": role.value,
        "label": str(ROLE_LABELS.get(role, role.value)),
        "community_id": community_id,
        "street_id": street_id,
        "organisation_id": org_id,
    }
