"""My security: second factor (enrol, challenge, recovery codes), devices (sessions),
privacy consent. Routes on the ``accounts`` blueprint."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.accounts import mfa, sessions
from portal.accounts.security import current_session_row, mark_second_factor
from portal.accounts.views import bp
from portal.errors import ServiceError
from portal.extensions import db
from portal.people import consent
from portal.people.models import User
from portal.urls import safe_next

PENDING = "mfa_pending"


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=32)],
    )


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _attach(form: CodeForm, exc: ServiceError) -> None:
    form.code.errors = [*form.code.errors, str(exc.message)]


@bp.get("/security")
@login_required
def security() -> str:
    user = _user()
    return render_template(
        "accounts/security.html",
        user=user,
        enrolled=mfa.is_enrolled(user),
        required=mfa.required_for(user) or mfa.is_privileged(user),
        codes_left=mfa.recovery_codes_left(db.session, user) if mfa.is_enrolled(user) else 0,
        devices=sessions.live_sessions(db.session, user.id),
        this_device=current_session_row(),
        consents=consent.history(db.session, user.id),
        sensitive=consent.live(db.session, user.id, consent.SENSITIVE),
        form=CodeForm(),
        form_off=CodeForm(prefix="off"),
    )


@bp.route("/mfa", methods=["GET", "POST"])
@login_required
def mfa_challenge() -> Response | tuple[str, int]:
    user = _user()
    if not mfa.is_enrolled(user):
        return redirect(url_for("accounts.mfa_setup", next=request.args.get("next")))
    row = current_session_row()
    if row is not None and row.mfa_at is not None:
        return redirect(safe_next(request.args.get("next")))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            mfa.verify_second_factor(db.session, user, form.code.data)
        except ServiceError as exc:
            _attach(form, exc)
            return render_template("accounts/mfa_challenge.html", form=form), exc.status
        mark_second_factor()
        return redirect(safe_next(request.args.get("next")))
    return render_template("accounts/mfa_challenge.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/mfa/setup", methods=["GET", "POST"])
@login_required
def mfa_setup() -> Response | tuple[str, int]:
    user = _user()
    if mfa.is_enrolled(user):
        return redirect(url_for("accounts.security"))
    secret = session.get(PENDING)
    if not isinstance(secret, str) or len(secret) != 32:
        # The pending secret lives in this browser's signed session until confirmed.
        secret = session[PENDING] = mfa.new_secret()
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.enrol(db.session, user, secret, form.code.data)
        except ServiceError as exc:
            _attach(form, exc)
            status = exc.status
        else:
            session.pop(PENDING, None)
            mark_second_factor()
            return render_template(
                "accounts/mfa_codes.html", codes=codes, next=safe_next(request.args.get("next"))
            )
    elif form.is_submitted():
        status = 422
    uri = mfa.provisioning_uri(user, secret)
    return render_template(
        "accounts/mfa_setup.html",
        form=form,
        qr=mfa.qr_svg(uri),
        secret=secret,
        required=mfa.required_for(user),
    ), status


@bp.post("/mfa/recovery-codes")
@login_required
def mfa_recovery_codes() -> Response | tuple[str, int]:
    form = CodeForm()
    if not form.validate_on_submit():
        flash(_("Enter a code from your authenticator app."), "error")
        return redirect(url_for("accounts.security"))
    try:
        codes = mfa.regenerate_recovery_codes(db.session, _user(), form.code.data)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        db.mark_rollback()
        return redirect(url_for("accounts.security"))
    return render_template("accounts/mfa_codes.html", codes=codes, next=url_for("accounts.security"))


@bp.post("/mfa/disable")
@login_required
def mfa_disable() -> Response:
    form = CodeForm(prefix="off")
    if not form.validate_on_submit():
        flash(_("Enter a code from your authenticator app."), "error")
        return redirect(url_for("accounts.security"))
    try:
        mfa.disable(db.session, _user(), form.code.data)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        db.mark_rollback()
        return redirect(url_for("accounts.security"))
    flash(_("Two-step verification is off."), "success")
    return redirect(url_for("accounts.security"))


# --- consent (PIPL) ----------------------------------------------------------------------


@bp.post("/consent/sensitive")
@login_required
def consent_give() -> Response:
    consent.grant(db.session, _user(), consent.SENSITIVE)
    flash(_("Thank you. Your consent has been recorded."), "success")
    return redirect(
        safe_next(request.form.get("next")) if request.form.get("next") else url_for("accounts.security")
    )


@bp.post("/consent/sensitive/withdraw")
@login_required
def consent_withdraw() -> Response:
    consent.withdraw(db.session, _user(), consent.SENSITIVE)
    flash(
        _("Your consent has been withdrawn. We no longer use your sensitive personal information."), "success"
    )
    return redirect(url_for("accounts.security"))


@bp.get("/consent/download.<fmt>")
@login_required
def consent_download(fmt: str) -> Response:
    user = _user()
    if fmt == "json":
        body, mimetype = consent.export_json(db.session, user), "application/json"
    elif fmt == "xlsx":
        body = consent.export_xlsx(db.session, user)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        return Response(status=404)
    consent.record_download(db.session, user, fmt)
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="fufen-consent-{user.id}.{fmt}"'},
    )
