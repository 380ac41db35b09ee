"""Activity pages (phone-first). Thin views: parse the form, call one service, render or
redirect. Refusals: authorisation → audited 403 (``deny``); unknown id → 404; a rule →
flash + the page again with the 4xx status, so the request's transaction rolls back."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.db import utcnow
from portal.activities import services as svc
from portal.activities.forms import ActionForm, ActivityForm, CancelActivityForm, CheckForm, MarkForm
from portal.errors import NotFound, ServiceError
from portal.extensions import db
from portal.ids import id_arg
from portal.people.models import User
from portal.places.models import Community
from portal.refusals import audit_as, on_refusal
from portal.volunteering.activities import Activity, ActivityStatus, Attendance, SignupStatus
from portal.web import current_actor as _actor

bp = Blueprint("activities", __name__, url_prefix="/activities")


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))


def _to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime-local form value (wall clock in the community's zone) → aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=_tz()).astimezone(dt.UTC)


def _to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(_tz()).replace(tzinfo=None, second=0, microsecond=0)


def _first_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return _("Please check what you entered.")


def label(value: Any) -> str:
    key = getattr(value, "value", value)
    labels = {
        "confirmed": _("Confirmed"),
        "waitlisted": _("On the waitlist"),
        "cancelled": _("Cancelled"),
        "published": _("Open"),
        "finished": _("Finished"),
        "present": _("Present"),
        "no_show": _("No-show"),
    }
    return labels.get(str(key), str(key))


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"activity_label": label}


# --- members ---------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    actor = _actor()
    activities = svc.upcoming(db.session, actor)
    mine = svc.my_signups(db.session, actor.id, [a.id for a in activities])
    can_publish = bool(svc.member_community_ids(actor) and _publish_communities(actor))
    return render_template("activities/index.html", activities=activities, mine=mine, can_publish=can_publish)


@bp.get("/mine")
@login_required
def mine() -> str:
    actor = _actor()
    return render_template(
        "activities/mine.html",
        signups=svc.my_activities(db.session, actor.id),
        managed=svc.managed(db.session, actor),
        now=utcnow(),
    )


def _load_for_member(activity_id: int) -> Activity:
    audit_as("activity.view")
    return svc.activity_for_member(db.session, _actor(), activity_id)


def _render_detail(activity: Activity, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    row = svc.live_signup(db.session, activity.id, actor.id)
    now = utcnow()
    return render_template(
        "activities/detail.html",
        activity=activity,
        signup=row,
        rank=svc.waitlist_rank(db.session, row) if row else None,
        can_manage=svc.can_manage(db.session, actor, activity),
        can_run=svc.can_run(db.session, actor, activity),
        can_approve_points=activity.points_approved_at is None and svc.is_staff(actor, activity.community),
        signup_open=(
            activity.status == ActivityStatus.PUBLISHED
            and now < activity.signup_deadline
            and now < activity.starts_at
        ),
        started=activity.starts_at <= now,
        now=now,
        windows={phase: svc.phase_window(activity, phase) for phase in svc.PHASES},
        form=ActionForm(),
        check_form=CheckForm(),
        ActivityStatus=ActivityStatus,
        SignupStatus=SignupStatus,
    ), status


@bp.get("/<int:activity_id>")
@login_required
def detail(activity_id: int) -> tuple[str, int]:
    return _render_detail(_load_for_member(activity_id))


@bp.post("/<int:activity_id>/approve-points")
@login_required
def approve_points(activity_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    audit_as("activity.approve_points")
    svc.approve_points(db.session, _actor(), activity_id)
    flash(_("The points rule is approved; hours recorded from now on are paid."), "success")
    return redirect(url_for("activities.detail", activity_id=activity_id))


@bp.post("/<int:activity_id>/signup")
@login_required
def signup(activity_id: int) -> Response | tuple[str, int]:
    if not ActionForm().validate_on_submit():
        abort(400)
    audit_as("activity.signup")
    on_refusal(lambda: _render_detail(_load_for_member(activity_id)))
    row = svc.signup(db.session, _actor(), activity_id)
    if row.status == SignupStatus.CONFIRMED:
        flash(_("You are signed up."), "success")
    else:
        flash(_("The activity is full; you are on the waitlist."), "success")
    return redirect(url_for("activities.detail", activity_id=activity_id))


@bp.post("/<int:activity_id>/withdraw")
@login_required
def withdraw(activity_id: int) -> Response | tuple[str, int]:
    if not ActionForm().validate_on_submit():
        abort(400)
    audit_as("activity.withdraw")
    on_refusal(lambda: _render_detail(_load_for_member(activity_id)))
    svc.cancel_signup(db.session, _actor(), activity_id)
    flash(_("Your sign-up was cancelled."), "success")
    return redirect(url_for("activities.detail", activity_id=activity_id))


# --- check-in by the volunteer ---------------------------------------------------------------


def _render_check(activity: Activity, form: CheckForm, status: int = 200) -> tuple[str, int]:
    phase = form.phase.data if form.phase.data in svc.PHASES else "in"
    opens, closes = svc.phase_window(activity, phase)
    return render_template(
        "activities/check.html", activity=activity, form=form, opens=opens, closes=closes, now=utcnow()
    ), status


@bp.get("/<int:activity_id>/check")
@login_required
def check(activity_id: int) -> tuple[str, int]:
    """The page a scanned QR code opens: shows a confirm button, changes nothing."""
    activity = _load_for_member(activity_id)
    phase = request.args.get("phase", "in")
    if phase not in svc.PHASES:
        abort(404)
    form = CheckForm(formdata=None, phase=phase, code=request.args.get("code", "")[:6])
    return _render_check(activity, form)


@bp.post("/<int:activity_id>/check")
@login_required
def check_post(activity_id: int) -> Response | tuple[str, int]:
    form = CheckForm()
    if not form.validate_on_submit() or form.phase.data not in svc.PHASES:
        activity = _load_for_member(activity_id)
        flash(_first_error(form), "error")
        return _render_check(activity, form, 400)
    on_refusal(
        lambda: _render_check(_load_for_member(activity_id), form),
        form,
        hard=lambda e: isinstance(e, NotFound),
    )
    result = svc.check(db.session, _actor(), activity_id, form.phase.data, form.code.data)
    if form.phase.data == "in":
        flash(_("You are checked in. Remember to check out when you leave."), "success")
    elif result.hours_error:
        flash(
            _("You are checked out. Your hours were not recorded: %(reason)s", reason=result.hours_error),
            "warning",
        )
    else:
        flash(
            _("You are checked out. %(minutes)d minutes were sent for approval.", minutes=result.minutes),
            "success",
        )
    return redirect(url_for("activities.detail", activity_id=activity_id))


# --- staff and leaders ------------------------------------------------------------------------


def _publish_communities(actor: User) -> list[Community]:
    from portal.policy import staff_communities

    return staff_communities(db.session, actor)


def _leader_choices(community_id: int) -> list[tuple[int, str]]:
    from portal.people.masking import mask_phone

    users = db.session.scalars(
        select(User)
        .where(User.community_id == community_id, User.is_active.is_(True))
        .order_by(User.display_name)
        .limit(500)
    )
    return [(u.id, f"{u.display_name} {mask_phone(u.phone)}") for u in users]


def _team_choices(community_id: int) -> list[tuple[int, str]]:
    choices: list[tuple[int, str]] = [(0, _("No team"))]
    try:
        from portal.volunteering.teams import Team
    except ImportError:
        return choices
    teams = db.session.scalars(select(Team).where(Team.community_id == community_id).order_by(Team.name))
    return choices + [(t.id, t.name) for t in teams if getattr(t, "is_active", True)]


def _prepare(form: ActivityForm, community_id: int) -> ActivityForm:
    form.leader_id.choices = _leader_choices(community_id)
    form.team_id.choices = _team_choices(community_id)
    return form


def _data(form: ActivityForm) -> svc.ActivityData:
    rule, value = form.points_rule.data, form.points_value.data
    if rule in ("per_hour", "flat") and value is None:
        raise ServiceError(_("Enter the number of points."), code="no_points", field="points_value")
    return svc.ActivityData(
        title=form.title.data or "",
        place=form.place.data or "",
        description=form.description.data or "",
        starts_at=_to_utc(form.starts_at.data),
        ends_at=_to_utc(form.ends_at.data),  # type: ignore[arg-type]
        signup_deadline=_to_utc(form.signup_deadline.data),
        capacity=form.capacity.data,  # type: ignore[arg-type]
        leader_id=form.leader_id.data,
        team_id=form.team_id.data or None,
        points_per_hour=value if rule == "per_hour" else (0 if rule == "none" else None),
        points_flat=value if rule == "flat" else None,
    )


def _render_form(
    form: ActivityForm, community: Community, activity: Activity | None, status: int = 200
) -> tuple[str, int]:
    return render_template("activities/form.html", form=form, community=community, activity=activity), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    actor = _actor()
    community_id = request.args.get("community_id", type=id_arg)
    communities = _publish_communities(actor)
    if community_id is None:
        if len(communities) == 1:
            community_id = communities[0].id
        elif actor.community_id is not None:
            community_id = actor.community_id
        else:
            abort(404)
    community = db.session.get(Community, community_id)
    if community is None:
        abort(404)
    form = _prepare(ActivityForm(), community.id)
    if request.method == "GET":
        form.leader_id.data = actor.id
        return _render_form(form, community, None)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_form(form, community, None, 400)
    audit_as("activity.new", community.id)
    on_refusal(lambda: _render_form(form, community, None), form)
    activity = svc.create_activity(db.session, actor, community.id, _data(form))
    flash(_("The activity was published."), "success")
    return redirect(url_for("activities.detail", activity_id=activity.id))


def _load_for_manager(activity_id: int, action: str) -> Activity:
    audit_as(action)
    return svc.activity_for_manager(db.session, _actor(), activity_id)


def _load_for_leader(activity_id: int, action: str) -> Activity:
    audit_as(action)
    return svc.activity_for_leader(db.session, _actor(), activity_id)


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int) -> Response | tuple[str, int]:
    activity = _load_for_manager(activity_id, "activity.edit")
    form = _prepare(ActivityForm(), activity.community_id)
    if request.method == "GET":
        form = _prepare(ActivityForm(formdata=None, obj=activity), activity.community_id)
        for name in ("starts_at", "ends_at", "signup_deadline"):
            getattr(form, name).data = _to_local(getattr(activity, name))
        form.team_id.data = activity.team_id or 0
        if activity.points_flat is not None:
            form.points_rule.data, form.points_value.data = "flat", activity.points_flat
        elif activity.points_per_hour == 0:
            form.points_rule.data = "none"
        elif activity.points_per_hour is not None:
            form.points_rule.data, form.points_value.data = "per_hour", activity.points_per_hour
        return _render_form(form, activity.community, activity)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_form(form, activity.community, activity, 400)
    audit_as("activity.edit", activity.community_id)
    on_refusal(lambda: _render_form(form, activity.community, activity), form)
    svc.update_activity(db.session, _actor(), activity_id, _data(form))
    flash(_("Saved."), "success")
    return redirect(url_for("activities.detail", activity_id=activity_id))


@bp.post("/<int:activity_id>/cancel")
@login_required
def cancel(activity_id: int) -> Response | tuple[str, int]:
    form = CancelActivityForm()
    if not form.validate_on_submit():
        abort(400)
    audit_as("activity.cancel")
    on_refusal(lambda: _render_participants(_load_for_leader(activity_id, "activity.cancel")))
    svc.cancel_activity(db.session, _actor(), activity_id, form.reason.data or "")
    flash(_("The activity was cancelled; everyone signed up was told."), "success")
    return redirect(url_for("activities.detail", activity_id=activity_id))


def _render_participants(activity: Activity, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    return render_template(
        "activities/participants.html",
        activity=activity,
        rows=svc.participants(db.session, activity),
        can_manage=svc.can_manage(db.session, actor, activity),
        mark_form=MarkForm(),
        form=ActionForm(),
        cancel_form=CancelActivityForm(),
        SignupStatus=SignupStatus,
        Attendance=Attendance,
        ActivityStatus=ActivityStatus,
        started=activity.starts_at <= utcnow(),
    ), status


@bp.get("/<int:activity_id>/participants")
@login_required
def participants(activity_id: int) -> tuple[str, int]:
    return _render_participants(_load_for_leader(activity_id, "activity.participants"))


@bp.post("/<int:activity_id>/participants/<int:signup_id>/mark")
@login_required
def mark(activity_id: int, signup_id: int) -> Response | tuple[str, int]:
    form = MarkForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_participants(_load_for_leader(activity_id, "activity.mark"), 400)
    audit_as("activity.mark")
    on_refusal(lambda: _render_participants(_load_for_leader(activity_id, "activity.mark")))
    if form.outcome.data == "no_show":
        svc.mark_no_show(db.session, _actor(), activity_id, signup_id)
        flash(_("Marked as no-show."), "success")
    else:
        if form.started_at.data is None or form.ended_at.data is None:
            raise ServiceError(_("Enter when the person arrived and left."), code="no_times")
        minutes = svc.mark_present(
            db.session,
            _actor(),
            activity_id,
            signup_id,
            _to_utc(form.started_at.data),
            _to_utc(form.ended_at.data),
        )  # type: ignore[arg-type]
        flash(_("Marked present; %(minutes)d minutes were sent for approval.", minutes=minutes), "success")
    return redirect(url_for("activities.participants", activity_id=activity_id))


@bp.post("/<int:activity_id>/finish")
@login_required
def finish(activity_id: int) -> Response | tuple[str, int]:
    if not ActionForm().validate_on_submit():
        abort(400)
    audit_as("activity.finish")
    on_refusal(lambda: _render_participants(_load_for_leader(activity_id, "activity.finish")))
    count = svc.finish_activity(db.session, _actor(), activity_id)
    flash(_("The activity is finished; %(n)d no-show(s) recorded.", n=count), "success")
    return redirect(url_for("activities.participants", activity_id=activity_id))


def _qr_data_uri(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(img.to_string()).decode("ascii")


@bp.get("/<int:activity_id>/screen")
@login_required
def screen(activity_id: int) -> tuple[str, int]:
    """The leader's check-in screen: big code + QR, refreshed every minute."""
    activity = _load_for_leader(activity_id, "activity.screen")
    phase = request.args.get("phase", "in")
    if phase not in svc.PHASES:
        abort(404)
    now = utcnow()
    code = svc.current_code(activity, phase, now)
    url = url_for("activities.check", activity_id=activity.id, code=code, phase=phase, _external=True)
    opens, closes = svc.phase_window(activity, phase)
    return render_template(
        "activities/screen.html",
        activity=activity,
        phase=phase,
        code=code,
        qr=_qr_data_uri(url),
        refresh=svc.seconds_left(now) + 1,
        is_open=activity.status == ActivityStatus.PUBLISHED and opens <= now <= closes,
        opens=opens,
        closes=closes,
    ), 200
