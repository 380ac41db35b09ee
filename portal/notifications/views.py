"""消息 (inbox): a user's notifications, newest first."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.ids import id_arg
from portal.notifications import services

bp = Blueprint("notifications", __name__, url_prefix="/inbox")


@bp.get("/")
@login_required
def inbox() -> str:
    before = request.args.get("before", type=id_arg)
    items = services.inbox(db.session, current_user.id, before_id=before)
    return render_template(
        "notifications/inbox.html", items=items, unread=services.unread_count(db.session, current_user.id)
    )


@bp.post("/read")
@login_required
def mark_read() -> Response:
    services.mark_all_read(db.session, current_user.id)
    return redirect(url_for("notifications.inbox"))
