"""积分超市 pages for residents (store, redeem, my vouchers) and for the street admin
(settlements to confirm). Thin views: parse, call one service, render or redirect. A refused
POST re-renders its page with the 4xx status so the request's transaction rolls back."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core.db import utcnow
from portal.errors import ServiceError, error_response
from portal.extensions import db, limiter
from portal.people.models import User
from portal.refusals import deny
from portal.rewards import services as svc
from portal.rewards.forms import ActionForm, RedeemForm, SettleForm
from portal.rewards.models import RewardCategory, Voucher, VoucherStatus
from portal.rewards.uploads import MIMETYPES, picture_file
from portal.web import current_actor as _actor

bp = Blueprint("rewards", __name__, url_prefix="/rewards")


def _redeem_limit() -> str:
    return str(current_app.config.get("REDEEM_LIMIT", "10 per minute; 50 per day"))


def _redeem_key() -> str:
    if current_user.is_authenticated:
        return f"redeem:user:{current_user.id}"
    return f"redeem:anon:{request.remote_addr}"


def qr_data_uri(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(img.to_string()).decode("ascii")


def voucher_state(voucher: Voucher) -> str:
    """Status as the resident sees it: an open voucher past its deadline is expired."""
    if voucher.status == VoucherStatus.OPEN and voucher.expires_at <= utcnow():
        return VoucherStatus.EXPIRED.value
    return voucher.status.value


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "reward_category_label": lambda c: svc.CATEGORY_LABELS.get(RewardCategory(getattr(c, "value", c)), c),
        "voucher_status_label": lambda s: svc.STATUS_LABELS.get(VoucherStatus(getattr(s, "value", s)), s),
    }


@bp.errorhandler(429)
def too_many(_e: Exception) -> Response:
    return error_response(
        429, _("Too many attempts"), _("You are redeeming too often. Please wait a little and try again.")
    )


# --- the store -------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    category = request.args.get("category") or ""
    if category not in {c.value for c in RewardCategory}:
        category = ""
    afford = request.args.get("afford") == "1"
    page = svc.store(db.session, _actor(), category=category or None, affordable_only=afford)
    actor = _actor()
    return render_template(
        "rewards/index.html",
        page=page,
        category=category,
        afford=afford,
        categories=list(RewardCategory),
        runs_catalogue=bool(svc.scopes_for(db.session, actor)),
        street_admin=bool(svc.admin_communities(db.session, actor)),
    )


@bp.get("/<int:reward_id>")
@login_required
def detail(reward_id: int) -> str:
    actor = _actor()
    reward = svc.reward_for_member(db.session, actor, reward_id)
    return render_template(
        "rewards/detail.html",
        reward=reward,
        owner=svc.owner_name(db.session, reward),
        have=svc.spendable(db.session, reward.community_id, actor.id),
        used=svc.used_this_month(db.session, actor.id, reward.id, utcnow()),
        available=svc.is_available(reward, svc.local_today()),
    )


def _holder() -> User:
    """The person whose 福分 pay: the signed-in user, or (代办, ``?for=<id>``) a person
    they are a carer of; anyone else is refused and audited."""
    from portal.people.carers import dependent_for

    actor = _actor()
    raw = request.values.get("for", type=int)
    if raw is None or raw == actor.id:
        return actor
    try:
        return dependent_for(db.session, actor, raw)
    except ServiceError:
        deny("rewards.redeem_for", for_user_id=raw)
        raise  # pragma: no cover


def _render_confirm(reward_id: int, status: int = 200, form: RedeemForm | None = None) -> tuple[str, int]:
    holder = _holder()
    reward = svc.reward_for_member(db.session, holder, reward_id)
    form = form or RedeemForm()
    form.idem_key.data = str(uuid.uuid4())  # a fresh key each time the form is shown
    return render_template(
        "rewards/confirm.html",
        reward=reward,
        form=form,
        owner=svc.owner_name(db.session, reward),
        have=svc.spendable(db.session, reward.community_id, holder.id),
        holder=holder if holder.id != current_user.id else None,
    ), status


@bp.get("/<int:reward_id>/redeem")
@login_required
def confirm(reward_id: int) -> tuple[str, int]:
    return _render_confirm(reward_id)


@bp.post("/<int:reward_id>/redeem")
@limiter.limit(_redeem_limit, key_func=_redeem_key)
@login_required
def redeem(reward_id: int) -> Any:
    form = RedeemForm()
    if not form.validate_on_submit():
        flash(_("This form has expired. Please try again."), "error")
        return _render_confirm(reward_id, 400)
    try:
        result = svc.redeem(
            db.session, _actor(), reward_id, form.idem_key.data or "", for_user_id=_holder().id
        )
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        return _render_confirm(reward_id, exc.status)
    if result.replayed:
        flash(_("This reward was already redeemed with this form; here is your voucher."), "info")
        return redirect(url_for("rewards.voucher", voucher_id=result.voucher.id))
    # The success message travels with this tab's redirect, not in the session's flashes:
    # another tab that lost a race for the last item must not show "Redeemed!".
    return redirect(url_for("rewards.voucher", voucher_id=result.voucher.id, new=1))


@bp.get("/<int:reward_id>/picture")
@login_required
def picture(reward_id: int) -> Any:
    reward = svc.reward_for_member(db.session, _actor(), reward_id)
    path = picture_file(reward.picture_path)
    if path is None:
        abort(404)
    resp = Response(path.read_bytes(), mimetype=MIMETYPES.get(path.suffix, "application/octet-stream"))
    resp.headers["Cache-Control"] = "private, max-age=3600"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# --- my vouchers --------------------------------------------------------------------------------


@bp.get("/vouchers")
@login_required
def vouchers() -> str:
    return render_template(
        "rewards/vouchers.html", vouchers=svc.my_vouchers(db.session, _actor().id), state=voucher_state
    )


def _render_voucher(voucher: Voucher, status: int = 200) -> tuple[str, int]:
    state = voucher_state(voucher)
    qr = None
    if state == "open":
        qr = qr_data_uri(url_for("merchant.verify", code=voucher.code, _external=True))
    return render_template(
        "rewards/voucher.html",
        voucher=voucher,
        state=state,
        qr=qr,
        owner=svc.owner_name(db.session, voucher.reward),
        form=ActionForm(),
        just_redeemed=request.args.get("new") == "1" and state == "open",
    ), status


@bp.get("/vouchers/<int:voucher_id>")
@login_required
def voucher(voucher_id: int) -> tuple[str, int]:
    return _render_voucher(svc.voucher_for_owner(db.session, _actor(), voucher_id))


@bp.post("/vouchers/<int:voucher_id>/cancel")
@login_required
def cancel(voucher_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        svc.cancel(db.session, _actor(), voucher_id)
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        return _render_voucher(svc.voucher_for_owner(db.session, _actor(), voucher_id), exc.status)
    flash(_("Cancelled. Your 福分 are available again."), "success")
    return redirect(url_for("rewards.vouchers"))


# --- street admin: settlements ---------------------------------------------------------------------


def _render_settlements(status: int = 200) -> tuple[str, int]:
    actor = _actor()
    if not svc.admin_communities(db.session, actor):
        from portal.refusals import deny

        deny("rewards.settlements")
    pending = svc.settlements_to_confirm(db.session, actor)
    names = svc.org_and_community_names(db.session, pending)
    return render_template(
        "rewards/settlements.html", pending=pending, names=names, form=SettleForm()
    ), status


@bp.get("/settlements")
@login_required
def settlements() -> tuple[str, int]:
    return _render_settlements()


@bp.post("/settlements/confirm")
@login_required
def settle() -> Any:
    form = SettleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        s = svc.confirm_settlement(
            db.session,
            _actor(),
            int(form.organisation_id.data or 0),
            int(form.community_id.data or 0),
            form.month.data or "",
        )
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(str(exc.message), "error")
        return _render_settlements(exc.status)
    flash(_("Settlement confirmed: %(n)d 福分 for %(m)s.", n=s.points, m=s.month), "success")
    return redirect(url_for("rewards.settlements"))
