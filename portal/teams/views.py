"""Pages of 志愿队伍 (phone-first): ``/teams/`` (teams of my community), ``/teams/new``,
``/teams/<id>`` (members, activities, join/leave, leader actions), staff: close a team.

Thin views over ``portal.teams.services``; refusals (audited by the service) answer with
their 4xx status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.places.models import Community
from portal.policy import is_staff
from portal.refusals import on_refusal
from portal.teams import services as svc
from portal.teams.forms import ActionForm, TeamForm
from portal.volunteering.rules import can_volunteer
from portal.volunteering.teams import TeamRole
from portal.web import current_actor as _actor
from portal.web import first_error as _first_error
from portal.web import home_community_id as _home_community_id

bp = Blueprint("teams", __name__)


@bp.get("/teams/")
@login_required
def index() -> str:
    actor = _actor()
    community_id = _home_community_id(actor)
    community: Community | None = None
    rows: list[svc.TeamRow] = []
    if community_id is not None:
        rows = svc.community_teams(db.session, actor, community_id)
        community = db.session.get(Community, community_id)
    return render_template(
        "teams/index.html",
        community=community,
        rows=rows,
        cap=svc.team_cap(db.session, community.id) if community else 0,
        joined=sum(1 for r in rows if r.mine is not None),
        can_create=community is not None and can_volunteer(actor, community.id),
        can_manage=community is not None and is_staff(actor, community),
    )


def _render_new(community: Community, form: TeamForm, status: int = 200) -> tuple[str, int]:
    return render_template("teams/form.html", community=community, form=form), status


@bp.route("/teams/new", methods=["GET", "POST"])
@login_required
def create() -> Response | tuple[str, int]:
    actor = _actor()
    community_id = _home_community_id(actor)
    if community_id is None:
        abort(404)
    community = db.session.get(Community, community_id)
    if community is None:
        abort(404)
    form = TeamForm()
    if request.method == "GET":
        return _render_new(community, form)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_new(community, form, 400)
    on_refusal(lambda: _render_new(community, form))
    team = svc.create_team(db.session, actor, community.id, form.name.data or "", form.description.data or "")
    flash(_("Team created. You are its leader."), "success")
    return redirect(url_for("teams.detail", team_id=team.id))


def _render_detail(team_id: int, status: int = 200) -> tuple[str, int]:
    page = svc.team_page(db.session, _actor(), team_id)
    return render_template(
        "teams/detail.html",
        page=page,
        team=page.team,
        cap=svc.team_cap(db.session, page.team.community_id),
        action_form=ActionForm(formdata=None),
        TeamRole=TeamRole,
    ), status


@bp.get("/teams/<int:team_id>")
@login_required
def detail(team_id: int) -> tuple[str, int]:
    return _render_detail(team_id)


def _act(team_id: int, call: Any, ok: str, *, to_list: bool = False) -> Response | tuple[str, int]:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    on_refusal(lambda: _render_detail(team_id))
    call()
    flash(ok, "success")
    if to_list:
        return redirect(url_for("teams.index"))
    return redirect(url_for("teams.detail", team_id=team_id))


@bp.post("/teams/<int:team_id>/join")
@login_required
def join(team_id: int) -> Response | tuple[str, int]:
    return _act(team_id, lambda: svc.join_team(db.session, _actor(), team_id), _("You joined the team."))


@bp.post("/teams/<int:team_id>/leave")
@login_required
def leave(team_id: int) -> Response | tuple[str, int]:
    return _act(team_id, lambda: svc.leave_team(db.session, _actor(), team_id), _("You left the team."))


@bp.post("/teams/<int:team_id>/members/<int:user_id>/leader")
@login_required
def make_leader(team_id: int, user_id: int) -> Response | tuple[str, int]:
    step_down = request.form.get("step_down") == "1"
    return _act(
        team_id,
        lambda: svc.make_leader(db.session, _actor(), team_id, user_id, step_down=step_down),
        _("Leader appointed."),
    )


@bp.post("/teams/<int:team_id>/step-down")
@login_required
def step_down(team_id: int) -> Response | tuple[str, int]:
    return _act(
        team_id, lambda: svc.step_down(db.session, _actor(), team_id), _("You are no longer a leader.")
    )


@bp.post("/teams/<int:team_id>/close")
@login_required
def close(team_id: int) -> Response | tuple[str, int]:
    return _act(
        team_id, lambda: svc.close_team(db.session, _actor(), team_id), _("Team closed."), to_list=True
    )
