"""三单 pages: residents post and confirm needs, staff match them into projects and watch
the lists, partner units accept and report. Thin views: parse, call one service, render
or redirect; refusals are audited (403), unknown or hidden ids are 404."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db
from portal.needs import services as svc
from portal.needs.forms import ActionForm, ConfirmForm, MatchForm, NeedForm, NoteForm, ResourceForm
from portal.needs.models import Need, NeedCategory, NeedStatus, ProjectStatus, ResourceKind, Urgency
from portal.people.models import Role, RoleAssignment, User
from portal.places.models import Building, Community, Organisation
from portal.places.services import get_street
from portal.policy import community_for_staff, is_staff, is_street_admin
from portal.refusals import deny
from portal.uploads import MIMETYPES, store_image, stored_file
from portal.web import current_actor as _actor

bp = Blueprint("needs", __name__)


def _refuse(exc: ServiceError, action: str, community_id: int | None = None) -> NoReturn:
    if isinstance(exc, Forbidden):
        deny(action, community_id=community_id, code=exc.code)
    if isinstance(exc, NotFound):
        abort(404)
    raise exc


def _field_error(form: Any, exc: ServiceError) -> None:
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc.message)]
    flash(str(exc.message), "error")


def _labels() -> dict[str, Any]:
    return {
        "category_label": lambda c: svc.CATEGORY_LABELS[c],
        "urgency_label": lambda u: svc.URGENCY_LABELS[u],
        "need_status_label": lambda s: svc.NEED_STATUS_LABELS[s],
        "project_status_label": lambda s: svc.PROJECT_STATUS_LABELS[s],
        "resource_label": lambda k: svc.RESOURCE_LABELS[k],
        "today": svc.local_today(),
    }


# --- residents -----------------------------------------------------------------------------


def _need_form(community_id: int) -> NeedForm:
    form = NeedForm()
    form.category.choices = [(c.value, str(svc.CATEGORY_LABELS[c])) for c in NeedCategory]
    form.urgency.choices = [(u.value, str(svc.URGENCY_LABELS[u])) for u in Urgency]
    buildings = db.session.scalars(
        select(Building).where(Building.community_id == community_id).order_by(Building.id)
    )
    form.building_id.choices = [(0, _("— not needed —"))] + [(b.id, b.name) for b in buildings]
    return form


def save_need_photo(file: Any) -> str | None:
    return store_image(
        file,
        field="photo",
        max_bytes=5 * 1024 * 1024,
        prefix="need-",
        too_large=_l("The photo is too large (at most 5 MB)."),
        wrong_type=_l("The photo must be a JPEG or PNG picture."),
        too_many_pixels=_l("The photo has too many pixels (at most 40 megapixels)."),
    )


@bp.get("/needs/")
@login_required
def mine() -> str:
    return render_template("needs/mine.html", needs=svc.my_needs(db.session, _actor()), **_labels())


@bp.route("/needs/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    actor = _actor()
    if actor.community_id is None:
        flash(_("Choose your community first."), "error")
        return redirect(url_for("main.index"))
    form = _need_form(actor.community_id)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            try:
                photo = save_need_photo(request.files.get("photo"))
                need = svc.create_need(
                    db.session,
                    actor,
                    actor.community_id,
                    category=form.category.data,
                    title=form.title.data,
                    description=form.description.data or "",
                    urgency=form.urgency.data,
                    building_id=form.building_id.data or None,
                    photo_path=photo,
                )
            except ServiceError as exc:
                _field_error(form, exc)
                status = exc.status
            else:
                flash(_("Your need was sent to the community."), "success")
                return redirect(url_for("needs.show", need_id=need.id))
    return render_template("needs/new.html", form=form), status


def _render_show(need: Need, status: int = 200, **forms: Any) -> tuple[str, int]:
    actor = _actor()
    community = db.session.get(Community, need.community_id)
    assert community is not None
    project = svc.project_of(db.session, need.id)
    staff = is_staff(actor, community)
    match_form = None
    if staff and need.status == NeedStatus.OPEN:
        match_form = forms.get("match_form") or MatchForm(formdata=None)
        _match_choices(match_form, community)
    return render_template(
        "needs/show.html",
        need=need,
        project=project,
        is_staff=staff,
        is_requester=actor.id == need.requester_id,
        is_unit=bool(project and project.organisation_id in svc.unit_ids(actor)),
        match_form=match_form,
        note_form=forms.get("note_form") or NoteForm(formdata=None),
        confirm_form=forms.get("confirm_form") or ConfirmForm(formdata=None),
        action_form=ActionForm(formdata=None),
        ProjectStatus=ProjectStatus,
        NeedStatus=NeedStatus,
        **_labels(),
    ), status


def _match_choices(form: MatchForm, community: Community) -> None:
    from portal.volunteering.posts import ServicePost
    from portal.volunteering.teams import Team

    choices: list[tuple[str, str]] = [("", _("Choose…"))]
    for r in svc.resources_for(db.session, community):
        choices.append((f"resource:{r.id}", f"{_('Resource')}: {r.title} ({r.organisation.name})"))
    for o in svc.partner_units_for(db.session, community):
        choices.append((f"organisation:{o.id}", f"{_('Partner unit')}: {o.name}"))
    for t in db.session.scalars(select(Team).where(Team.community_id == community.id).order_by(Team.id)):
        choices.append((f"team:{t.id}", f"{_('Team')}: {t.name}"))
    for p in db.session.scalars(
        select(ServicePost).where(ServicePost.community_id == community.id).order_by(ServicePost.id)
    ):
        choices.append((f"post:{p.id}", f"{_('Service post')}: {p.title}"))
    form.carrier.choices = choices
    staff_ids = select(RoleAssignment.user_id).where(
        RoleAssignment.community_id == community.id, RoleAssignment.role == Role.STAFF
    )
    form.owner_id.choices = [
        (u.id, u.display_name)
        for u in db.session.scalars(
            select(User).where(User.id.in_(staff_ids), User.is_active.is_(True)).order_by(User.id)
        )
    ]


def _need(need_id: int, action: str) -> Need:
    try:
        return svc.get_need(db.session, _actor(), need_id)
    except ServiceError as exc:
        _refuse(exc, action)


@bp.get("/needs/<int:need_id>")
@login_required
def show(need_id: int) -> tuple[str, int]:
    return _render_show(_need(need_id, "needs.view"))


@bp.get("/needs/<int:need_id>/photo")
@login_required
def photo(need_id: int) -> Any:
    need = _need(need_id, "needs.photo")
    path = stored_file(need.photo_path)
    if path is None:
        abort(404)
    return send_file(path, mimetype=MIMETYPES.get(path.suffix, "application/octet-stream"), max_age=3600)


def _act(need_id: int, action: str, call: Any, ok: str, **form_kw: Any) -> Response | tuple[str, int]:
    need = _need(need_id, action)
    try:
        call(need)
    except (Forbidden, NotFound) as exc:
        if exc.field is None:
            _refuse(exc, action, need.community_id)
        flash(str(exc.message), "error")
        return _render_show(need, exc.status, **form_kw)
    except ServiceError as exc:
        for form in form_kw.values():
            _field_error(form, exc)
        if not form_kw:
            flash(str(exc.message), "error")
        return _render_show(need, exc.status, **form_kw)
    flash(ok, "success")
    return redirect(url_for("needs.show", need_id=need.id))


@bp.post("/needs/<int:need_id>/match")
@login_required
def match(need_id: int) -> Response | tuple[str, int]:
    form = MatchForm()
    need = _need(need_id, "needs.match")
    community = db.session.get(Community, need.community_id)
    if community is None or not is_staff(_actor(), community):
        deny("needs.match", community_id=need.community_id)
    _match_choices(form, community)
    if not form.validate_on_submit():
        return _render_show(need, 400, match_form=form)
    kind, _sep, raw = (form.carrier.data or "").partition(":")
    if kind not in ("resource", "organisation", "team", "post") or not raw.isdigit() or len(raw) > 12:
        form.carrier.errors = [_("Choose one resource, partner unit, team or service post.")]
        return _render_show(need, 400, match_form=form)
    return _act(
        need_id,
        "needs.match",
        lambda n: svc.match_need(
            db.session,
            _actor(),
            n.id,
            owner_id=form.owner_id.data,
            deadline=form.deadline.data,
            title=form.title.data or "",
            **{f"{kind}_id": int(raw)},
        ),
        _("The need is now a project."),
        match_form=form,
    )


@bp.post("/needs/<int:need_id>/withdraw")
@login_required
def withdraw(need_id: int) -> Response | tuple[str, int]:
    if not ActionForm().validate_on_submit():
        abort(400)
    return _act(
        need_id, "needs.withdraw", lambda n: svc.withdraw_need(db.session, _actor(), n.id), _("Withdrawn.")
    )


@bp.post("/needs/<int:need_id>/confirm")
@login_required
def confirm(need_id: int) -> Response | tuple[str, int]:
    form = ConfirmForm()
    if not form.validate_on_submit():
        need = _need(need_id, "needs.confirm")
        return _render_show(need, 400, confirm_form=form)
    return _act(
        need_id,
        "needs.confirm",
        lambda n: svc.confirm_need(
            db.session, _actor(), n.id, rating=form.rating.data, comment=form.comment.data or ""
        ),
        _("Thank you for confirming."),
        confirm_form=form,
    )


def _project_action(need_id: int, action: str, call: Any, ok: str) -> Response | tuple[str, int]:
    form = NoteForm()
    if not form.validate_on_submit():
        need = _need(need_id, f"needs.{action}")
        return _render_show(need, 400, note_form=form)
    need = _need(need_id, f"needs.{action}")
    project = svc.project_of(db.session, need.id)
    if project is None:
        abort(404)
    return _act(
        need_id, f"needs.{action}", lambda n: call(project.id, form.note.data or ""), ok, note_form=form
    )


@bp.post("/needs/<int:need_id>/accept")
@login_required
def accept(need_id: int) -> Response | tuple[str, int]:
    return _project_action(
        need_id, "accept", lambda pid, note: svc.accept_project(db.session, _actor(), pid), _("Accepted.")
    )


@bp.post("/needs/<int:need_id>/progress")
@login_required
def progress(need_id: int) -> Response | tuple[str, int]:
    return _project_action(
        need_id,
        "progress",
        lambda pid, note: svc.report_progress(db.session, _actor(), pid, note),
        _("Progress noted."),
    )


@bp.post("/needs/<int:need_id>/done")
@login_required
def done(need_id: int) -> Response | tuple[str, int]:
    return _project_action(
        need_id,
        "done",
        lambda pid, note: svc.finish_project(db.session, _actor(), pid, note),
        _("Marked done; the resident will be asked to confirm."),
    )


@bp.post("/needs/<int:need_id>/cancel")
@login_required
def cancel(need_id: int) -> Response | tuple[str, int]:
    return _project_action(
        need_id,
        "cancel",
        lambda pid, note: svc.cancel_project(db.session, _actor(), pid, note),
        _("Project cancelled; the need waits for a new match."),
    )


# --- staff lists ---------------------------------------------------------------------------


@bp.get("/community/<int:community_id>/needs")
@login_required
def staff_list(community_id: int) -> str:
    try:
        community = community_for_staff(db.session, _actor(), community_id)
    except ServiceError as exc:
        _refuse(exc, "needs.list", community_id)
    actor = _actor()
    units = svc.partner_units_for(db.session, community)
    return render_template(
        "needs/staff.html",
        community=community,
        open_needs=svc.open_needs(db.session, actor, community.id),
        overdue=svc.overdue_projects(db.session, actor, community.id),
        live=svc.live_projects(db.session, actor, community.id),
        resources=svc.resources_for(db.session, community),
        records=svc.unit_records(db.session, units),
        **_labels(),
    )


@bp.get("/street/<int:street_id>/units")
@login_required
def street_units(street_id: int) -> str:
    try:
        street = get_street(db.session, street_id)
    except ServiceError:
        abort(404)
    if not is_street_admin(_actor(), street.id):
        deny("needs.units", street_id=street_id)
    orgs = list(
        db.session.scalars(
            select(Organisation).where(Organisation.street_id == street.id).order_by(Organisation.id)
        )
    )
    return render_template(
        "needs/units.html", street=street, records=svc.unit_records(db.session, orgs), **_labels()
    )


# --- partner units -------------------------------------------------------------------------


@bp.get("/units/")
@login_required
def unit_home() -> str:
    actor = _actor()
    ids = svc.unit_ids(actor)
    if not ids:
        deny("needs.unit_home")
    orgs = list(
        db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.id))
    )
    return render_template(
        "needs/unit_home.html",
        organisations=orgs,
        projects=svc.unit_projects(db.session, actor),
        records=svc.unit_records(db.session, orgs),
        **_labels(),
    )


@bp.route("/units/<int:org_id>/resources/new", methods=["GET", "POST"])
@login_required
def new_resource(org_id: int) -> Response | tuple[str, int]:
    org = db.session.get(Organisation, org_id)
    if org is None:
        abort(404)
    actor = _actor()
    if org.id not in svc.unit_ids(actor) and not is_street_admin(actor, org.street_id):
        deny("needs.resource.create", organisation_id=org_id)
    form = ResourceForm()
    form.kind.choices = [(k.value, str(svc.RESOURCE_LABELS[k])) for k in ResourceKind]
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            try:
                svc.create_resource(
                    db.session,
                    actor,
                    org.id,
                    kind=form.kind.data,
                    title=form.title.data,
                    description=form.description.data or "",
                    capacity=form.capacity.data,
                    hours=form.hours.data or "",
                )
            except ServiceError as exc:
                _field_error(form, exc)
                status = exc.status
            else:
                flash(_("Resource published."), "success")
                return redirect(
                    url_for("needs.unit_home") if org.id in svc.unit_ids(actor) else url_for("main.index")
                )
    return render_template("needs/resource_form.html", form=form, organisation=org), status
