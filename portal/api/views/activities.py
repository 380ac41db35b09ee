"""Activities (集中活动): list, detail, sign up, cancel, check in/out with the code."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.db import utcnow
from portal.activities import services as svc
from portal.api.auth import actor, protected
from portal.api.idempotency import idempotent
from portal.api.pagination import paginate
from portal.api.schemas import PageArgs, QueryId, page_of
from portal.extensions import db
from portal.policy import community_for_member
from portal.volunteering.activities import Activity, ActivitySignup, ActivityStatus

blp = Blueprint(
    "Activities", __name__, url_prefix="/activities", description="Activities (集中活动) and sign-ups."
)


class SignupSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["confirmed", "waitlisted", "cancelled"]})
    waitlist_rank = fields.Integer(
        required=True, allow_none=True, metadata={"description": "1 = next in line."}
    )
    checked_in_at = fields.DateTime(required=True, allow_none=True)
    checked_out_at = fields.DateTime(required=True, allow_none=True)
    attendance = fields.String(
        required=True, allow_none=True, metadata={"enum": ["present", "no_show", None]}
    )


class ActivitySchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    team_id = fields.Integer(required=True, allow_none=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    place = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    signup_deadline = fields.DateTime(required=True)
    capacity = fields.Integer(required=True)
    places_left = fields.Integer(required=True)
    points_per_hour = fields.Integer(required=True, allow_none=True)
    points_flat = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"enum": [s.value for s in ActivityStatus]})
    my_signup = fields.Nested(SignupSchema, required=True, allow_none=True)


ActivityPage = page_of(ActivitySchema, "ActivityPage")


class ActivityListArgs(PageArgs):
    community_id = QueryId(metadata={"description": "Only this community (one of mine)."})
    when = fields.String(
        load_default="upcoming",
        validate=validate.OneOf(["upcoming", "past", "all"]),
        metadata={"description": "upcoming: not yet ended, soonest first; past/all: newest first."},
    )


class CheckSchema(Schema):
    phase = fields.String(required=True, validate=validate.OneOf(list(svc.PHASES)))
    code = fields.String(required=True, validate=validate.Length(1, 12), metadata={"example": "123456"})


class CheckResultSchema(Schema):
    signup = fields.Nested(SignupSchema, required=True)
    minutes = fields.Integer(required=True, metadata={"description": "Minutes recorded at check-out."})
    hours_error = fields.String(
        required=True, allow_none=True, metadata={"description": "Why no hours were recorded, if so."}
    )


class CancelResultSchema(Schema):
    cancelled = fields.Boolean(required=True)


def signup_view(row: ActivitySignup | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row.id,
        "status": row.status.value,
        "waitlist_rank": svc.waitlist_rank(db.session, row),
        "checked_in_at": row.checked_in_at,
        "checked_out_at": row.checked_out_at,
        "attendance": row.attendance.value if row.attendance else None,
    }


def activity_view(a: Activity, mine: ActivitySignup | None) -> dict[str, Any]:
    data = {
        k: getattr(a, k)
        for k in (
            "id community_id team_id title description place starts_at ends_at signup_deadline capacity "
            "places_left points_per_hour points_flat"
        ).split()
    }
    data["status"] = a.status.value
    data["my_signup"] = signup_view(mine)
    return data


@blp.route("", methods=["GET"])
@protected(blp, "community:read")
@blp.arguments(ActivityListArgs, location="query")
@blp.response(200, ActivityPage)
def list_activities(args: dict[str, Any]) -> dict[str, Any]:
    """Activities of my communities (published; with `when=past|all` also finished and cancelled)."""
    user = actor()
    ids = svc.member_community_ids(user)
    community_id = args.get("community_id")
    if community_id is not None:
        ids = {community_for_member(db.session, user, community_id).id}
    when = args["when"]
    stmt = select(Activity).where(Activity.community_id.in_(ids))
    now = utcnow()
    if when == "upcoming":
        stmt = stmt.where(Activity.status == ActivityStatus.PUBLISHED, Activity.ends_at > now)
    elif when == "past":
        stmt = stmt.where(Activity.ends_at <= now)
    page = paginate(
        db.session,
        stmt,
        id_col=Activity.id,
        key_col=Activity.starts_at,
        key_kind="datetime",
        descending=when != "upcoming",
        cursor=args.get("cursor"),
        limit=args["limit"],
        filters={"c": sorted(ids), "w": when, "u": user.id},
    )
    mine = svc.my_signups(db.session, user.id, [a.id for a in page.items])
    return {"items": [activity_view(a, mine.get(a.id)) for a in page.items], "next_cursor": page.next_cursor}


@blp.route("/<int:activity_id>", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, ActivitySchema)
def get_activity(activity_id: int) -> dict[str, Any]:
    """One activity, with my sign-up."""
    user = actor()
    activity = svc.activity_for_member(db.session, user, activity_id)
    return activity_view(activity, svc.live_signup(db.session, activity.id, user.id))


@blp.route("/<int:activity_id>/signup", methods=["POST"])
@protected(blp, "community:write")
@idempotent(blp)
@blp.response(201, SignupSchema)
def sign_up(activity_id: int) -> dict[str, Any] | None:
    """Sign up: confirmed while places are left, otherwise on the waitlist."""
    return signup_view(svc.signup(db.session, actor(), activity_id))


@blp.route("/<int:activity_id>/signup", methods=["DELETE"])
@protected(blp, "community:write")
@blp.response(200, CancelResultSchema)
def cancel_signup(activity_id: int) -> dict[str, Any]:
    """Cancel my sign-up (before the start); the waitlist moves up."""
    svc.cancel_signup(db.session, actor(), activity_id)
    return {"cancelled": True}


@blp.route("/<int:activity_id>/check", methods=["POST"])
@protected(blp, "community:write")
@blp.arguments(CheckSchema)
@blp.response(200, CheckResultSchema)
def check(data: dict[str, Any], activity_id: int) -> dict[str, Any]:
    """Check in (`phase=in`) or out (`phase=out`) with the code the leader shows."""
    result = svc.check(db.session, actor(), activity_id, data["phase"], data["code"])
    return {
        "signup": signup_view(result.signup),
        "minutes": result.minutes,
        "hours_error": result.hours_error,
    }
