"""首页 (home), 服务 (services), 福分 (points) and the health check. Thin views: they only
read, through ``portal.main.queries``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.ids import id_arg
from portal.main.nav import url_for_safe
from portal.main.queries import points_summary, role_lines

bp = Blueprint("main", __name__)

# Service entries, each shown only once its feature's endpoint exists. The first
# endpoint that resolves wins (features may name their pages differently as they land).
SERVICE_LINKS: tuple[tuple[Any, Any, tuple[str, ...]], ...] = (
    (
        _l("My community"),
        _l("Your community, your report status and the places you help manage."),
        ("community.home",),
    ),
    (
        _l("Report to my community"),
        _l("Party members working elsewhere register with the community where they live."),
        ("community.report",),
    ),
    (_l("Service posts"), _l("Claim a service post in your community."), ("posts.index", "posts.board")),
    (_l("Volunteer teams"), _l("Join a volunteer team."), ("teams.index",)),
    (_l("Activities"), _l("Sign up for community activities."), ("activities.index",)),
    (_l("Micro-wishes"), _l("Help a neighbour with a small wish, or post your own."), ("wishes.board",)),
    (_l("My hours"), _l("Your volunteer hours and reporting hours."), ("hours.mine",)),
    (
        _l("Ask for help"),
        _l("Post a need: the community matches it with a partner unit or volunteers."),
        ("needs.mine",),
    ),
    (
        _l("My family"),
        _l("Enrol a family member without a phone, sign them up and redeem for them."),
        ("proxy.family",),
    ),
    (
        _l("Rewards store"),
        _l("Spend your 福分 on rewards from local shops and your community."),
        ("rewards.index",),
    ),
    (
        _l("Give and help"),
        _l("Give points to family or neighbours, offer or ask for mutual help."),
        ("exchange.index",),
    ),
)


@bp.get("/")
def index() -> str:
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    from portal.main.home import home_data

    return render_template(
        "main/index.html",
        roles=role_lines(current_user),
        home=home_data(db.session, current_user),
        summary=points_summary(db.session, current_user),
    )


@bp.get("/services")
def services() -> str:
    links = []
    for title, description, endpoints in SERVICE_LINKS:
        url = url_for_safe(*endpoints)
        if url:
            links.append({"title": title, "description": description, "url": url})
    return render_template("main/services.html", links=links)


@bp.get("/points")
def points() -> str:
    """My 福分: balance, held, available, statement (keyset pages) and earned vs spent per
    month. Only the signed-in user's own account is read."""
    from flask import request

    from core.db import utcnow
    from portal.exchange.points import my_points

    data = None
    if current_user.is_authenticated and current_user.community_id is not None:
        before = request.args.get("before", type=id_arg)
        if before is not None and before <= 0:
            before = None
        data = my_points(db.session, current_user.id, current_user.community_id, before=before, now=utcnow())
    return render_template(
        "main/points.html", data=data, summary=data, paged=request.args.get("before") is not None
    )
