"""微心愿 pages: the board, post a wish, a wish's page with the actions open to me."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from core.clock import LOCAL_TZ
from portal.accounts.lookup import NOT_HERE
from portal.errors import NotFound, ServiceError
from portal.extensions import db
from portal.ids import optional_id
from portal.people.models import User
from portal.places.models import Community
from portal.policy import is_staff, staff_communities
from portal.refusals import on_refusal
from portal.volunteering.wishes import Wish, WishStatus
from portal.web import current_actor as _actor
from portal.wishes import services as svc
from portal.wishes.forms import ActionForm, ClaimForm, ConfirmForm, FulfilForm, WishForm

bp = Blueprint("wishes", __name__, url_prefix="/wishes")


def status_label(status: WishStatus) -> str:
    return {
        "open": _("Open"),
        "claimed": _("Claimed"),
        "fulfilled": _("Done, waiting for confirmation"),
        "confirmed": _("Confirmed"),
        "withdrawn": _("Withdrawn"),
    }[status.value]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"wish_status_label": status_label}


@bp.get("/")
@login_required
def board() -> str:
    actor = _actor()
    wishes = svc.open_wishes(db.session, actor.community_id) if actor.community_id else []
    made, claimed = svc.my_wishes(db.session, actor.id)
    # "Open wishes near me" are the neighbours' wishes; mine are listed under "My wishes".
    wishes = [w for w in wishes if w.requester_id != actor.id]
    return render_template("wishes/board.html", wishes=wishes, made=made, claimed=claimed)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    actor = _actor()
    form = WishForm()
    managed = staff_communities(db.session, actor)
    community_id = actor.community_id or (managed[0].id if managed else None)
    if community_id is None:
        flash(_("Choose your community first."), "error")
        return redirect(url_for("wishes.board"))
    if request.method == "GET" or not form.validate():
        return render_template("wishes/new.html", form=form, staff=bool(managed)), (
            400 if request.method == "POST" else 200
        )
    requester_id = None
    if form.requester_phone.data:
        # Only among the communities this staff member manages, with one neutral answer
        # for "unregistered", "deactivated" and "lives elsewhere".
        person = None
        for community in managed:
            person = db.session.scalar(
                select(User).where(
                    User.phone == form.requester_phone.data.strip(),
                    User.community_id == community.id,
                    User.is_active.is_(True),
                )
            )
            if person is not None:
                break
        if person is None:
            form.requester_phone.errors.append(str(NOT_HERE))
            return render_template("wishes/new.html", form=form, staff=bool(managed)), 404
        requester_id = person.id
        community_id = person.community_id
    on_refusal(lambda: render_template("wishes/new.html", form=form, staff=bool(managed)), form)
    wish = svc.create_wish(
        db.session,
        actor,
        community_id=community_id,
        title=form.title.data or "",
        description=form.description.data or "",
        category=form.category.data or "",
        due_date=form.due_date.data,
        requester_id=requester_id,
    )
    flash(_("Your wish was posted."), "success")
    return redirect(url_for("wishes.show", wish_id=wish.id))


def _page(wish: Wish, status: int = 200, **forms: Any) -> Any:
    actor = _actor()
    claim_form = forms.get("claim_form") or ClaimForm()
    teams: list[tuple[str, str]] = []
    from portal.volunteering.rules import active_team_ids
    from portal.volunteering.teams import Team

    ids = active_team_ids(db.session, actor.id)
    if ids:
        teams = [(str(t.id), t.name) for t in db.session.scalars(select(Team).where(Team.id.in_(ids)))]
    claim_form.team_id.choices = [("", _("Myself"))] + teams
    requester = db.session.get(User, wish.requester_id)
    claimer = db.session.get(User, wish.claimed_by_id) if wish.claimed_by_id else None
    community = db.session.get(Community, wish.community_id)
    return render_template(
        "wishes/show.html",
        wish=wish,
        requester=requester,
        claimer=claimer,
        is_requester=wish.requester_id == actor.id,
        is_claimer=wish.claimed_by_id == actor.id,
        is_staff=community is not None and is_staff(actor, community),
        claim_form=claim_form,
        fulfil_form=forms.get("fulfil_form") or FulfilForm(),
        confirm_form=forms.get("confirm_form") or ConfirmForm(),
        action_form=ActionForm(),
    ), status


def _load(wish_id: int) -> Wish:
    try:
        return svc.get_wish(db.session, _actor(), wish_id)
    except NotFound:
        abort(404)


@bp.get("/<int:wish_id>")
@login_required
def show(wish_id: int) -> Any:
    return _page(_load(wish_id))


def _on_refusal(wish_id: int, **forms: Any) -> None:
    """A refusal shows the wish again (with the message on the form that was sent); an
    unknown wish is the 404 page."""
    on_refusal(
        lambda: _page(_load(wish_id), **forms),
        next(iter(forms.values()), None),
        hard=lambda exc: isinstance(exc, NotFound),
    )


@bp.post("/<int:wish_id>/claim")
@login_required
def claim(wish_id: int) -> Any:
    form = ClaimForm()
    raw = request.form.get("team_id", "")
    form.team_id.choices = [(raw, raw)]
    if not form.validate():
        abort(400)
    team_id = optional_id(raw)
    _on_refusal(wish_id)
    svc.claim_wish(db.session, _actor(), wish_id, team_id=team_id)
    flash(_("You claimed this wish. Thank you!"), "success")
    return redirect(url_for("wishes.show", wish_id=wish_id))


@bp.post("/<int:wish_id>/fulfil")
@login_required
def fulfil(wish_id: int) -> Any:
    form = FulfilForm()
    _on_refusal(wish_id, fulfil_form=form)
    if not form.validate():
        raise ServiceError(_("Please check the date and times."), code="bad_input")
    start = dt.datetime.combine(form.day.data, form.start.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    end = dt.datetime.combine(form.day.data, form.end.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    svc.fulfil_wish(db.session, _actor(), wish_id, started_at=start, ended_at=end, note=form.note.data or "")
    flash(_("Marked as done. The resident will be asked to confirm."), "success")
    return redirect(url_for("wishes.show", wish_id=wish_id))


@bp.post("/<int:wish_id>/confirm")
@login_required
def confirm(wish_id: int) -> Any:
    form = ConfirmForm()
    _on_refusal(wish_id, confirm_form=form)
    if not form.validate():
        raise ServiceError(_("Choose 1 to 5 stars."), code="bad_rating")
    svc.confirm_wish(
        db.session, _actor(), wish_id, rating=int(form.rating.data or 0), comment=form.comment.data or ""
    )
    flash(_("Thank you for confirming."), "success")
    return redirect(url_for("wishes.show", wish_id=wish_id))


@bp.post("/<int:wish_id>/withdraw")
@login_required
def withdraw(wish_id: int) -> Any:
    if not ActionForm().validate():
        abort(400)
    _on_refusal(wish_id)
    svc.withdraw_wish(db.session, _actor(), wish_id)
    flash(_("The wish was withdrawn."), "success")
    return redirect(url_for("wishes.board"))
