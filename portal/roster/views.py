"""社区一张表 pages. Thin views: parse, call one service, render, redirect or stream.
Every route checks staff of *this* community (GETs too); refusals are audited (403),
other communities' people are 404; exports are POSTs (CSRF) and audited before they stream."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db
from portal.people.models import User
from portal.places.models import Building, Grid
from portal.refusals import deny
from portal.roster import services as svc

bp = Blueprint("roster", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PostForm(FlaskForm):
    """CSRF only; the fields are read from the request by the services' strict parsers."""


def _actor() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _refuse(exc: ServiceError, action: str, community_id: int | None = None) -> NoReturn:
    if isinstance(exc, Forbidden):
        deny(action, community_id=community_id, code=exc.code)
    if isinstance(exc, NotFound):
        abort(404)
    raise exc


def _community(community_id: int, action: str) -> Any:
    try:
        return svc.community_for_table(db.session, _actor(), community_id, action)
    except ServiceError as exc:
        _refuse(exc, f"roster.{action}", community_id)


def _filter(community: Any, args: Any) -> svc.TableFilter | None:
    try:
        return svc.parse_filter(db.session, community, args)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return None


@bp.get("/community/<int:community_id>/table")
@login_required
def table(community_id: int) -> tuple[str, int]:
    community = _community(community_id, "view")
    flt = _filter(community, request.args)
    status = 200
    if flt is None:
        flt, status = svc.TableFilter(), 400
    after = request.args.get("after", 0, type=int) or 0
    page = svc.table_page(db.session, _actor(), community.id, flt, after=max(0, min(after, 2**62)))
    grids = db.session.query(Grid).filter(Grid.community_id == community.id).order_by(Grid.id).all()
    buildings = (
        db.session.query(Building).filter(Building.community_id == community.id).order_by(Building.id).all()
    )
    return render_template(
        "roster/table.html",
        community=community,
        page=page,
        flt=flt,
        tags=svc.community_tags(db.session, community.id),
        grids=grids,
        buildings=buildings,
        flags=svc.FLAGS,
        flag_labels=svc.FLAG_LABELS,
        form=PostForm(formdata=None),
    ), status


@bp.post("/community/<int:community_id>/table/tags")
@login_required
def bulk_tag(community_id: int) -> Response:
    community = _community(community_id, "tag.set")
    if not PostForm().validate_on_submit():
        abort(400)
    back = url_for("roster.table", community_id=community.id)
    try:
        if request.form.get("new_tag"):
            tag_id = svc.create_tag(db.session, _actor(), community.id, request.form["new_tag"]).id
        else:
            raw = request.form.get("tag_id", "")
            if not raw.isdigit() or len(raw) > 12:
                raise ServiceError(_("Choose a tag."), code="bad_tag", field="tag_id")
            tag_id = int(raw)
        ids = [int(i) for i in request.form.getlist("user_id") if i.isdigit() and len(i) <= 12]
        n = svc.set_tag(
            db.session, _actor(), community.id, tag_id, ids, on=request.form.get("action") != "remove"
        )
    except (Forbidden, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.field:
            flash(str(exc.message), "error")
            db.session.rollback()
            return redirect(back)
        _refuse(exc, "roster.tag.set", community.id)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(back)
    flash(_("Tag changed for %(n)d people.", n=n), "success")
    return redirect(
        request.form.get("back_to_person")
        and url_for("roster.person", community_id=community.id, user_id=ids[0])
        or back
    )


@bp.route("/community/<int:community_id>/table/<int:user_id>", methods=["GET", "POST"])
@login_required
def person(community_id: int, user_id: int) -> Any:
    community = _community(community_id, "person.view")
    if request.method == "POST":
        if not PostForm().validate_on_submit():
            abort(400)
        import datetime as dt

        raw_birth = request.form.get("birth_date", "").strip()
        try:
            birth = dt.date.fromisoformat(raw_birth) if raw_birth else None
            svc.update_info(
                db.session,
                _actor(),
                community.id,
                user_id,
                birth_date=birth,
                id_number=request.form.get("id_number", ""),
                lives_alone=bool(request.form.get("lives_alone")),
                disability=bool(request.form.get("disability")),
            )
        except ValueError:
            db.session.rollback()
            flash(_("Enter a real birth date."), "error")
        except (Forbidden, NotFound) as exc:
            _refuse(exc, "roster.person.update", community.id)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            flash(_("Saved."), "success")
        return redirect(url_for("roster.person", community_id=community.id, user_id=user_id))
    try:
        row, tags = svc.person_for_staff(db.session, _actor(), community.id, user_id)
    except ServiceError as exc:
        _refuse(exc, "roster.person.view", community.id)
    return render_template(
        "roster/person.html",
        community=community,
        row=row,
        tags=tags,
        flag_labels=svc.FLAG_LABELS,
        form=PostForm(formdata=None),
    )


@bp.post("/community/<int:community_id>/table/export")
@login_required
def export(community_id: int) -> Response:
    community = _community(community_id, "export")
    if not PostForm().validate_on_submit():
        abort(400)
    args = MultiDict(
        [(k, v) for k, v in request.form.items(multi=True) if k in ("flag", "tag", "building", "grid", "q")]
    )
    fmt = request.form.get("format", "csv")
    try:
        flt = svc.parse_filter(db.session, community, args)
        svc.start_export(db.session, _actor(), community.id, flt, fmt)
    except (Forbidden, NotFound) as exc:
        _refuse(exc, "roster.export", community.id)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("roster.table", community_id=community.id))
    # The audit record commits at the request boundary (after_request), which runs before
    # the body streams; the rows are then read in keyset batches in a fresh transaction.
    stamp = svc.utcnow().astimezone(svc.LOCAL_TZ).strftime("%Y%m%d-%H%M")
    name = f"community-{community.id}-{stamp}.{fmt}"
    if fmt == "xlsx":
        return send_file(
            svc.export_xlsx(db.session, community, flt), mimetype=XLSX, as_attachment=True, download_name=name
        )
    return Response(
        stream_with_context(svc.export_csv(db.session, community, flt)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@bp.get("/community/<int:community_id>/table/import/template.xlsx")
@login_required
def import_template(community_id: int) -> Response:
    _community(community_id, "import")
    return Response(
        svc.import_template(),
        mimetype=XLSX,
        headers={"Content-Disposition": 'attachment; filename="fufen-residents-template.xlsx"'},
    )


@bp.route("/community/<int:community_id>/table/import", methods=["GET", "POST"])
@login_required
def import_residents(community_id: int) -> Any:
    community = _community(community_id, "import")
    result = None
    status = 200
    if request.method == "POST":
        if not PostForm().validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        data = b""
        if upload is not None:
            data = upload.stream.read(svc.IMPORT_MAX_BYTES + 1)
            upload.close()  # a large upload is spooled to a temporary file: release it now
        try:
            result = svc.import_residents(db.session, _actor(), community.id, data)
        except (Forbidden, NotFound) as exc:
            _refuse(exc, "roster.import", community.id)
        except ServiceError as exc:
            flash(str(exc.message), "error")
            status = 400
        else:
            if result.problems:
                status = 422  # the request rolls back: nothing half-imported
            else:
                flash(_("Imported: %(c)d new, %(u)d updated.", c=result.created, u=result.updated), "success")
                return redirect(url_for("roster.table", community_id=community.id))
    return render_template(
        "roster/import.html", community=community, result=result, form=PostForm(formdata=None)
    ), status
