"""Compliance pages: staff list (with a "behind" filter and xlsx export) and the member's card."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required

from portal.compliance import services as svc
from portal.errors import Forbidden
from portal.extensions import db
from portal.forms import ActionForm
from portal.ids import require_id
from portal.policy import staff_communities
from portal.web import current_actor as _actor

bp = Blueprint("compliance", __name__, url_prefix="/compliance")


def _args() -> tuple[int, int, bool]:
    mine = staff_communities(db.session, _actor())
    raw_c = request.values.get("community_id", "")
    raw_y = request.values.get("year", "")
    if raw_y and not (raw_y.isascii() and raw_y.isdigit() and len(raw_y) == 4):
        abort(400)
    if not raw_c and not mine:
        abort(403)
    community_id = require_id(raw_c) if raw_c else mine[0].id
    year = int(raw_y) if raw_y else svc.current_year()
    if not 2000 <= year <= 2100:
        abort(400)
    return community_id, year, request.values.get("behind") == "1"


@bp.get("/")
@login_required
def overview() -> Any:
    community_id, year, behind = _args()
    try:
        rows = svc.community_overview(db.session, _actor(), community_id, year, behind_only=behind)
    except Forbidden:
        abort(403)
    return render_template(
        "compliance/overview.html",
        rows=rows,
        year=year,
        behind=behind,
        community_id=community_id,
        communities=staff_communities(db.session, _actor()),
        export_form=ActionForm(),
    )


@bp.post("/export")
@login_required
def export() -> Any:
    if not ActionForm().validate():
        abort(400)
    community_id, year, behind = _args()
    try:
        data = svc.export_xlsx(db.session, _actor(), community_id, year, behind_only=behind)
    except Forbidden:
        abort(403)
    resp = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Disposition"] = f'attachment; filename="party-members-{community_id}-{year}.xlsx"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/me")
@login_required
def me() -> Any:
    return render_template(
        "compliance/me.html",
        cards=svc.my_progress(db.session, _actor(), svc.current_year()),
        year=svc.current_year(),
    )
