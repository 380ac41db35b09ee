"""Hours pages: my hours, report hours (with an optional photo), the staff approval queue
(filter, approve selected / all matching, reject with a reason, reverse).

Thin views: parse, call one service, render or redirect. A refused request answers 4xx
so the request's transaction rolls back; the services audit refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    Response as FlaskResponse,
)
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from core.clock import LOCAL_TZ, local_year
from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db
from portal.forms import ActionForm
from portal.hours.forms import ReasonForm, ReportForm
from portal.hours.uploads import MIMETYPES, photo_file, save_photo
from portal.ids import parse_id, require_id
from portal.people.models import User
from portal.places.models import Community
from portal.policy import staff_communities
from portal.refusals import on_refusal
from portal.settings.services import get_settings
from portal.volunteering import hour_logs as svc
from portal.volunteering.hours import HourSource, HourStatus
from portal.web import current_actor as _actor

bp = Blueprint("hours", __name__, url_prefix="/hours")
PAGE_SIZE = 500


def source_label(source: HourSource | str) -> str:
    value = source.value if isinstance(source, HourSource) else source
    return {"activity": _("Activity"), "post": _("Service post"), "wish": _("Wish"), "other": _("Other")}.get(
        value, value
    )


def status_label(status: HourStatus) -> str:
    return {
        "pending": _("Waiting for approval"),
        "approved": _("Approved"),
        "rejected": _("Not approved"),
        "reversed": _("Corrected"),
    }[status.value]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"hour_source_label": source_label, "hour_status_label": status_label}


# --- volunteer --------------------------------------------------------------------------


@bp.get("/")
@login_required
def mine() -> str:
    actor = _actor()
    year = local_year()
    return render_template(
        "hours/mine.html",
        logs=svc.my_logs(db.session, actor.id),
        year_minutes=svc.approved_minutes(db.session, actor.id, year),
    )


def _hard(exc: ServiceError) -> bool:
    """The queue shows most refusals on the queue page; unknown ids and non-staff get the
    error page."""
    return isinstance(exc, NotFound) or (isinstance(exc, Forbidden) and exc.code == "not_staff")


def _source_choices(actor: User) -> list[tuple[str, str]]:
    labels = {"post": _("Post: %(t)s"), "wish": _("Wish: %(t)s")}
    return [
        (value, labels[kind] % {"t": title})
        for value, kind, title in svc.source_choices(db.session, actor.id)
    ]


@bp.route("/report", methods=["GET", "POST"])
@login_required
def report() -> Any:
    actor = _actor()
    form = ReportForm()
    form.source.choices = [("", _("Choose…"))] + _source_choices(actor)
    if request.method == "GET" and request.args.get("source"):
        form.source.data = request.args["source"]
    if request.method == "GET":
        return render_template("hours/report.html", form=form)
    # Forged choices are answered like any bad input (the service re-checks ownership).
    form.source.choices.append((request.form.get("source", ""), ""))
    if not form.validate():
        return render_template("hours/report.html", form=form), 400
    kind, _sep, raw_id = (form.source.data or "").partition(":")
    source_id = parse_id(raw_id)
    if source_id is None:
        form.source.errors.append(_("Choose a service post or a wish."))
        return render_template("hours/report.html", form=form), 400
    started = dt.datetime.combine(form.day.data, form.start.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    ended = dt.datetime.combine(form.day.data, form.end.data, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    on_refusal(lambda: render_template("hours/report.html", form=form), form)
    photo = save_photo(request.files.get("photo"))
    log = svc.report_hours(
        db.session,
        actor,
        source=kind,
        source_id=source_id,
        started_at=started,
        ended_at=ended,
        description=form.description.data or "",
        photo_path=photo,
    )
    flash(_("Reported %(n)d minutes. Staff will review them.", n=log.minutes), "success")
    return redirect(url_for("hours.mine"))


@bp.get("/<int:log_id>/photo")
@login_required
def photo(log_id: int) -> Any:
    log = svc.log_with_photo(db.session, _actor(), log_id)
    path = photo_file(log.photo_path)
    if path is None:
        abort(404)
    ext = path.suffix
    resp = FlaskResponse(path.read_bytes(), mimetype=MIMETYPES.get(ext, "application/octet-stream"))
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# --- staff ------------------------------------------------------------------------------


def _date_arg(name: str, args: Any) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400)


def _int_arg(name: str, args: Any) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    return require_id(raw)


def _filter_from(args: Any, community_id: int) -> svc.QueueFilter:
    source = (args.get("source") or "").strip() or None
    if source is not None and source not in {s.value for s in HourSource}:
        abort(400)
    status = (args.get("status") or HourStatus.PENDING.value).strip()
    if status not in {s.value for s in HourStatus}:
        abort(400)
    return svc.QueueFilter(
        community_id=community_id,
        source=source,
        post_id=_int_arg("post_id", args),
        activity_id=_int_arg("activity_id", args),
        team_id=_int_arg("team_id", args),
        date_from=_date_arg("date_from", args),
        date_to=_date_arg("date_to", args),
        status=status,
    )


def _filter_args(flt: svc.QueueFilter) -> dict[str, str]:
    out = {"community_id": str(flt.community_id), "status": flt.status}
    for name in ("source", "post_id", "activity_id", "team_id", "date_from", "date_to"):
        value = getattr(flt, name)
        if value:
            out[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return out


def _queue_community(args: Any) -> Community:
    return svc.queue_community(db.session, _actor(), _int_arg("community_id", args))


def _render_queue(args: Any, status: int = 200) -> Any:
    actor = _actor()
    community = _queue_community(args)
    flt = _filter_from(args, community.id)
    page = svc.queue_page(db.session, actor, flt, PAGE_SIZE)
    q = svc.queue_query(db.session, actor, flt)
    pending = flt.status == HourStatus.PENDING.value
    settings = get_settings(db.session, community.id)
    rates = {community.id: settings.points_per_hour}
    return render_template(
        "hours/queue.html",
        community=community,
        communities=staff_communities(db.session, actor),
        flt=flt,
        filter_args=_filter_args(flt),
        logs=page.logs,
        total=page.total,
        people=page.people,
        preview=svc.preview_points(db.session, page.logs, rates) if pending else {},
        matching_points=svc.matching_points(db.session, q, rates) if pending else 0,
        budget=svc.monthly_budget(db.session, community.id, limit=settings.monthly_issue_budget),
        options=svc.queue_filter_options(db.session, flt),
        action_form=ActionForm(),
        reason_form=ReasonForm(),
        sources=list(HourSource),
        statuses=list(HourStatus),
    ), status


@bp.get("/review")
@login_required
def queue() -> Any:
    return _render_queue(request.args)


_SCOPED_FILTERS = ("post_id", "activity_id", "team_id")


def _check_filter(args: Any) -> None:
    """Before any change: refuse a post / activity / team filter of another community
    (400 with a message, nothing changed), even when the action uses selected ids only."""
    if any((args.get(name) or "").strip() for name in _SCOPED_FILTERS):
        community = _queue_community(args)
        svc.validate_filter(db.session, _actor(), _filter_from(args, community.id))


def _selected_ids() -> list[int]:
    raw = request.form.getlist("log_id")
    return [require_id(r) for r in raw]


def _ids_for_action(args: Any) -> list[int]:
    if request.form.get("all_matching") == "1":
        community = _queue_community(args)
        flt = _filter_from(args, community.id)
        return svc.matching_ids(db.session, _actor(), flt)
    return _selected_ids()


def _back(args: Any) -> Response:
    return redirect(
        url_for("hours.queue")
        + "?"
        + urlencode(
            {
                k: v
                for k, v in args.items()
                if k
                in {
                    "community_id",
                    "status",
                    "source",
                    "post_id",
                    "activity_id",
                    "team_id",
                    "date_from",
                    "date_to",
                }
            }
        )
    )


@bp.post("/review/approve")
@login_required
def approve() -> Any:
    form = ActionForm()
    if not form.validate():
        abort(400)
    args = request.form
    _check_filter(args)
    ids = _ids_for_action(args)
    if not ids and args.get("all_matching") == "1":
        flash(_("Nothing left to approve."), "info")
        return _back(args)
    if args.get("all_matching") == "1" and args.get("expected_points") is not None:
        # The confirmation showed a total; approve only that (no silent growth meanwhile).
        now_total = svc.points_of(db.session, ids)
        if args.get("expected_points") != str(now_total):
            flash(
                _(
                    "The entries changed since you looked: approving all would now pay %(p)d 福分. "
                    "Please check and confirm again.",
                    p=now_total,
                ),
                "error",
            )
            return _render_queue(args, 409)
    on_refusal(lambda: _render_queue(args), hard=_hard)
    result = svc.approve(db.session, _actor(), ids)
    if result.approved:
        flash(_("Approved %(n)d entries (%(p)d 福分).", n=len(result.approved), p=result.points), "success")
    already = [log for log in result.skipped if log.status == HourStatus.APPROVED]
    if not result.approved and result.skipped and len(already) == len(result.skipped):
        # A second click (or a colleague) got there first: the outcome is what was wanted.
        flash(_("Already approved: %(n)d entries. Nothing else to do.", n=len(already)), "success")
    elif result.skipped:
        flash(
            _("%(n)d entries were already reviewed and were left unchanged.", n=len(result.skipped)), "info"
        )
    return _back(args)


@bp.post("/review/reject")
@login_required
def reject() -> Any:
    form = ReasonForm()
    args = request.form
    if not form.validate():
        abort(400)
    _check_filter(args)
    on_refusal(lambda: _render_queue(args), hard=_hard)
    result = svc.reject(db.session, _actor(), _ids_for_action(args), form.reason.data or "")
    flash(_("Rejected %(n)d entries.", n=len(result.approved)), "success")
    return _back(args)


@bp.post("/<int:log_id>/reverse")
@login_required
def reverse(log_id: int) -> Any:
    form = ReasonForm()
    if not form.validate():
        abort(400)
    _check_filter(request.form)
    on_refusal(lambda: _render_queue(request.form), hard=_hard)
    svc.reverse(db.session, _actor(), log_id, form.reason.data or "")
    flash(_("The approval was corrected and the points taken back."), "success")
    return _back(request.form)
