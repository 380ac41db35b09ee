"""Pages for gifts, grants and the time exchange. Thin views: parse, call one service,
render or redirect. A refused request answers 4xx so its transaction rolls back; the
services audit refusals."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal import policy
from portal.errors import ServiceError
from portal.exchange import services as svc
from portal.exchange.forms import (
    ActionForm,
    DisputeForm,
    DoneForm,
    GiftForm,
    GrantForm,
    ListingForm,
    ResolveForm,
    ReverseForm,
    minutes_of,
)
from portal.exchange.models import AgreementStatus, GrantCategory
from portal.extensions import db
from portal.ids import id_arg
from portal.policy import is_street_admin
from portal.refusals import on_refusal
from portal.web import current_actor as _actor

bp = Blueprint("exchange", __name__, url_prefix="/exchange")


def _fail(form: Any, exc: ServiceError) -> None:
    field = getattr(form, exc.field, None) if exc.field and form is not None else None
    if field is not None and isinstance(getattr(field, "errors", None), list):
        field.errors.append(str(exc.message))
    else:
        flash(str(exc.message), "error")


def agreement_status_label(status: AgreementStatus) -> str:
    return {
        "active": _("Agreed, in progress"),
        "done": _("Done, waiting for payment"),
        "paid": _("Paid"),
        "disputed": _("Disputed, staff will decide"),
        "resolved": _("Decided by staff"),
        "cancelled": _("Cancelled"),
    }[status.value]


def points_kind_label(kind: str) -> str:
    return {
        "earn": _("Volunteer hours"),
        "grant": _("Community grant"),
        "redeem": _("Redeemed"),
        "transfer": _("Mutual help"),
        "gift": _("Gift"),
        "reverse": _("Correction"),
        "settle": _("Settlement"),
        "expire": _("Expired"),
        "adjust": _("Adjustment"),
    }.get(kind, kind)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    from portal.exchange.forms import new_idem_key

    return {
        "agreement_status_label": agreement_status_label,
        "mask_name": svc.mask_name,
        "new_idem_key": new_idem_key,
        "points_kind_label": points_kind_label,
        "grant_category_label": lambda c: str(svc.CATEGORY_LABELS[GrantCategory(c)]),
    }


@bp.get("/")
@login_required
def index() -> str:
    actor = _actor()
    return render_template(
        "exchange/index.html",
        listings=svc.open_listings(db.session, actor),
        mine=svc.my_listings(db.session, actor.id),
        agreements=svc.my_agreements(db.session, actor.id),
        gifts=svc.my_gifts(db.session, actor.id),
        staff_communities=svc.staff_community_list(db.session, actor),
    )


# --- gifts -----------------------------------------------------------------------------


@bp.route("/gift", methods=["GET", "POST"])
@login_required
def gift() -> Any:
    actor = _actor()
    form = GiftForm()
    if request.method == "GET":
        form.fill_key()
        return render_template("exchange/gift.html", form=form)
    if not form.validate():
        form.fill_key()
        return render_template("exchange/gift.html", form=form), 400
    try:
        recipient, amount, note = svc.check_gift(
            db.session, actor, form.phone.data, form.amount.data, form.note.data
        )
    except ServiceError as exc:
        _fail(form, exc)
        return render_template("exchange/gift.html", form=form), exc.status
    return render_template(
        "exchange/gift_confirm.html",
        form=form,
        recipient_name=svc.mask_name(recipient.display_name),
        amount=amount,
        note=note,
    )


@bp.post("/gift/confirm")
@login_required
def gift_confirm() -> Any:
    actor = _actor()
    form = GiftForm()
    if not form.validate():
        form.fill_key()
        return render_template("exchange/gift.html", form=form), 400
    try:
        gift = svc.give(
            db.session, actor, form.phone.data, form.amount.data, form.note.data, form.idem_key.data
        )
    except ServiceError as exc:
        _fail(form, exc)
        return render_template("exchange/gift.html", form=form), exc.status
    flash(
        _("You gave %(n)d 福分 to %(who)s.", n=gift.amount, who=svc.mask_name(gift.recipient.display_name)),
        "success",
    )
    return redirect(url_for("main.points"))


# --- time exchange ------------------------------------------------------------------------


@bp.route("/listings/new", methods=["GET", "POST"])
@login_required
def new_listing() -> Any:
    actor = _actor()
    form = ListingForm()
    if request.method == "GET":
        if request.args.get("kind") in ("offer", "request"):
            form.kind.data = request.args["kind"]
        return render_template("exchange/listing_new.html", form=form)
    if not form.validate():
        return render_template("exchange/listing_new.html", form=form), 400
    try:
        listing = svc.create_listing(
            db.session,
            actor,
            form.kind.data,
            form.title.data,
            form.description.data or "",
            minutes_of(form.est_hours.data),
        )
    except ServiceError as exc:
        _fail(form, exc)
        return render_template("exchange/listing_new.html", form=form), exc.status
    flash(_("Posted."), "success")
    return redirect(url_for("exchange.listing", listing_id=listing.id))


@bp.get("/listings/<int:listing_id>")
@login_required
def listing(listing_id: int) -> Any:
    item = svc.get_listing(db.session, _actor(), listing_id)
    return render_template("exchange/listing.html", listing=item, form=ActionForm())


@bp.post("/listings/<int:listing_id>/respond")
@login_required
def respond(listing_id: int) -> Any:
    form = ActionForm()
    if not form.validate():
        abort(400)
    try:
        agreement = svc.respond(db.session, _actor(), listing_id)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        item = svc.get_listing(db.session, _actor(), listing_id)
        return render_template("exchange/listing.html", listing=item, form=ActionForm()), exc.status
    flash(_("Agreed. Contact each other to arrange the details."), "success")
    return redirect(url_for("exchange.agreement", agreement_id=agreement.id))


@bp.post("/listings/<int:listing_id>/close")
@login_required
def close_listing(listing_id: int) -> Any:
    if not ActionForm().validate():
        abort(400)
    svc.close_listing(db.session, _actor(), listing_id)
    flash(_("Withdrawn."), "success")
    return redirect(url_for("exchange.index"))


def _agreement_page(agreement_id: int, status: int = 200, **forms: Any) -> Any:
    actor = _actor()
    agreement = svc.get_agreement(db.session, actor, agreement_id)
    from portal.settings.services import get_settings

    rate = get_settings(db.session, agreement.community_id).exchange_points_per_hour
    ctx = {
        "done_form": DoneForm(),
        "dispute_form": DisputeForm(),
        "resolve_form": ResolveForm(),
        "action_form": ActionForm(),
    }
    ctx.update(forms)
    is_staff = policy.is_staff(actor, svc._community(db.session, agreement.community_id))
    due = svc.exchange_points(agreement.reported_minutes, rate) if agreement.reported_minutes else None
    return render_template(
        "exchange/agreement.html", agreement=agreement, rate=rate, due=due, is_staff=is_staff, **ctx
    ), status


@bp.get("/agreements/<int:agreement_id>")
@login_required
def agreement(agreement_id: int) -> Any:
    return _agreement_page(agreement_id)


def _agreement_action(agreement_id: int, form: Any, key: str, call: Any, ok: str) -> Any:
    if not form.validate():
        return _agreement_page(agreement_id, 400, **{key: form})
    try:
        call()
    except ServiceError as exc:
        _fail(form, exc)
        return _agreement_page(agreement_id, exc.status, **{key: form})
    flash(ok, "success")
    return redirect(url_for("exchange.agreement", agreement_id=agreement_id))


@bp.post("/agreements/<int:agreement_id>/done")
@login_required
def done(agreement_id: int) -> Any:
    form = DoneForm()
    return _agreement_action(
        agreement_id,
        form,
        "done_form",
        lambda: svc.mark_done(db.session, _actor(), agreement_id, minutes_of(form.hours.data)),
        _("Marked as done. The receiver will confirm and pay."),
    )


@bp.post("/agreements/<int:agreement_id>/pay")
@login_required
def pay(agreement_id: int) -> Any:
    form = ActionForm()
    return _agreement_action(
        agreement_id,
        form,
        "action_form",
        lambda: svc.approve_and_pay(db.session, _actor(), agreement_id),
        _("Paid. Thank you!"),
    )


@bp.post("/agreements/<int:agreement_id>/dispute")
@login_required
def dispute(agreement_id: int) -> Any:
    form = DisputeForm()
    return _agreement_action(
        agreement_id,
        form,
        "dispute_form",
        lambda: svc.dispute(db.session, _actor(), agreement_id, form.reason.data),
        _("Dispute sent to community staff."),
    )


@bp.post("/agreements/<int:agreement_id>/cancel")
@login_required
def cancel(agreement_id: int) -> Any:
    form = ActionForm()
    return _agreement_action(
        agreement_id,
        form,
        "action_form",
        lambda: svc.cancel_agreement(db.session, _actor(), agreement_id),
        _("Cancelled."),
    )


@bp.post("/agreements/<int:agreement_id>/resolve")
@login_required
def resolve(agreement_id: int) -> Any:
    form = ResolveForm()

    def call() -> None:
        minutes = None
        if form.decision.data == "pay":
            minutes = minutes_of(form.hours.data)
            if minutes is None:
                raise ServiceError(_("Enter the hours to pay."), code="bad_hours", field="hours")
        svc.resolve(db.session, _actor(), agreement_id, minutes=minutes, note=form.note.data)

    return _agreement_action(agreement_id, form, "resolve_form", call, _("Decision saved."))


# --- staff: grants and disputes -------------------------------------------------------------


def _staff_community(arg: Any) -> Any:
    communities = svc.staff_community_list(db.session, _actor())
    if not communities:
        from portal.refusals import deny

        deny("exchange.staff")
    wanted = arg if isinstance(arg, int) else None
    chosen = next((c for c in communities if c.id == wanted), communities[0] if wanted is None else None)
    if chosen is None:
        from portal.refusals import deny

        deny("exchange.staff", community_id=wanted)
    return chosen, communities


def _grant_form_choices(form: GrantForm, community_id: int) -> None:
    activities, teams = svc.grant_targets(db.session, community_id)
    form.activity_id.choices = [(0, _("Choose…"))] + [
        (a.id, f"{a.title} ({a.starts_at:%Y-%m-%d})") for a in activities
    ]
    form.team_id.choices = [(0, _("Choose…"))] + [(t.id, t.name) for t in teams]
    form.category.choices = [(c.value, str(label)) for c, label in svc.CATEGORY_LABELS.items()]


def _grants_page(community: Any, communities: Any, form: GrantForm, status: int = 200) -> Any:
    batches = svc.grant_history(db.session, _actor(), community.id)
    return render_template(
        "exchange/grants.html",
        community=community,
        communities=communities,
        form=form,
        batches=batches,
        reverse_form=ReverseForm(),
        can_force=is_street_admin(_actor(), community.street_id),
    ), status


@bp.get("/staff/grants")
@login_required
def grants() -> Any:
    community, communities = _staff_community(request.args.get("community_id", type=id_arg))
    form = GrantForm()
    form.fill_key()
    _grant_form_choices(form, community.id)
    return _grants_page(community, communities, form)


@bp.post("/staff/grants")
@login_required
def grants_post() -> Any:
    community, communities = _staff_community(request.form.get("community_id", type=id_arg) or -1)
    form = GrantForm()
    _grant_form_choices(form, community.id)
    if not form.validate():
        return _grants_page(community, communities, form, 400)
    try:
        batch = svc.grant(
            db.session,
            _actor(),
            community.id,
            target=form.target.data,
            amount=form.amount.data,
            category=form.category.data,
            reason=form.reason.data,
            idem_key=form.idem_key.data,
            target_id=(
                form.activity_id.data
                if form.target.data == "activity"
                else form.team_id.data
                if form.target.data == "team"
                else None
            ),
            phone=form.phone.data,
        )
    except ServiceError as exc:
        _fail(form, exc)
        return _grants_page(community, communities, form, exc.status)
    flash(_("Granted %(n)d 福分 to %(count)d people.", n=batch.amount, count=len(batch.grants)), "success")
    return redirect(url_for("exchange.grants", community_id=community.id))


@bp.post("/staff/grants/<int:grant_id>/reverse")
@login_required
def reverse_grant(grant_id: int) -> Any:
    form = ReverseForm()
    community, communities = _staff_community(request.form.get("community_id", type=id_arg) or -1)
    grant_form = GrantForm()
    grant_form.idem_key.data = None
    grant_form.fill_key()
    _grant_form_choices(grant_form, community.id)
    if not form.validate():
        flash(_("Give a reason for the correction."), "error")
        return _grants_page(community, communities, grant_form, 400)
    on_refusal(lambda: _grants_page(community, communities, grant_form))
    g = svc.reverse_grant(
        db.session, _actor(), grant_id, form.reason.data, form.idem_key.data, force=bool(form.force.data)
    )
    flash(_("The grant was corrected."), "success")
    return redirect(url_for("exchange.grants", community_id=g.community_id))


@bp.get("/staff/disputes")
@login_required
def disputes() -> Any:
    community, communities = _staff_community(request.args.get("community_id", type=id_arg))
    return render_template(
        "exchange/disputes.html",
        community=community,
        communities=communities,
        agreements=svc.disputes(db.session, _actor(), community.id),
    )
