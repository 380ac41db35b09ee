"""Merchant portal (``/merchant``), phone-first: verify a voucher (scan or type the code),
the shop's rewards, history and monthly statements. Community staff use the same pages for
their community's own rewards (organisation 0 in the URL). Merchants see only the voucher
code and the resident's masked name and phone (PIPL Art. 23)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.errors import ServiceError
from portal.extensions import db
from portal.refusals import deny, on_refusal
from portal.rewards import services as svc
from portal.rewards.forms import ActionForm, RewardForm, VerifyForm
from portal.rewards.models import Reward
from portal.rewards.uploads import save_picture
from portal.web import current_actor as _actor

bp = Blueprint("merchant", __name__, url_prefix="/merchant")


def _scope(community_id: int, org: int, action: str) -> svc.Scope:
    try:
        return svc.scope_for(db.session, _actor(), community_id, org, action)
    except ServiceError:
        deny(action, community_id=community_id, organisation_id=org or None)
        raise  # pragma: no cover


@bp.get("/")
@login_required
def index() -> Any:
    scopes = svc.scopes_for(db.session, _actor())
    if not scopes:
        deny("merchant.index")
    if len(scopes) == 1:
        s = scopes[0]
        return redirect(url_for("merchant.home", community_id=s.community_id, org=s.org_key))
    return render_template("merchant/index.html", scopes=scopes)


@bp.get("/<int:community_id>/<int:org>/")
@login_required
def home(community_id: int, org: int) -> str:
    scope = _scope(community_id, org, "merchant.home")
    return render_template(
        "merchant/home.html",
        scope=scope,
        form=VerifyForm(formdata=None),
        open_vouchers=svc.open_vouchers(db.session, scope),
    )


# --- verify and fulfil ---------------------------------------------------------------------------


def _render_verify(code: str, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    form = VerifyForm(formdata=None, code=code)
    view = error = None
    if code:
        try:
            voucher = svc.voucher_for_fulfil(db.session, actor, code)
            view = svc.merchant_view(db.session, voucher)
        except ServiceError as exc:
            error = str(exc.message)
            status = max(status, exc.status)
    return render_template(
        "merchant/verify.html",
        form=form,
        view=view,
        error=error,
        action_form=ActionForm(),
        scopes=svc.scopes_for(db.session, actor),
    ), status


@bp.get("/verify")
@login_required
def verify() -> tuple[str, int]:
    """Scanned QR codes land here (``?code=``); so does the typed code. Shows the voucher
    with a confirm button; nothing changes until that POST."""
    if not svc.scopes_for(db.session, _actor()):
        deny("merchant.verify")
    return _render_verify(svc.normalise_code(request.args.get("code")))


@bp.post("/verify")
@login_required
def fulfil() -> Any:
    form = VerifyForm()
    if not form.validate_on_submit():
        abort(400)
    code = svc.normalise_code(form.code.data)
    on_refusal(lambda: _render_verify(code))
    voucher = svc.fulfil(db.session, _actor(), code)
    flash(_("Accepted: %(n)d 福分 for %(title)s.", n=voucher.price, title=voucher.reward.title), "success")
    return redirect(
        url_for("merchant.home", community_id=voucher.community_id, org=voucher.organisation_id or 0)
    )


# --- rewards -------------------------------------------------------------------------------------


@bp.get("/<int:community_id>/<int:org>/rewards")
@login_required
def rewards(community_id: int, org: int) -> str:
    scope = _scope(community_id, org, "merchant.rewards")
    return render_template(
        "merchant/rewards.html",
        scope=scope,
        rewards=svc.rewards_of(db.session, scope),
        action_form=ActionForm(),
    )


def _data(form: RewardForm, picture: str | None) -> svc.RewardData:
    return svc.RewardData(
        title=form.title.data or "",
        category=form.category.data or "",
        price=form.price.data,
        stock=form.stock.data,
        monthly_limit=form.monthly_limit.data,
        description=form.description.data or "",
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
        is_active=bool(form.is_active.data),
        picture_path=picture,
    )


def _attach(form: RewardForm, exc: ServiceError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and isinstance(getattr(field, "errors", None), list):
        field.errors.append(str(exc.message))
    else:
        flash(str(exc.message), "error")


def _render_form(
    form: RewardForm, scope: svc.Scope, reward: Reward | None, status: int = 200
) -> tuple[str, int]:
    return render_template("merchant/reward_form.html", form=form, scope=scope, reward=reward), status


@bp.route("/<int:community_id>/<int:org>/rewards/new", methods=["GET", "POST"])
@login_required
def new_reward(community_id: int, org: int) -> Any:
    scope = _scope(community_id, org, "merchant.new_reward")
    form = RewardForm()
    if request.method == "GET":
        return _render_form(form, scope, None)
    if not form.validate_on_submit():
        return _render_form(form, scope, None, 422)
    try:
        picture = save_picture(request.files.get("picture"))
        reward = svc.create_reward(
            db.session, _actor(), scope.community_id, scope.organisation_id, _data(form, picture)
        )
    except ServiceError as exc:
        db.session.rollback()
        _attach(form, exc)
        return _render_form(form, scope, None, exc.status if exc.status != 400 else 422)
    flash(_("Reward listed: %(t)s", t=reward.title), "success")
    return redirect(url_for("merchant.rewards", community_id=community_id, org=org))


def _owned(reward_id: int, action: str) -> tuple[Reward, svc.Scope]:
    try:
        reward = svc.reward_for_owner(db.session, _actor(), reward_id, action)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        deny(action, target_id=reward_id)
        raise  # pragma: no cover
    scope = svc.scope_for(db.session, _actor(), reward.community_id, reward.organisation_id or 0, action)
    return reward, scope


@bp.route("/rewards/<int:reward_id>/edit", methods=["GET", "POST"])
@login_required
def edit_reward(reward_id: int) -> Any:
    reward, scope = _owned(reward_id, "merchant.edit_reward")
    form = RewardForm(obj=reward) if request.method == "GET" else RewardForm()
    if request.method == "GET":
        form.category.data = reward.category.value
        return _render_form(form, scope, reward)
    if not form.validate_on_submit():
        return _render_form(form, scope, reward, 422)
    try:
        picture = save_picture(request.files.get("picture"))
        svc.update_reward(db.session, _actor(), reward_id, _data(form, picture))
    except ServiceError as exc:
        db.session.rollback()
        _attach(form, exc)
        return _render_form(
            form, scope, db.session.get(Reward, reward_id), exc.status if exc.status != 400 else 422
        )
    flash(_("Saved."), "success")
    return redirect(url_for("merchant.rewards", community_id=scope.community_id, org=scope.org_key))


@bp.post("/rewards/<int:reward_id>/active")
@login_required
def toggle_active(reward_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    reward, scope = _owned(reward_id, "merchant.toggle_active")
    active = request.form.get("active") == "1"
    svc.set_active(db.session, _actor(), reward.id, active)
    flash(_("Listed in the store again.") if active else _("Taken out of the store."), "success")
    return redirect(url_for("merchant.rewards", community_id=scope.community_id, org=scope.org_key))


# --- history and statements -----------------------------------------------------------------------


@bp.get("/<int:community_id>/<int:org>/history")
@login_required
def history(community_id: int, org: int) -> str:
    scope = _scope(community_id, org, "merchant.history")
    return render_template("merchant/history.html", scope=scope, rows=svc.history(db.session, scope))


@bp.get("/<int:community_id>/<int:org>/statements")
@login_required
def statements(community_id: int, org: int) -> str:
    scope = _scope(community_id, org, "merchant.statements")
    return render_template(
        "merchant/statements.html", scope=scope, statements=svc.monthly_totals(db.session, scope)
    )


def _statement(community_id: int, org: int, month: str, action: str) -> svc.Statement:
    try:
        return svc.statement_for(db.session, _actor(), org, community_id, month, action=action)
    except ServiceError as exc:
        if exc.status == 403:
            abort(403)
        abort(404)


@bp.get("/<int:community_id>/<int:org>/statements/<month>")
@login_required
def statement(community_id: int, org: int, month: str) -> str:
    st = _statement(community_id, org, month, "statement")
    views = [svc.merchant_view(db.session, v) for v in st.vouchers]
    names = svc.org_and_community_names(db.session, [st])
    return render_template(
        "merchant/statement.html",
        st=st,
        views=views,
        names=names,
        community_id=community_id,
        org=org,
        form=ActionForm(),
    )


@bp.post("/<int:community_id>/<int:org>/statements/<month>/export")
@login_required
def export(community_id: int, org: int, month: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    _statement(community_id, org, month, "export")
    data = svc.export_statement_xlsx(db.session, _actor(), org, community_id, month)
    resp = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="statement-{org}-{community_id}-{month}.xlsx"'
    )
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
