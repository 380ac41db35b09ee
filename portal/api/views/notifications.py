"""Notifications (站内消息): my inbox, mark all read."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from portal.api.auth import actor, protected
from portal.api.pagination import paginate
from portal.api.schemas import PageArgs, page_of
from portal.extensions import db
from portal.notifications import services as svc
from portal.notifications.models import Notification

blp = Blueprint("Notifications", __name__, url_prefix="/notifications", description="My notifications.")


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"example": "hours.approved"})
    # Rendered in the request's language from the stored message ids (portal/notifications).
    title = fields.Function(lambda n: svc.title_of(n), required=True)
    body = fields.Function(lambda n: svc.body_of(n), required=True)
    link = fields.String(required=True, allow_none=True, metadata={"description": "The page on the website."})
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)


NotificationPage = page_of(NotificationSchema, "NotificationPage")


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=False)


class UnreadSchema(Schema):
    unread = fields.Integer(required=True)


class MarkedSchema(Schema):
    marked = fields.Integer(required=True)


@blp.route("", methods=["GET"])
@protected(blp, "notifications:read")
@blp.arguments(InboxArgs, location="query")
@blp.response(200, NotificationPage)
def inbox(args: dict[str, Any]) -> dict[str, Any]:
    """My notifications, newest first."""
    user = actor()
    stmt = select(Notification).where(Notification.user_id == user.id)
    if args["unread"]:
        stmt = stmt.where(Notification.read_at.is_(None))
    page = paginate(
        db.session,
        stmt,
        id_col=Notification.id,
        descending=True,
        cursor=args.get("cursor"),
        limit=args["limit"],
        filters={"u": user.id, "unread": args["unread"]},
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/unread", methods=["GET"])
@protected(blp, "notifications:read")
@blp.response(200, UnreadSchema)
def unread() -> dict[str, Any]:
    """How many notifications I have not read (the bell)."""
    return {"unread": svc.unread_count(db.session, actor().id)}


@blp.route("/read", methods=["POST"])
@protected(blp, "notifications:write")
@blp.response(200, MarkedSchema)
def mark_all_read() -> dict[str, Any]:
    """Mark all my notifications read."""
    return {"marked": svc.mark_all_read(db.session, actor().id)}
