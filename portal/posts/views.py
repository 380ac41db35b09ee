"""Pages of 服务岗位 (phone-first).

Volunteers: ``/posts/`` (open posts of my community, my claims marked), ``/posts/<id>``
(detail, claim, withdraw). Staff: ``/community/<id>/posts`` (manage), ``/posts/new``,
``/posts/<id>/edit``, close/reopen, ``/community/<id>/posts/claims`` (approve, reject,
release).

Thin views: parse the form, call one service, render or redirect. A refusal from a
service (already audited there) is answered with its 4xx status: 404 for unknown ids,
the error page for 403, otherwise the page again with the message, so the request's
transaction rolls back.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.people.masking import mask_phone
from portal.places.models import Community
from portal.policy import is_staff
from portal.posts import services as svc
from portal.posts.forms import ActionForm, NoteForm, PostForm
from portal.refusals import on_refusal
from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost
from portal.volunteering.rules import can_volunteer
from portal.web import current_actor as _actor
from portal.web import first_error as _first_error
from portal.web import home_community_id as _home_community_id

bp = Blueprint("posts", __name__)


def my_post_claims() -> list[PostClaim]:
    """Jinja global: the signed-in user's live claims."""
    if not current_user.is_authenticated:
        return []
    return svc.my_claims(db.session, current_user.id)


# --- volunteers --------------------------------------------------------------------------


@bp.get("/posts/")
@login_required
def index() -> str:
    actor = _actor()
    community_id = _home_community_id(actor)
    community: Community | None = None
    rows: list[svc.PostRow] = []
    if community_id is not None:
        rows = svc.open_posts(db.session, actor, community_id)
        community = db.session.get(Community, community_id)
    rules = svc.post_rules(db.session, community.id) if community else None
    return render_template(
        "posts/index.html",
        community=community,
        rows=rows,
        rules=rules,
        held=svc.live_claim_count(db.session, actor.id, community.id) if community else 0,
        can_manage=community is not None and is_staff(actor, community),
        points_label=svc.points_label,
        status_label=svc.claim_status_label,
    )


def _render_detail(post_id: int, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    row = svc.post_for_member(db.session, actor, post_id)
    post = row.post
    rules = svc.post_rules(db.session, post.community_id)
    return render_template(
        "posts/detail.html",
        row=row,
        post=post,
        rules=rules,
        held=svc.live_claim_count(db.session, actor.id, post.community_id),
        can_claim=can_volunteer(actor, post.community_id),
        can_manage=is_staff(actor, post.community),
        history=svc.claim_history(db.session, actor.id, post.community_id, limit=5),
        action_form=ActionForm(formdata=None),
        points_label=svc.points_label,
        status_label=svc.claim_status_label,
        ClaimStatus=ClaimStatus,
    ), status


@bp.get("/posts/<int:post_id>")
@login_required
def detail(post_id: int) -> tuple[str, int]:
    return _render_detail(post_id)


@bp.post("/posts/<int:post_id>/claim")
@login_required
def claim(post_id: int) -> Response | tuple[str, int]:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    on_refusal(lambda: _render_detail(post_id))
    claim = svc.claim_post(db.session, _actor(), post_id)
    if claim.status == ClaimStatus.PENDING:
        flash(_("Your claim was sent. The community staff will approve it."), "success")
    else:
        flash(_("You have claimed this post. Thank you!"), "success")
    return redirect(url_for("posts.detail", post_id=post_id))


@bp.post("/posts/claims/<int:claim_id>/withdraw")
@login_required
def withdraw(claim_id: int) -> Response | tuple[str, int]:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    existing = db.session.get(PostClaim, claim_id)
    if existing is not None:
        on_refusal(lambda: _render_detail(existing.post_id))
    claim = svc.withdraw_claim(db.session, _actor(), claim_id)
    flash(_("You gave up this post."), "success")
    return redirect(url_for("posts.detail", post_id=claim.post_id))


# --- staff: posts --------------------------------------------------------------------------


@bp.get("/community/<int:community_id>/posts")
@login_required
def manage(community_id: int) -> str:
    rows = svc.community_posts(db.session, _actor(), community_id)
    community = db.session.get(Community, community_id)
    pending, _active = svc.claims_queue(db.session, _actor(), community_id)
    return render_template(
        "posts/manage.html",
        community=community,
        rows=rows,
        pending_count=len(pending),
        rules=svc.post_rules(db.session, community_id),
        action_form=ActionForm(formdata=None),
        points_label=svc.points_label,
        PostStatus=PostStatus,
    )


def _post_form(community: Community, post: ServicePost | None = None) -> PostForm:
    form = PostForm(obj=None)
    if post is not None and request.method == "GET":
        form.title.data = post.title
        form.duties.data = post.duties
        form.schedule.data = post.schedule
        form.places.data = post.places
        form.grid_id.data = post.grid_id or 0
        form.building_id.data = post.building_id or 0
        if post.points_per_hour is not None:
            form.point_rule.data, form.points.data = "hour", post.points_per_hour
        elif post.points_per_duty is not None:
            form.point_rule.data, form.points.data = "duty", post.points_per_duty
        else:
            form.point_rule.data, form.points.data = "none", 0
    form.grid_id.choices = [(0, _("— whole community —"))] + [(g.id, g.name) for g in community.grids]
    form.building_id.choices = [(0, _("— none —"))] + [
        (b.id, f"{g.name} · {b.name}") for g in community.grids for b in g.buildings
    ]
    return form


def _input(form: PostForm) -> svc.PostInput:
    return svc.PostInput(
        title=form.title.data or "",
        duties=form.duties.data or "",
        schedule=form.schedule.data or "",
        places=form.places.data or 0,
        point_rule=form.point_rule.data or "",
        points=form.points.data or 0,
        grid_id=form.grid_id.data or None,
        building_id=form.building_id.data or None,
    )


def _render_form(
    community: Community, form: PostForm, post: ServicePost | None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "posts/form.html", community=community, form=form, post=post, typical=svc.TYPICAL_POSTS
    ), status


def _staff_community(community_id: int) -> Community:
    # Listing the community's posts checks staff rights (and audits a refusal).
    svc.community_posts(db.session, _actor(), community_id)
    return db.session.get(Community, community_id)  # type: ignore[return-value]


@bp.route("/community/<int:community_id>/posts/new", methods=["GET", "POST"])
@login_required
def create(community_id: int) -> Response | tuple[str, int]:
    community = _staff_community(community_id)
    form = _post_form(community)
    if request.method == "GET":
        return _render_form(community, form, None)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_form(community, form, None, 400)
    on_refusal(lambda: _render_form(community, form, None))
    post = svc.create_post(db.session, _actor(), community.id, _input(form))
    flash(_("Post published."), "success")
    return redirect(url_for("posts.detail", post_id=post.id))


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit(post_id: int) -> Response | tuple[str, int]:
    post = svc.post_for_staff(db.session, _actor(), post_id)
    community = post.community
    form = _post_form(community, post)
    if request.method == "GET":
        return _render_form(community, form, post)
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _render_form(community, form, post, 400)
    on_refusal(lambda: _render_form(community, form, db.session.get(ServicePost, post_id)))
    svc.update_post(db.session, _actor(), post.id, _input(form))
    flash(_("Post saved."), "success")
    return redirect(url_for("posts.detail", post_id=post.id))


def _set_status(post_id: int, status: PostStatus) -> Response | tuple[str, int]:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    on_refusal(lambda: _render_detail(post_id))
    post = svc.set_post_status(db.session, _actor(), post_id, status)
    flash(
        _("Post closed. People who hold it keep it.") if status == PostStatus.CLOSED else _("Post reopened."),
        "success",
    )
    return redirect(url_for("posts.manage", community_id=post.community_id))


@bp.post("/posts/<int:post_id>/close")
@login_required
def close(post_id: int) -> Response | tuple[str, int]:
    return _set_status(post_id, PostStatus.CLOSED)


@bp.post("/posts/<int:post_id>/reopen")
@login_required
def reopen(post_id: int) -> Response | tuple[str, int]:
    return _set_status(post_id, PostStatus.OPEN)


# --- staff: claims -------------------------------------------------------------------------


def _render_claims(community_id: int, status: int = 200) -> tuple[str, int]:
    actor = _actor()
    pending, active = svc.claims_queue(db.session, actor, community_id)
    return render_template(
        "posts/claims.html",
        community=db.session.get(Community, community_id),
        pending=pending,
        active=active,
        actor=actor,
        mask_phone=mask_phone,
        rules=svc.post_rules(db.session, community_id),
    ), status


@bp.get("/community/<int:community_id>/posts/claims")
@login_required
def claims(community_id: int) -> tuple[str, int]:
    return _render_claims(community_id)


def _decide(claim_id: int, decide: Any, ok: str) -> Response | tuple[str, int]:
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    existing = db.session.get(PostClaim, claim_id)
    if existing is not None:
        on_refusal(lambda: _render_claims(existing.community_id))
    claim = decide(form.note.data or "")
    flash(ok, "success")
    return redirect(url_for("posts.claims", community_id=claim.community_id))


@bp.post("/posts/claims/<int:claim_id>/approve")
@login_required
def approve(claim_id: int) -> Response | tuple[str, int]:
    return _decide(
        claim_id, lambda _note: svc.approve_claim(db.session, _actor(), claim_id), _("Claim approved.")
    )


@bp.post("/posts/claims/<int:claim_id>/reject")
@login_required
def reject(claim_id: int) -> Response | tuple[str, int]:
    return _decide(
        claim_id, lambda note: svc.reject_claim(db.session, _actor(), claim_id, note), _("Claim rejected.")
    )


@bp.post("/posts/claims/<int:claim_id>/release")
@login_required
def release(claim_id: int) -> Response | tuple[str, int]:
    return _decide(
        claim_id,
        lambda note: svc.release_claim(db.session, _actor(), claim_id, note),
        _("The volunteer was released from the post."),
    )
