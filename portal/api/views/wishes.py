"""Micro-wishes (微心愿): the board of my community, post, claim, fulfil, confirm and rate, withdraw."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from portal.api.auth import actor, protected
from portal.api.idempotency import idempotent
from portal.api.schemas import Id, Line, Text
from portal.extensions import db
from portal.volunteering.wishes import WISH_CATEGORIES, Wish, WishStatus
from portal.wishes import services as svc

blp = Blueprint(
    "Wishes", __name__, url_prefix="/wishes", description="Micro-wishes (微心愿) between neighbours."
)


class WishSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    requester_id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": list(WISH_CATEGORIES)})
    due_date = fields.Date(required=True, allow_none=True)
    status = fields.Enum(WishStatus, by_value=True, required=True)
    claimed_by_id = fields.Integer(required=True, allow_none=True)
    claimed_at = fields.DateTime(required=True, allow_none=True)
    fulfilled_at = fields.DateTime(required=True, allow_none=True)
    fulfil_minutes = fields.Integer(required=True, allow_none=True)
    confirmed_at = fields.DateTime(required=True, allow_none=True)
    rating = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class WishListSchema(Schema):
    items = fields.List(fields.Nested(WishSchema), required=True)


class MyWishesSchema(Schema):
    made = fields.List(fields.Nested(WishSchema), required=True)
    claimed = fields.List(fields.Nested(WishSchema), required=True)


class NewWishSchema(Schema):
    title = Line(80, required=True)
    description = Text(2000, optional=True, load_default="")
    category = fields.String(required=True, validate=validate.OneOf(WISH_CATEGORIES))
    due_date = fields.Date(load_default=None, allow_none=True)


class ClaimWishSchema(Schema):
    team_id = Id(load_default=None, allow_none=True, metadata={"description": "Claim for one of my teams."})


class WishFulfilSchema(Schema):
    started_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(required=True)
    note = Text(500, required=True)


class ConfirmSchema(Schema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(500, optional=True, load_default="")


@blp.route("", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, WishListSchema)
def board() -> dict[str, Any]:
    """Open wishes of my home community (not my own), as on the wish board."""
    user = actor()
    items = svc.open_wishes(db.session, user.community_id, exclude_user=user.id) if user.community_id else []
    return {"items": items}


@blp.route("/mine", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, MyWishesSchema)
def mine() -> dict[str, Any]:
    """Wishes I made and wishes I claimed, newest first."""
    made, claimed = svc.my_wishes(db.session, actor().id)
    return {"made": made, "claimed": claimed}


@blp.route("", methods=["POST"])
@protected(blp, "community:write")
@blp.arguments(NewWishSchema)
@blp.response(201, WishSchema)
def make_wish(data: dict[str, Any]) -> Wish:
    """Post a wish in my home community."""
    user = actor()
    return svc.create_wish(
        db.session,
        user,
        community_id=user.community_id or 0,
        title=data["title"],
        description=data["description"],
        category=data["category"],
        due_date=data["due_date"],
    )


@blp.route("/<int:wish_id>", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, WishSchema)
def get_wish(wish_id: int) -> Wish:
    """One wish of my community."""
    return svc.get_wish(db.session, actor(), wish_id)


@blp.route("/<int:wish_id>/claim", methods=["POST"])
@protected(blp, "community:write")
@blp.arguments(ClaimWishSchema)
@blp.response(200, WishSchema)
def claim(data: dict[str, Any], wish_id: int) -> Wish:
    """Claim an open wish (for myself or one of my teams)."""
    return svc.claim_wish(db.session, actor(), wish_id, team_id=data["team_id"])


@blp.route("/<int:wish_id>/fulfil", methods=["POST"])
@protected(blp, "community:write")
@blp.arguments(WishFulfilSchema)
@blp.response(200, WishSchema)
def fulfil(data: dict[str, Any], wish_id: int) -> Wish:
    """Say the wish is done, with the time spent (recorded as pending hours)."""
    return svc.fulfil_wish(
        db.session,
        actor(),
        wish_id,
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        note=data["note"],
    )


@blp.route("/<int:wish_id>/confirm", methods=["POST"])
@protected(blp, "community:write")
@idempotent(blp)
@blp.arguments(ConfirmSchema)
@blp.response(200, WishSchema)
def confirm(data: dict[str, Any], wish_id: int) -> Wish:
    """The requester confirms and rates (1–5); where the community pays on confirmation,
    this approves the helper's hours."""
    return svc.confirm_wish(db.session, actor(), wish_id, rating=data["rating"], comment=data["comment"])


@blp.route("/<int:wish_id>/withdraw", methods=["POST"])
@protected(blp, "community:write")
@blp.response(200, WishSchema)
def withdraw(wish_id: int) -> Wish:
    """The requester (or staff) withdraws an open or claimed wish."""
    return svc.withdraw_wish(db.session, actor(), wish_id)
