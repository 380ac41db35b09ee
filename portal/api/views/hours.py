"""Hour logs: report my hours, list mine; staff: the approval queue, approve, reject."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from portal.api.auth import actor, protected
from portal.api.idempotency import idempotent
from portal.api.pagination import paginate
from portal.api.schemas import Id, PageArgs, QueryId, Text, page_of
from portal.extensions import db
from portal.volunteering import hour_logs as svc
from portal.volunteering.hours import HourLog, HourSource, HourStatus

blp = Blueprint(
    "Hours", __name__, url_prefix="/hours", description="Volunteer hours (服务时长) and their approval."
)


class HourLogSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    source = fields.Enum(HourSource, by_value=True, required=True)
    activity_id = fields.Integer(required=True, allow_none=True)
    post_id = fields.Integer(required=True, allow_none=True)
    wish_id = fields.Integer(required=True, allow_none=True)
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(required=True)
    minutes = fields.Integer(required=True)
    description = fields.String(required=True)
    status = fields.Enum(HourStatus, by_value=True, required=True)
    points = fields.Integer(required=True, allow_none=True, metadata={"description": "Paid when approved."})
    reject_reason = fields.String(required=True, allow_none=True)
    reviewed_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


HourLogPage = page_of(HourLogSchema, "HourLogPage")


class ReportSchema(Schema):
    source = fields.String(
        required=True,
        validate=validate.OneOf([HourSource.POST.value, HourSource.WISH.value]),
        metadata={
            "description": "A post I hold or a wish I fulfilled (activities record hours at check-out)."
        },
    )
    source_id = Id(required=True)
    started_at = fields.AwareDateTime(required=True, metadata={"example": "2026-12-01T09:00:00+08:00"})
    ended_at = fields.AwareDateTime(required=True)
    description = Text(2000, required=True)


class MineArgs(PageArgs):
    status = fields.Enum(HourStatus, by_value=True)


class QueueArgs(PageArgs):
    community_id = QueryId(required=True)
    status = fields.Enum(HourStatus, by_value=True, load_default=HourStatus.PENDING)
    source = fields.Enum(HourSource, by_value=True)
    post_id = QueryId()
    activity_id = QueryId()
    team_id = QueryId()
    date_from = fields.Date(metadata={"description": "Community-local date (Asia/Shanghai)."})
    date_to = fields.Date()


class BatchSchema(Schema):
    ids = fields.List(Id(), required=True, validate=validate.Length(1, svc.MAX_BATCH))


class RejectSchema(BatchSchema):
    reason = Text(500, required=True)


class BatchResultSchema(Schema):
    approved = fields.List(fields.Integer(), required=True, metadata={"description": "Ids changed now."})
    skipped = fields.List(
        fields.Integer(), required=True, metadata={"description": "Already decided; unchanged."}
    )
    points = fields.Integer(required=True, metadata={"description": "福分 paid by this approval."})


def _batch(result: svc.BatchResult) -> dict[str, Any]:
    return {
        "approved": [log.id for log in result.approved],
        "skipped": [log.id for log in result.skipped],
        "points": result.points,
    }


@blp.route("", methods=["POST"])
@protected(blp, "hours:write")
@blp.arguments(ReportSchema)
@blp.response(201, HourLogSchema)
def report(data: dict[str, Any]) -> HourLog:
    """Report hours for a post I hold or a wish I fulfilled; pending until staff approve."""
    return svc.report_hours(
        db.session,
        actor(),
        source=data["source"],
        source_id=data["source_id"],
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        description=data["description"],
    )


@blp.route("/mine", methods=["GET"])
@protected(blp, "hours:read")
@blp.arguments(MineArgs, location="query")
@blp.response(200, HourLogPage)
def mine(args: dict[str, Any]) -> dict[str, Any]:
    """My hour logs, newest first."""
    user = actor()
    stmt = select(HourLog).where(HourLog.user_id == user.id)
    status = args.get("status")
    if status is not None:
        stmt = stmt.where(HourLog.status == status)
    page = paginate(
        db.session,
        stmt,
        id_col=HourLog.id,
        key_col=HourLog.started_at,
        key_kind="datetime",
        descending=True,
        cursor=args.get("cursor"),
        limit=args["limit"],
        filters={"u": user.id, "s": status.value if status else None},
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/queue", methods=["GET"])
@protected(blp, "staff:read")
@blp.arguments(QueueArgs, location="query")
@blp.response(200, HourLogPage)
def queue(args: dict[str, Any]) -> dict[str, Any]:
    """Staff: a community's hour logs to review (never my own), oldest first, with filters."""
    flt = svc.QueueFilter(
        community_id=args["community_id"],
        source=args["source"].value if args.get("source") else None,
        post_id=args.get("post_id"),
        activity_id=args.get("activity_id"),
        team_id=args.get("team_id"),
        date_from=args.get("date_from"),
        date_to=args.get("date_to"),
        status=args["status"].value,
    )
    stmt = svc.queue_query(db.session, actor(), flt).order_by(None)
    page = paginate(
        db.session,
        stmt,
        id_col=HourLog.id,
        key_col=HourLog.started_at,
        key_kind="datetime",
        cursor=args.get("cursor"),
        limit=args["limit"],
        filters={k: str(v) for k, v in vars(flt).items()},
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/approve", methods=["POST"])
@protected(blp, "staff:write")
@idempotent(blp)
@blp.arguments(BatchSchema)
@blp.response(200, BatchResultSchema)
def approve(data: dict[str, Any]) -> dict[str, Any]:
    """Staff: approve pending logs and pay them from the community fund (batch)."""
    return _batch(svc.approve(db.session, actor(), data["ids"]))


@blp.route("/reject", methods=["POST"])
@protected(blp, "staff:write")
@blp.arguments(RejectSchema)
@blp.response(200, BatchResultSchema)
def reject(data: dict[str, Any]) -> dict[str, Any]:
    """Staff: reject pending logs with a reason the volunteer will see."""
    return _batch(svc.reject(db.session, actor(), data["ids"], data["reason"]))
