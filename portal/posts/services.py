"""服务岗位 — the rules.

Every function takes plain values, a Session and the acting user, checks role *and*
community on the loaded object (ids from URLs and forms are never trusted), flushes and
writes the audit record. Nothing here commits.

Refusals raise ``portal.errors.ServiceError`` subclasses with translated messages and are
recorded with ``record_refusal`` (kept although the request rolls back) by the
``audit_refusals`` decorator: ``NotFound`` for unknown ids (404), ``Forbidden`` for the
wrong community or role and for self-approval (403), ``Conflict`` for a full or closed
post, a second claim, or the per-person cap (409), ``ServiceError`` for bad input (400).

Concurrency: a claim locks the claimer's user row, then the post row (PostgreSQL
``SELECT ... FOR NO KEY UPDATE``; SQLite serialises writers with ``BEGIN IMMEDIATE``)
before counting, so two people cannot both take the last place and one person cannot
race two claims past the cap. Every path that locks both locks the user first.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.db import utcnow
from portal.audit.services import record
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import User
from portal.places.models import Building, Community, Grid
from portal.places.services import get_community
from portal.policy import is_member, is_staff
from portal.settings.services import get_settings
from portal.volunteering.posts import LIVE_CLAIM_STATUSES, ClaimStatus, PostClaim, PostStatus, ServicePost
from portal.volunteering.rules import audit_refusals, can_volunteer, clean, lock

TITLE_MAX = 60
DUTIES_MAX = 2000
SCHEDULE_MAX = 200
NOTE_MAX = 200
PLACES_MAX = 500
POINTS_MAX = 1000

# The typical posts of 在职党员 (offered as suggestions on the form).
TYPICAL_POSTS = ("宣传员", "调解员", "应急员", "监督员", "楼栋长", "网格员")


# --- who may act where --------------------------------------------------------------------


def _community(session: Session, community_id: int) -> Community:
    return get_community(session, community_id)


def _require_staff(actor: User, community: Community) -> None:
    if not is_staff(actor, community):
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")


def _require_member(actor: User, community: Community) -> None:
    if not is_member(actor, community):
        raise Forbidden(_l("You are not a member of this community."), code="not_member")


def _post(session: Session, post_id: int) -> ServicePost:
    post = session.get(ServicePost, post_id)
    if post is None:
        raise NotFound(_l("This post does not exist."), code="post_not_found")
    return post


def _claim(session: Session, claim_id: int) -> PostClaim:
    claim = session.get(PostClaim, claim_id)
    if claim is None:
        raise NotFound(_l("This claim does not exist."), code="claim_not_found")
    return claim


@dataclass(frozen=True)
class PostRules:
    claim_cap: int
    needs_approval: bool


def post_rules(session: Session, community_id: int) -> PostRules:
    """The community's post settings (defaults when none are stored)."""
    row = get_settings(session, community_id)
    return PostRules(claim_cap=row.post_claim_cap, needs_approval=bool(row.post_claim_needs_approval))


# --- counts --------------------------------------------------------------------------------


def taken_places(session: Session, post_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PostClaim)
            .where(PostClaim.post_id == post_id, PostClaim.status.in_(LIVE_CLAIM_STATUSES))
        )
        or 0
    )


def live_claim_count(session: Session, user_id: int, community_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PostClaim)
            .where(
                PostClaim.user_id == user_id,
                PostClaim.community_id == community_id,
                PostClaim.status.in_(LIVE_CLAIM_STATUSES),
            )
        )
        or 0
    )


def _taken_by_post(session: Session, post_ids: list[int]) -> dict[int, int]:
    if not post_ids:
        return {}
    rows = session.execute(
        select(PostClaim.post_id, func.count())
        .where(PostClaim.post_id.in_(post_ids), PostClaim.status.in_(LIVE_CLAIM_STATUSES))
        .group_by(PostClaim.post_id)
    )
    return {int(pid): int(n) for pid, n in rows}


def _live_claim(session: Session, user_id: int, post_id: int) -> PostClaim | None:
    return session.scalar(
        select(PostClaim).where(
            PostClaim.user_id == user_id,
            PostClaim.post_id == post_id,
            PostClaim.status.in_(LIVE_CLAIM_STATUSES),
        )
    )


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostRow:
    post: ServicePost
    taken: int
    my_claim: PostClaim | None

    @property
    def places_left(self) -> int:
        return max(0, self.post.places - self.taken)


def _rows(session: Session, posts: list[ServicePost], user_id: int) -> list[PostRow]:
    taken = _taken_by_post(session, [p.id for p in posts])
    mine: dict[int, PostClaim] = {}
    if posts:
        for c in session.scalars(
            select(PostClaim).where(
                PostClaim.user_id == user_id,
                PostClaim.post_id.in_([p.id for p in posts]),
                PostClaim.status.in_(LIVE_CLAIM_STATUSES),
            )
        ):
            mine[c.post_id] = c
    return [PostRow(post=p, taken=taken.get(p.id, 0), my_claim=mine.get(p.id)) for p in posts]


@audit_refusals("posts.list", target="community")
def open_posts(session: Session, actor: User, community_id: int) -> list[PostRow]:
    """Open posts with places left, plus any post the actor holds (marked)."""
    community = _community(session, community_id)
    _require_member(actor, community)
    posts = list(
        session.scalars(
            select(ServicePost)
            .where(ServicePost.community_id == community.id, ServicePost.status == PostStatus.OPEN)
            .order_by(ServicePost.id)
        )
    )
    return [r for r in _rows(session, posts, actor.id) if r.places_left > 0 or r.my_claim is not None]


@audit_refusals("posts.manage", target="community")
def community_posts(session: Session, actor: User, community_id: int) -> list[PostRow]:
    """Every post of the community, open first (staff)."""
    community = _community(session, community_id)
    _require_staff(actor, community)
    posts = list(
        session.scalars(
            select(ServicePost)
            .where(ServicePost.community_id == community.id)
            .order_by(ServicePost.status.desc(), ServicePost.id)
        )
    )
    return _rows(session, posts, actor.id)


@audit_refusals("posts.view", target="service_post")
def post_for_member(session: Session, actor: User, post_id: int) -> PostRow:
    post = _post(session, post_id)
    _require_member(actor, post.community)
    return _rows(session, [post], actor.id)[0]


@audit_refusals("posts.edit", target="service_post")
def post_for_staff(session: Session, actor: User, post_id: int) -> ServicePost:
    post = _post(session, post_id)
    _require_staff(actor, post.community)
    return post


@audit_refusals("posts.claims", target="community")
def claims_queue(session: Session, actor: User, community_id: int) -> tuple[list[PostClaim], list[PostClaim]]:
    """(pending claims, active claims) of the community (staff)."""
    community = _community(session, community_id)
    _require_staff(actor, community)

    def of(status: ClaimStatus) -> list[PostClaim]:
        return list(
            session.scalars(
                select(PostClaim)
                .where(PostClaim.community_id == community.id, PostClaim.status == status)
                .options(selectinload(PostClaim.post), selectinload(PostClaim.user))
                .order_by(PostClaim.created_at, PostClaim.id)
            )
        )

    return of(ClaimStatus.PENDING), of(ClaimStatus.ACTIVE)


def my_claims(session: Session, user_id: int) -> list[PostClaim]:
    """The person's live claims (pending and active), in every community, newest first.
    Used by the "我的" page and the compliance page."""
    return list(
        session.scalars(
            select(PostClaim)
            .where(PostClaim.user_id == user_id, PostClaim.status.in_(LIVE_CLAIM_STATUSES))
            .options(selectinload(PostClaim.post).selectinload(ServicePost.community))
            .order_by(PostClaim.created_at.desc(), PostClaim.id.desc())
        )
    )


def claim_history(session: Session, user_id: int, community_id: int, limit: int = 20) -> list[PostClaim]:
    return list(
        session.scalars(
            select(PostClaim)
            .where(
                PostClaim.user_id == user_id,
                PostClaim.community_id == community_id,
                PostClaim.status.notin_(LIVE_CLAIM_STATUSES),
            )
            .options(selectinload(PostClaim.post))
            .order_by(PostClaim.id.desc())
            .limit(limit)
        )
    )


# --- staff: publish and edit posts ------------------------------------------------------------


@dataclass
class PostInput:
    title: str
    duties: str = ""
    schedule: str = ""
    places: int = 1
    point_rule: str = "hour"  # "hour" | "duty" | "none"
    points: int = 0
    grid_id: int | None = None
    building_id: int | None = None


def _apply(session: Session, community: Community, post: ServicePost, data: PostInput) -> None:
    title = clean(data.title, TITLE_MAX, _l("Title"), required=True)
    duties = clean(data.duties, DUTIES_MAX, _l("Duties"), multiline=True)
    schedule = clean(data.schedule, SCHEDULE_MAX, _l("Schedule"))
    try:
        places = int(data.places)
        points = int(data.points or 0)
    except (TypeError, ValueError):
        raise ServiceError(_l("Please enter whole numbers."), code="not_a_number") from None
    if not 1 <= places <= PLACES_MAX:
        raise ServiceError(
            _l("Places must be between 1 and %(n)d.", n=PLACES_MAX), code="places_range", field="places"
        )
    if data.point_rule not in ("hour", "duty", "none"):
        raise ServiceError(_l("Choose how points are earned."), code="point_rule", field="point_rule")
    if not 0 <= points <= POINTS_MAX:
        raise ServiceError(
            _l("Points must be between 0 and %(n)d.", n=POINTS_MAX), code="points_range", field="points"
        )
    grid: Grid | None = None
    building: Building | None = None
    if data.building_id:
        building = session.get(Building, data.building_id)
        if building is None or building.community_id != community.id:
            raise ServiceError(
                _l("Choose a building of this community."), code="bad_building", field="building_id"
            )
    if data.grid_id:
        grid = session.get(Grid, data.grid_id)
        if grid is None or grid.community_id != community.id:
            raise ServiceError(_l("Choose a grid of this community."), code="bad_grid", field="grid_id")
    if building is not None:
        if grid is not None and building.grid_id != grid.id:
            raise ServiceError(
                _l("This building is not in the chosen grid."), code="building_grid", field="building_id"
            )
        grid = building.grid
    if post.id is not None:
        taken = taken_places(session, post.id)
        if places < taken:
            raise Conflict(
                _l("%(n)d people already hold this post; places cannot be fewer.", n=taken),
                code="places_below_taken",
                field="places",
            )
    post.title = title
    post.duties = duties
    post.schedule = schedule
    post.places = places
    post.points_per_hour = points if data.point_rule == "hour" else None
    post.points_per_duty = points if data.point_rule == "duty" else None
    post.grid_id = grid.id if grid else None
    post.building_id = building.id if building else None


@audit_refusals("posts.create", target="community")
def create_post(session: Session, actor: User, community_id: int, data: PostInput) -> ServicePost:
    community = _community(session, community_id)
    _require_staff(actor, community)
    post = ServicePost(community_id=community.id, created_by_id=actor.id, status=PostStatus.OPEN)
    _apply(session, community, post, data)
    session.add(post)
    session.flush()
    record(
        session,
        "posts.create",
        actor_id=actor.id,
        community_id=community.id,
        target=("service_post", post.id),
        title=post.title,
        places=post.places,
    )
    return post


@audit_refusals("posts.edit", target="service_post")
def update_post(session: Session, actor: User, post_id: int, data: PostInput) -> ServicePost:
    post = _post(session, post_id)
    _require_staff(actor, post.community)
    post = lock(session, ServicePost, post.id)
    _apply(session, post.community, post, data)
    post.updated_at = utcnow()
    session.flush()
    record(
        session,
        "posts.edit",
        actor_id=actor.id,
        community_id=post.community_id,
        target=("service_post", post.id),
        title=post.title,
        places=post.places,
    )
    return post


@audit_refusals("posts.status", target="service_post")
def set_post_status(session: Session, actor: User, post_id: int, status: PostStatus) -> ServicePost:
    """Close a post (no new claims; people who hold it keep it) or reopen it."""
    post = _post(session, post_id)
    _require_staff(actor, post.community)
    post = lock(session, ServicePost, post.id)
    if post.status == status:
        raise Conflict(
            _l("This post is already closed.")
            if status == PostStatus.CLOSED
            else _l("This post is already open."),
            code="same_status",
        )
    post.status = status
    post.updated_at = utcnow()
    session.flush()
    record(
        session,
        f"posts.{'close' if status == PostStatus.CLOSED else 'reopen'}",
        actor_id=actor.id,
        community_id=post.community_id,
        target=("service_post", post.id),
    )
    return post


# --- volunteers: claim and withdraw -----------------------------------------------------------


@audit_refusals("posts.claim", target="service_post")
def claim_post(session: Session, actor: User, post_id: int) -> PostClaim:
    post = _post(session, post_id)
    if not can_volunteer(actor, post.community_id):
        raise Forbidden(_l("You can only claim posts in your own community."), code="other_community")
    # Lock order: the claimer, then the post (the cap and the places are counted under both).
    lock(session, User, actor.id)
    post = lock(session, ServicePost, post.id)
    if post.status != PostStatus.OPEN:
        raise Conflict(_l("This post is closed."), code="post_closed")
    if _live_claim(session, actor.id, post.id) is not None:
        raise Conflict(_l("You have already claimed this post."), code="already_claimed")
    rules = post_rules(session, post.community_id)
    if live_claim_count(session, actor.id, post.community_id) >= rules.claim_cap:
        raise Conflict(
            _l(
                "You already hold %(n)d posts, the most this community allows. "
                "Give one up before claiming another.",
                n=rules.claim_cap,
            ),
            code="claim_cap",
        )
    if taken_places(session, post.id) >= post.places:
        raise Conflict(_l("All places of this post are taken."), code="post_full")
    claim = PostClaim(
        post_id=post.id,
        user_id=actor.id,
        community_id=post.community_id,
        status=ClaimStatus.PENDING if rules.needs_approval else ClaimStatus.ACTIVE,
    )
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("You have already claimed this post."), code="already_claimed") from None
    record(
        session,
        "posts.claim",
        actor_id=actor.id,
        community_id=post.community_id,
        target=("post_claim", claim.id),
        post_id=post.id,
        status=claim.status.value,
    )
    return claim


@audit_refusals("posts.withdraw", target="post_claim")
def withdraw_claim(session: Session, actor: User, claim_id: int) -> PostClaim:
    claim = _claim(session, claim_id)
    if claim.user_id != actor.id:
        # Someone else's claim: do not reveal that it exists.
        raise NotFound(_l("This claim does not exist."), code="claim_not_found")
    claim = lock(session, PostClaim, claim.id)
    if not claim.is_live:
        raise Conflict(_l("This claim has already ended."), code="claim_ended")
    claim.status = ClaimStatus.WITHDRAWN
    claim.decided_by_id = None
    claim.decided_at = utcnow()
    session.flush()
    record(
        session,
        "posts.withdraw",
        actor_id=actor.id,
        community_id=claim.community_id,
        target=("post_claim", claim.id),
        post_id=claim.post_id,
    )
    return claim


# --- staff: decide claims --------------------------------------------------------------------


def _claim_for_decision(session: Session, actor: User, claim_id: int, expected: ClaimStatus) -> PostClaim:
    claim = _claim(session, claim_id)
    _require_staff(actor, claim.post.community)
    if claim.user_id == actor.id:
        raise Forbidden(
            _l("You cannot decide your own claim; another staff member must do it."), code="self_decision"
        )
    claim = lock(session, PostClaim, claim.id)
    if claim.status != expected:
        raise Conflict(_l("This claim was already dealt with."), code="claim_changed")
    return claim


def _notify(session: Session, claim: PostClaim, kind: str, title: str, body: str = "") -> None:
    from flask import has_request_context, url_for

    from portal.notifications.services import notify

    link = url_for("posts.detail", post_id=claim.post_id) if has_request_context() else None
    notify(session, claim.user_id, kind, title, body, link=link, dedupe_key=f"{kind}:{claim.id}")


@audit_refusals("posts.approve", target="post_claim")
def approve_claim(session: Session, actor: User, claim_id: int) -> PostClaim:
    claim = _claim_for_decision(session, actor, claim_id, ClaimStatus.PENDING)
    claim.status = ClaimStatus.ACTIVE
    claim.decided_by_id = actor.id
    claim.decided_at = utcnow()
    session.flush()
    record(
        session,
        "posts.approve",
        actor_id=actor.id,
        community_id=claim.community_id,
        target=("post_claim", claim.id),
        user_id=claim.user_id,
        post_id=claim.post_id,
    )
    _notify(
        session,
        claim,
        "posts.approved",
        _l("Your post claim was approved: %(title)s", title=claim.post.title),
    )
    return claim


@audit_refusals("posts.reject", target="post_claim")
def reject_claim(session: Session, actor: User, claim_id: int, note: str) -> PostClaim:
    note = clean(note, NOTE_MAX, _l("Note"), required=True)
    claim = _claim_for_decision(session, actor, claim_id, ClaimStatus.PENDING)
    claim.status = ClaimStatus.REJECTED
    claim.decided_by_id = actor.id
    claim.decided_at = utcnow()
    claim.note = note
    session.flush()
    record(
        session,
        "posts.reject",
        actor_id=actor.id,
        community_id=claim.community_id,
        target=("post_claim", claim.id),
        user_id=claim.user_id,
        post_id=claim.post_id,
    )
    _notify(
        session,
        claim,
        "posts.rejected",
        _l("Your post claim was not approved: %(title)s", title=claim.post.title),
        note,
    )
    return claim


@audit_refusals("posts.release", target="post_claim")
def release_claim(session: Session, actor: User, claim_id: int, note: str = "") -> PostClaim:
    note = clean(note, NOTE_MAX, _l("Note"))
    claim = _claim_for_decision(session, actor, claim_id, ClaimStatus.ACTIVE)
    claim.status = ClaimStatus.RELEASED
    claim.decided_by_id = actor.id
    claim.decided_at = utcnow()
    claim.note = note
    session.flush()
    record(
        session,
        "posts.release",
        actor_id=actor.id,
        community_id=claim.community_id,
        target=("post_claim", claim.id),
        user_id=claim.user_id,
        post_id=claim.post_id,
    )
    _notify(
        session,
        claim,
        "posts.released",
        _l("You were released from the post: %(title)s", title=claim.post.title),
        note,
    )
    return claim


# --- labels ------------------------------------------------------------------------------------


def claim_status_label(status: ClaimStatus) -> str:
    labels = {
        ClaimStatus.PENDING: _l("Waiting for approval"),
        ClaimStatus.ACTIVE: _l("Claimed"),
        ClaimStatus.REJECTED: _l("Not approved"),
        ClaimStatus.RELEASED: _l("Released"),
        ClaimStatus.WITHDRAWN: _l("Withdrawn"),
    }
    return str(labels[status])


def points_label(post: ServicePost) -> str:
    if post.points_per_hour is not None:
        return str(_l("%(n)d points per hour", n=post.points_per_hour))
    if post.points_per_duty is not None:
        return str(_l("%(n)d points per duty", n=post.points_per_duty))
    return str(_l("No points"))
