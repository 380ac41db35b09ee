"""代办 pages: staff enrol people without a phone and look after them; family members see
and act for the people they care for. Thin views: parse, call one service, render or
redirect; refusals are audited (403), unknown or other-community people are 404."""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

import ledger
from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db
from portal.people.models import User
from portal.places.models import Building, Community
from portal.policy import community_for_staff
from portal.proxy import services as svc
from portal.proxy.forms import ActionForm, CarerForm, EnrolForm, HoursForm, SignupForm
from portal.refusals import deny
from portal.volunteering.activities import Activity, ActivityStatus
from portal.volunteering.hours import HourLog
from portal.web import current_actor as _actor

bp = Blueprint("proxy", __name__)


def _refuse(exc: ServiceError, action: str, community_id: int | None = None) -> NoReturn:
    if isinstance(exc, Forbidden):
        deny(action, community_id=community_id, code=exc.code)
    if isinstance(exc, NotFound):
        abort(404)
    raise exc


def _fail(form: Any, exc: ServiceError) -> None:
    field = form[exc.field] if exc.field and exc.field in form else None
    if field is not None:
        field.errors = [*field.errors, str(exc.message)]
    flash(str(exc.message), "error")


def _buildings(community_id: int) -> list[tuple[int, str]]:
    rows = db.session.scalars(
        select(Building).where(Building.community_id == community_id).order_by(Building.grid_id, Building.id)
    )
    return [(0, _("Choose…"))] + [(b.id, f"{b.grid.name} · {b.name}") for b in rows]


def _upcoming(community_id: int) -> list[tuple[int, str]]:
    rows = db.session.scalars(
        select(Activity)
        .where(
            Activity.community_id == community_id,
            Activity.status == ActivityStatus.PUBLISHED,
            Activity.ends_at > utcnow() - dt.timedelta(days=1),
        )
        .order_by(Activity.starts_at)
        .limit(50)
    )
    return [(a.id, f"{a.title} {a.starts_at.astimezone(LOCAL_TZ):%m-%d %H:%M}") for a in rows]


def _balance(person: User) -> int:
    if person.community_id is None:
        return 0
    account = ledger.find_account(db.session, person.community_id, f"user:{person.id}")
    return 0 if account is None else ledger.available(db.session, account)


# --- staff -----------------------------------------------------------------------------------


def _staff(community_id: int, action: str) -> Community:
    try:
        return community_for_staff(db.session, _actor(), community_id)
    except ServiceError as exc:
        _refuse(exc, action, community_id)


@bp.get("/community/<int:community_id>/manage/proxies")
@login_required
def proxies(community_id: int) -> str:
    community = _staff(community_id, "proxy.list")
    return render_template(
        "proxy/list.html",
        community=community,
        people=svc.proxies_of_community(db.session, _actor(), community.id),
    )


@bp.route("/community/<int:community_id>/manage/enrol", methods=["GET", "POST"])
@login_required
def enrol(community_id: int) -> Response | tuple[str, int]:
    community = _staff(community_id, "proxy.enrol")
    form = EnrolForm()
    form.building_id.choices = _buildings(community.id)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            try:
                person = svc.enrol(
                    db.session,
                    _actor(),
                    community.id,
                    name=form.name.data,
                    building_id=form.building_id.data or None,
                    landline=form.landline.data,
                )
                if form.carer_phone.data:
                    svc.link_carer(
                        db.session,
                        _actor(),
                        community.id,
                        person.id,
                        phone=form.carer_phone.data,
                        relation=form.relation.data or "",
                    )
            except (Forbidden, NotFound) as exc:
                if exc.field == "phone":  # the relative's number: a field error, not a 404
                    form.carer_phone.errors = [str(exc.message)]
                    return render_template(
                        "proxy/enrol.html", form=form, community=community, staff=True
                    ), 422
                _refuse(exc, "proxy.enrol", community.id)
            except ServiceError as exc:
                _fail(form, exc)
                status = exc.status
            else:
                flash(_("%(name)s is enrolled.", name=person.display_name), "success")
                return redirect(url_for("proxy.person", community_id=community.id, user_id=person.id))
    return render_template("proxy/enrol.html", form=form, community=community, staff=True), status


def _person_page(community: Community, person: User, status: int = 200, **forms: Any) -> tuple[str, int]:
    hours_form = forms.get("hours_form") or HoursForm(formdata=None)
    signup_form = forms.get("signup_form") or SignupForm(formdata=None)
    signup_form.activity_id.choices = _upcoming(community.id)
    logs = db.session.scalars(
        select(HourLog).where(HourLog.user_id == person.id).order_by(HourLog.started_at.desc()).limit(20)
    )
    return render_template(
        "proxy/person.html",
        community=community,
        person=person,
        carers=svc.carers_of(db.session, person.id),
        carer_form=forms.get("carer_form") or CarerForm(formdata=None),
        hours_form=hours_form,
        signup_form=signup_form,
        action_form=ActionForm(formdata=None),
        logs=list(logs),
        balance=_balance(person),
    ), status


def _person(community_id: int, user_id: int, action: str) -> tuple[Community, User]:
    community = _staff(community_id, action)
    try:
        return community, svc.person_for_staff(db.session, _actor(), community.id, user_id)
    except ServiceError as exc:
        _refuse(exc, action, community_id)


@bp.get("/community/<int:community_id>/manage/people/<int:user_id>/care")
@login_required
def person(community_id: int, user_id: int) -> tuple[str, int]:
    community, who = _person(community_id, user_id, "proxy.person")
    return _person_page(community, who)


@bp.post("/community/<int:community_id>/manage/people/<int:user_id>/carers")
@login_required
def add_carer(community_id: int, user_id: int) -> Response | tuple[str, int]:
    community, who = _person(community_id, user_id, "proxy.carer.link")
    form = CarerForm()
    if not form.validate_on_submit():
        return _person_page(community, who, 400, carer_form=form)
    try:
        svc.link_carer(
            db.session,
            _actor(),
            community.id,
            who.id,
            phone=form.phone.data,
            relation=form.relation.data or "",
        )
    except ServiceError as exc:
        _fail(form, exc)
        return _person_page(community, who, exc.status, carer_form=form)
    flash(_("The relative can now act for %(name)s.", name=who.display_name), "success")
    return redirect(url_for("proxy.person", community_id=community.id, user_id=who.id))


@bp.post("/community/<int:community_id>/manage/people/<int:user_id>/carers/<int:link_id>/remove")
@login_required
def remove_carer(community_id: int, user_id: int, link_id: int) -> Response:
    community, who = _person(community_id, user_id, "proxy.carer.unlink")
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        svc.unlink_carer(db.session, _actor(), community.id, who.id, link_id)
    except ServiceError as exc:
        _refuse(exc, "proxy.carer.unlink", community.id)
    flash(_("The relative can no longer act for %(name)s.", name=who.display_name), "success")
    return redirect(url_for("proxy.person", community_id=community.id, user_id=who.id))


@bp.post("/community/<int:community_id>/manage/people/<int:user_id>/hours")
@login_required
def record_hours(community_id: int, user_id: int) -> Response | tuple[str, int]:
    community, who = _person(community_id, user_id, "proxy.hours")
    form = HoursForm()
    if not form.validate_on_submit():
        return _person_page(community, who, 400, hours_form=form)
    started = dt.datetime.combine(form.day.data, form.start.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    ended = dt.datetime.combine(form.day.data, form.end.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    try:
        svc.record_hours_for(
            db.session,
            _actor(),
            community.id,
            who.id,
            started_at=started,
            ended_at=ended,
            description=form.description.data or "",
        )
    except (Forbidden, NotFound) as exc:
        _refuse(exc, "proxy.hours", community.id)
    except ServiceError as exc:
        _fail(form, exc)
        return _person_page(community, who, exc.status, hours_form=form)
    flash(_("Hours recorded; they wait for approval."), "success")
    return redirect(url_for("proxy.person", community_id=community.id, user_id=who.id))


def _signup_for(who: User, action: str) -> bool:
    """Sign ``who`` up for the chosen activity; False (with a message) when that failed."""
    from portal.activities.services import signup

    form = SignupForm()
    form.activity_id.choices = _upcoming(who.community_id or 0)
    if not form.validate_on_submit():
        flash(_("Choose an activity."), "error")
        return False
    try:
        row = signup(db.session, _actor(), form.activity_id.data, person_id=who.id)
    except (Forbidden, NotFound) as exc:
        _refuse(exc, action, who.community_id)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return False
    flash(
        _("%(name)s is signed up.", name=who.display_name)
        if row.status.value == "confirmed"
        else _("%(name)s is on the waitlist.", name=who.display_name),
        "success",
    )
    return True


@bp.post("/community/<int:community_id>/manage/people/<int:user_id>/signup")
@login_required
def staff_signup(community_id: int, user_id: int) -> Response | tuple[str, int]:
    community, who = _person(community_id, user_id, "proxy.signup")
    if not _signup_for(who, "proxy.signup"):
        return _person_page(community, who, 400)
    return redirect(url_for("proxy.person", community_id=community.id, user_id=who.id))


# --- family ----------------------------------------------------------------------------------


def _family_page(form: EnrolForm | None = None, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    links = svc.dependents_of(db.session, actor)
    from portal.rewards.services import store

    people = []
    for link in links:
        dep = link.dependent
        people.append(
            {
                "link": link,
                "person": dep,
                "balance": _balance(dep),
                "rewards": store(db.session, dep, affordable_only=True).items[:5],
                "activities": _upcoming(dep.community_id or 0)[:10],
            }
        )
    if form is None and actor.community_id is not None:
        form = EnrolForm(formdata=None)
    if form is not None and actor.community_id is not None:
        form.building_id.choices = _buildings(actor.community_id)
    return render_template(
        "proxy/family.html", people=people, form=form, signup_form=SignupForm(formdata=None)
    ), status


@bp.get("/family/")
@login_required
def family() -> tuple[str, int]:
    return _family_page()


@bp.post("/family/enrol")
@login_required
def family_enrol() -> Response | tuple[str, int]:
    actor = _actor()
    if actor.community_id is None:
        flash(_("Choose your community first."), "error")
        return redirect(url_for("proxy.family"))
    form = EnrolForm()
    form.building_id.choices = _buildings(actor.community_id)
    if not form.validate_on_submit():
        return _family_page(form, 400)
    try:
        person = svc.enrol(
            db.session,
            actor,
            actor.community_id,
            name=form.name.data,
            building_id=form.building_id.data or None,
            landline=form.landline.data,
            relation=form.relation.data or "",
        )
    except (Forbidden, NotFound) as exc:
        _refuse(exc, "proxy.enrol", actor.community_id)
    except ServiceError as exc:
        _fail(form, exc)
        return _family_page(form, exc.status)
    flash(_("%(name)s is enrolled. You can now act for them.", name=person.display_name), "success")
    return redirect(url_for("proxy.family"))


@bp.post("/family/<int:user_id>/signup")
@login_required
def family_signup(user_id: int) -> Response | tuple[str, int]:
    try:
        who = svc.dependent_for(db.session, _actor(), user_id)
    except ServiceError as exc:
        _refuse(exc, "proxy.signup")
    if not _signup_for(who, "proxy.signup"):
        return _family_page(status=400)
    return redirect(url_for("proxy.family"))
