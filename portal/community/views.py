"""Community pages (社区), the staff area, 报到 and the street overview.

Thin views: parse the form, call one service, render or redirect. Every id in a URL or
form goes through a service that checks role *and* community; a refusal is audited via
``portal.accounts.security.deny`` (403), an unknown id is a 404, a rule refusal re-renders the
page with the message and a 4xx status (so the request's transaction rolls back).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from portal import policy
from portal.community import services as svc
from portal.community.forms import (
    ActionForm,
    BuildingForm,
    CommunityForm,
    GrantRoleForm,
    NameForm,
    OrganisationForm,
    ReportForm,
    ReviewForm,
)
from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.people.masking import mask_phone
from portal.people.models import Role, User
from portal.people.reports import ReportStatus
from portal.places import services as places
from portal.places.models import Community, OrgKind
from portal.refusals import audit_as, deny, on_refusal
from portal.web import current_actor as _actor

bp = Blueprint("community", __name__)


def _first_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return _("Please check what you entered.")


def _staff_community(community_id: int, action: str) -> Community:
    audit_as(action, community_id)
    return policy.community_for_staff(db.session, _actor(), community_id)


def _page_arg() -> int:
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), 100_000)


# --- members ---------------------------------------------------------------------------


@bp.get("/community/")
@login_required
def home() -> str:
    """My community: home community, 报到 status, places I manage."""
    actor = _actor()
    return render_template(
        "community/home.html",
        community=actor.community,
        report=svc.live_report(db.session, actor.id),
        managed=policy.staff_communities(db.session, actor),
        streets=policy.administered_streets(db.session, actor),
        status_label=svc.status_label,
    )


@bp.get("/community/<int:community_id>")
@login_required
def show(community_id: int) -> str:
    audit_as("community.view", community_id)
    community = policy.community_for_member(db.session, _actor(), community_id)
    return render_template(
        "community/show.html",
        community=community,
        organisations=svc.organisations_for_community(db.session, community),
        can_manage=policy.is_staff(_actor(), community),
        OrgKind=OrgKind,
    )


# --- 报到 --------------------------------------------------------------------------------


def _report_form(actor: User) -> ReportForm:
    form = ReportForm()
    if actor.community_id is not None and actor.community is not None:
        form.community_id.choices = [(actor.community.id, actor.community.name)]
    else:
        form.community_id.choices = [
            (c.id, f"{c.street.name} · {c.name}") for c in places.open_communities(db.session)
        ]
    return form


def _render_report(form: ReportForm, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    return render_template(
        "community/report.html",
        form=form,
        live=svc.live_report(db.session, actor.id),
        history=svc.reports_of(db.session, actor.id),
        withdraw_form=ActionForm(),
        status_label=svc.status_label,
        ReportStatus=ReportStatus,
    ), status


@bp.get("/community/report")
@login_required
def report() -> tuple[str, int]:
    return _render_report(_report_form(_actor()))


@bp.post("/community/report")
@login_required
def submit_report() -> Response | tuple[str, int]:
    actor = _actor()
    form = _report_form(actor)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_report(form, 400)
    audit_as("community.report.submit", form.community_id.data)
    on_refusal(lambda: _render_report(form), form)
    svc.submit_report(db.session, actor, form.community_id.data, form.work_unit.data, form.party_org.data)
    flash(_("Your report was sent. The community staff will confirm it."), "success")
    return redirect(url_for("community.report"))


@bp.post("/community/report/<int:report_id>/withdraw")
@login_required
def withdraw_report(report_id: int) -> Response | tuple[str, int]:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    audit_as("community.report.withdraw")
    on_refusal(lambda: _render_report(_report_form(_actor())), hard=lambda e: isinstance(e, NotFound))
    svc.withdraw_report(db.session, _actor(), report_id)
    flash(_("Your report was withdrawn."), "success")
    return redirect(url_for("community.report"))


# --- staff area: places ----------------------------------------------------------------


def _render_manage(
    community: Community,
    status: int = 200,
    grid_form: NameForm | None = None,
    building_form: BuildingForm | None = None,
) -> tuple[str, int]:
    building_form = building_form or BuildingForm()
    building_form.grid_id.choices = [(g.id, g.name) for g in community.grids]
    return render_template(
        "community/manage.html",
        community=community,
        grid_form=grid_form or NameForm(),
        building_form=building_form,
        pending_count=len(svc.pending_reports(db.session, _actor(), community.id)),
        is_street_admin=policy.is_street_admin(_actor(), community.street_id),
    ), status


@bp.get("/community/<int:community_id>/manage")
@login_required
def manage(community_id: int) -> tuple[str, int]:
    return _render_manage(_staff_community(community_id, "community.manage"))


def _places_change(
    community_id: int, action: str, call: Any, form: Any, ok_message: str
) -> Response | tuple[str, int]:
    community = _staff_community(community_id, action)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_manage(community, 400)
    audit_as(action, community_id)
    on_refusal(lambda: _render_manage(community))
    call(community)
    flash(ok_message, "success")
    return redirect(url_for("community.manage", community_id=community_id))


@bp.post("/community/<int:community_id>/manage/grids")
@login_required
def add_grid(community_id: int) -> Response | tuple[str, int]:
    form = NameForm()
    return _places_change(
        community_id,
        "community.grid.add",
        lambda c: svc.add_grid(db.session, _actor(), c.id, form.name.data),
        form,
        _("Grid added."),
    )


@bp.post("/community/<int:community_id>/manage/grids/<int:grid_id>/rename")
@login_required
def rename_grid(community_id: int, grid_id: int) -> Response | tuple[str, int]:
    form = NameForm()
    return _places_change(
        community_id,
        "community.grid.rename",
        lambda c: svc.rename_grid(db.session, _actor(), c.id, grid_id, form.name.data),
        form,
        _("Grid renamed."),
    )


@bp.post("/community/<int:community_id>/manage/buildings")
@login_required
def add_building(community_id: int) -> Response | tuple[str, int]:
    form = BuildingForm()
    return _places_change(
        community_id,
        "community.building.add",
        lambda c: svc.add_building(db.session, _actor(), c.id, form.grid_id.data, form.name.data),
        form,
        _("Building added."),
    )


@bp.post("/community/<int:community_id>/manage/buildings/<int:building_id>/rename")
@login_required
def rename_building(community_id: int, building_id: int) -> Response | tuple[str, int]:
    form = NameForm()
    return _places_change(
        community_id,
        "community.building.rename",
        lambda c: svc.rename_building(db.session, _actor(), c.id, building_id, form.name.data),
        form,
        _("Building renamed."),
    )


# --- staff area: people ----------------------------------------------------------------


@bp.get("/community/<int:community_id>/manage/members")
@login_required
def members(community_id: int) -> str:
    community = _staff_community(community_id, "community.members")
    page = _page_arg()
    rows, total = svc.list_members(db.session, _actor(), community.id, page)
    return render_template(
        "community/members.html",
        community=community,
        rows=rows,
        total=total,
        page=page,
        page_size=svc.MEMBERS_PAGE_SIZE,
        mask_phone=mask_phone,
        Role=Role,
    )


def _render_reports(community: Community, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    return render_template(
        "community/reports.html",
        community=community,
        pending=svc.pending_reports(db.session, actor, community.id),
        reviewed=svc.recent_reviews(db.session, actor, community.id),
        review_form=ReviewForm(formdata=None),
        actor=actor,
        mask_phone=mask_phone,
        status_label=svc.status_label,
    ), status


@bp.get("/community/<int:community_id>/manage/reports")
@login_required
def reports(community_id: int) -> tuple[str, int]:
    return _render_reports(_staff_community(community_id, "community.reports"))


@bp.post("/community/<int:community_id>/manage/reports/<int:report_id>/review")
@login_required
def review_report(community_id: int, report_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id, "community.report.review")
    form = ReviewForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_reports(community, 400)
    confirm = form.decision.data == "confirm"
    audit_as("community.report.review", community_id)
    on_refusal(lambda: _render_reports(community))
    svc.review_report(
        db.session, _actor(), community.id, report_id, confirm=confirm, note=form.note.data or ""
    )
    flash(
        _("Report confirmed; the member now holds the party member role here.")
        if confirm
        else _("Report rejected."),
        "success",
    )
    return redirect(url_for("community.reports", community_id=community_id))


def _grant_form(community: Community) -> GrantRoleForm:
    form = GrantRoleForm()
    form.organisation_id.choices = [(0, _("— none —"))] + [
        (o.id, o.name) for o in svc.organisations_for_community(db.session, community)
    ]
    return form


def _render_roles(
    community: Community, form: GrantRoleForm | None = None, status: int = 200
) -> tuple[str, int]:
    actor = _actor()
    return render_template(
        "community/roles.html",
        community=community,
        assignments=svc.list_role_assignments(db.session, actor, community.id),
        form=form or _grant_form(community),
        revoke_form=ActionForm(formdata=None),
        can_grant=policy.is_street_admin(actor, community.street_id),
        mask_phone=mask_phone,
    ), status


@bp.get("/community/<int:community_id>/manage/roles")
@login_required
def roles(community_id: int) -> tuple[str, int]:
    return _render_roles(_staff_community(community_id, "community.roles"))


@bp.post("/community/<int:community_id>/manage/roles")
@login_required
def grant_role(community_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id, "community.role.grant")
    if not policy.is_street_admin(_actor(), community.street_id):
        deny("community.role.grant", community_id=community_id, code="not_street_admin")
    form = _grant_form(community)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_roles(community, form, 400)
    audit_as("community.role.grant", community_id)
    on_refusal(lambda: _render_roles(community, form), form, hard=lambda e: isinstance(e, Forbidden))
    svc.grant_role(
        db.session, _actor(), community.id, form.phone.data, form.role.data, form.organisation_id.data or None
    )
    flash(_("Role granted."), "success")
    return redirect(url_for("community.roles", community_id=community_id))


@bp.post("/community/<int:community_id>/manage/roles/<int:assignment_id>/revoke")
@login_required
def revoke_role(community_id: int, assignment_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id, "community.role.revoke")
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    audit_as("community.role.revoke", community_id)
    on_refusal(lambda: _render_roles(community), hard=lambda e: isinstance(e, Forbidden))
    svc.revoke_role(db.session, _actor(), community.id, assignment_id)
    flash(_("Role revoked."), "success")
    return redirect(url_for("community.roles", community_id=community_id))


# --- organisations ---------------------------------------------------------------------


def _org_form(street_id: int, community: Community | None) -> OrganisationForm:
    form = OrganisationForm()
    if community is not None:
        # Community staff: merchants of their own community.
        form.kind.choices = [(OrgKind.MERCHANT.value, _("Merchant"))]
        form.community_id.choices = [(community.id, community.name)]
    else:
        street = places.get_street(db.session, street_id)
        form.community_id.choices = [(0, _("— whole street —"))] + [
            (c.id, c.name) for c in street.communities
        ]
    return form


def _organisation_form_view(
    street_id: int, community: Community | None, action: str
) -> Response | tuple[str, int]:
    form = _org_form(street_id, community)
    back = (
        url_for("community.manage", community_id=community.id)
        if community
        else url_for("community.organisations", street_id=street_id)
    )
    if request.method == "GET" or not form.validate_on_submit():
        status = 200
        if request.method == "POST":
            flash(_first_error(form), "error")
            status = 400
        return render_template(
            "community/organisation_form.html", form=form, community=community, back=back
        ), status
    audit_as(action, community.id if community else None)
    on_refusal(
        lambda: render_template(
            "community/organisation_form.html", form=form, community=community, back=back
        ),
        form,
    )
    svc.register_organisation(
        db.session,
        _actor(),
        street_id,
        kind=form.kind.data,
        name=form.name.data,
        contact_name=form.contact_name.data or "",
        contact_phone=form.contact_phone.data or "",
        address=form.address.data or "",
        description=form.description.data or "",
        community_id=form.community_id.data or None,
    )
    flash(_("Organisation registered."), "success")
    return redirect(back)


@bp.route("/street/<int:street_id>/organisations/new", methods=["GET", "POST"])
@login_required
def new_organisation(street_id: int) -> Response | tuple[str, int]:
    audit_as("community.organisation.register")
    policy.street_for_admin(db.session, _actor(), street_id)
    return _organisation_form_view(street_id, None, "community.organisation.register")


@bp.route("/community/<int:community_id>/manage/merchants/new", methods=["GET", "POST"])
@login_required
def new_merchant(community_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id, "community.organisation.register")
    return _organisation_form_view(community.street_id, community, "community.organisation.register")


@bp.get("/street/<int:street_id>/organisations")
@login_required
def organisations(street_id: int) -> str:
    audit_as("community.organisations")
    street, orgs = svc.street_organisations_visible(db.session, _actor(), street_id)
    return render_template(
        "community/organisations.html",
        street=street,
        organisations=orgs,
        can_register=policy.is_street_admin(_actor(), street.id),
        mask_phone=mask_phone,
        community_names={c.id: c.name for c in street.communities},
        OrgKind=OrgKind,
    )


# --- street admins ---------------------------------------------------------------------


@bp.get("/street/<int:street_id>")
@login_required
def street(street_id: int) -> str:
    audit_as("community.street")
    street_obj, stats = svc.street_overview(db.session, _actor(), street_id)
    return render_template(
        "community/street.html",
        street=street_obj,
        stats=stats,
        organisations=svc.organisations_of_street(db.session, street_obj.id),
        OrgKind=OrgKind,
    )


# --- street admins set up communities ------------------------------------------------------


def _community_form_view(form: CommunityForm, title: str, back: str, save: Any, action: str, cid: int | None):
    """GET renders, POST validates and calls ``save`` (one service call)."""
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            audit_as(action, cid)
            on_refusal(
                lambda: render_template("community/community_form.html", form=form, title=title, back=back),
                form,
            )
            community = save()
            flash(_("Community saved."), "success")
            return redirect(url_for("community.manage", community_id=community.id))
        else:
            flash(_first_error(form), "error")
            status = 400
    return render_template("community/community_form.html", form=form, title=title, back=back), status


@bp.route("/street/<int:street_id>/communities/new", methods=["GET", "POST"])
@login_required
def new_community(street_id: int) -> Response | tuple[str, int]:
    audit_as("community.create")
    street_obj = policy.street_for_admin(db.session, _actor(), street_id)
    form = CommunityForm()
    return _community_form_view(
        form,
        _("New community in %(street)s", street=street_obj.name),
        url_for("community.street", street_id=street_obj.id),
        lambda: svc.create_community(
            db.session,
            _actor(),
            street_obj.id,
            name=form.name.data,
            address=form.address.data or "",
            is_open=bool(form.is_open.data),
        ),
        "community.create",
        None,
    )


@bp.route("/community/<int:community_id>/edit", methods=["GET", "POST"])
@login_required
def edit_community(community_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id, "community.update")
    if not policy.is_street_admin(_actor(), community.street_id):
        deny("community.update", community_id=community_id, code="not_street_admin")
    form = CommunityForm(obj=community) if request.method == "GET" else CommunityForm()
    return _community_form_view(
        form,
        _("Edit %(name)s", name=community.name),
        url_for("community.manage", community_id=community.id),
        lambda: svc.update_community(
            db.session,
            _actor(),
            community.id,
            name=form.name.data,
            address=form.address.data or "",
            is_open=bool(form.is_open.data),
        ),
        "community.update",
        community.id,
    )
