"""Sign-up, log-in, log-out, my account (我的), change password.

Thin views: form → service → redirect (PRG), or the form again with 4xx so the
request's transaction rolls back.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal.accounts import services, sessions, throttle
from portal.accounts.forms import ChangePasswordForm, LoginForm, SignupForm
from portal.accounts.security import current_session_row, end_session, start_session
from portal.errors import ServiceError
from portal.extensions import db, limiter
from portal.people import consent
from portal.people.masking import mask_phone
from portal.urls import safe_next

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

# Account forms are a few short fields: refuse big bodies early (413), well under the
# app-wide MAX_CONTENT_LENGTH that uploads need.
FORM_MAX_BYTES = 16 * 1024


def small_bodies() -> None:
    """Registered by ``init_app`` as the app's *first* before-request hook: CSRFProtect
    reads the form in its own hook, which runs before any blueprint hook would."""
    if request.blueprint == bp.name:
        request.max_content_length = FORM_MAX_BYTES


def _attach(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service refusal next to its field (or above the form)."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc.message)]
    else:
        form.form_errors.append(str(exc.message))


def _invalid_status(form: FlaskForm) -> int:
    return 422 if form.is_submitted() else 200


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: str(current_app.config["SIGNUP_LIMIT_PER_IP"]), methods=["POST"])
def signup() -> Response | tuple[str, int]:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("accounts.me"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.register(
                db.session,
                phone=form.phone.data,
                password=form.password.data,
                display_name=form.display_name.data,
                real_name=form.real_name.data,
                community_id=form.community.data,
            )
        except ServiceError as exc:
            _attach(form, exc)
            return _render_signup(form), exc.status
        if form.sensitive_consent.data is True:
            consent.grant(db.session, user, consent.SENSITIVE)
        start_session(user)
        flash(_("Welcome, %(name)s! Your account is ready.", name=user.display_name), "success")
        return redirect(url_for("accounts.me"))
    return _render_signup(form), _invalid_status(form)


def _render_signup(form: SignupForm) -> str:
    return render_template("accounts/signup.html", form=form, groups=services.open_communities(db.session))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        device = throttle.read_device(request)
        try:
            result = services.authenticate(
                db.session,
                phone=form.phone.data,
                password=form.password.data,
                ip=request.remote_addr or "",
                device=device,
            )
        except ServiceError as exc:
            form.form_errors.append(str(exc.message))
            return render_template("accounts/login.html", form=form), exc.status
        start_session(result.user)
        response = redirect(safe_next(request.args.get("next")))
        throttle.remember_device(response, device, result.user.id)
        return response
    return render_template("accounts/login.html", form=form), _invalid_status(form)


@bp.post("/logout")
def logout() -> Response:
    # POST only (no log-out by a cross-site <img>); CSRFProtect checks the token.
    if current_user.is_authenticated:
        services.logged_out(db.session, current_user._get_current_object())
    end_session()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.get("/me")
@login_required
def me() -> str:
    user = current_user._get_current_object()
    return render_template(
        "accounts/me.html",
        user=user,
        masked_phone=mask_phone(user.phone),
        roles=services.roles_held(db.session, user),
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | tuple[str, int]:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(
                db.session,
                user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except ServiceError as exc:
            _attach(form, exc)
            return render_template("accounts/change_password.html", form=form), exc.status
        # Every other session is over (rows ended, session_version up); this one
        # starts afresh.
        start_session(user)
        sessions.end_all(db.session, user.id, sessions.PASSWORD, keep=current_session_row())
        flash(_("Your password has been changed. You have been logged out everywhere else."), "success")
        return redirect(url_for("accounts.me"))
    return render_template("accounts/change_password.html", form=form), _invalid_status(form)


@bp.post("/sessions/others/end")
@login_required
def end_other_sessions() -> Response:
    """ "Log out my other devices": every other live session ends now."""
    user = current_user._get_current_object()
    count = sessions.end_all(db.session, user.id, sessions.OTHER_DEVICES, keep=current_session_row())
    services.ended_other_sessions(db.session, user, count)
    flash(_("You have been logged out on your other devices."), "success")
    return redirect(url_for("accounts.me"))
