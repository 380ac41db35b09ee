"""Hour logs: record, report, approve (pays 福分 through the ledger), reject, reverse.

Services take plain values, a Session and the acting User; they flush, never commit.
Refusals raise ``ServiceError`` subclasses with translated messages and are audited
with ``record_refusal``.

Points for an approved log: ``points_flat`` when set, otherwise
``minutes * points_per_hour // 60`` (rounded down) where the rate is the one captured on
the log (activity/post rate) or the community default.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

import ledger
from core.clock import LOCAL_TZ, local_day_bounds, year_bounds
from core.db import utcnow
from portal.audit.services import record
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.notifications.services import notify
from portal.people.models import User
from portal.places.models import Community
from portal.policy import is_staff, staff_communities
from portal.reasons import code as reason_code
from portal.settings.services import get_settings
from portal.volunteering.activities import Activity
from portal.volunteering.hours import LIVE_STATUSES, HourLog, HourSource, HourStatus
from portal.volunteering.posts import ClaimStatus, PostClaim, ServicePost
from portal.volunteering.recording import record_hours
from portal.volunteering.recording import refuse as _refuse
from portal.volunteering.rules import active_claims
from portal.volunteering.teams import Team, TeamMembership
from portal.volunteering.wishes import Wish, WishStatus

MAX_BATCH = 1000
REASON_MAX = 500


def points_for(log: HourLog, default_per_hour: int) -> int:
    return pay_rule(log.minutes, log.points_per_hour, log.points_flat, default_per_hour)


def pay_rule(minutes: int, per_hour: int | None, flat: int | None, default_per_hour: int) -> int:
    """The one points rule: a flat amount, else minutes at the captured (or default) rate."""
    if flat is not None:
        return flat
    rate = per_hour if per_hour is not None else default_per_hour
    return minutes * rate // 60


# --- self-reported hours ----------------------------------------------------------------


def report_hours(
    session: Session,
    actor: User,
    *,
    source: str,
    source_id: int | None,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    description: str,
    photo_path: str | None = None,
    now: dt.datetime | None = None,
) -> HourLog:
    """A volunteer reports their own hours for a post they hold (active claim) or a wish
    they fulfilled. The community is the post's / wish's."""
    description = (description or "").strip()
    if not description:
        raise ServiceError(_l("Describe what you did."), code="required", field="description")
    if source == HourSource.POST.value:
        claim = None
        if source_id is not None:
            claim = session.scalar(
                select(PostClaim).where(
                    PostClaim.post_id == source_id,
                    PostClaim.user_id == actor.id,
                    PostClaim.status == ClaimStatus.ACTIVE,
                )
            )
        if claim is None:
            raise _refuse(
                session,
                actor,
                "report",
                NotFound(_l("You do not hold this service post."), code="no_claim"),
                post_id=source_id,
            )
        post = session.get(ServicePost, source_id)
        pph = getattr(post, "points_per_hour", None)
        flat = getattr(post, "points_per_duty", None)
        return record_hours(
            session,
            user_id=actor.id,
            community_id=claim.community_id,
            source=source,
            source_id=source_id,
            started_at=started_at,
            ended_at=ended_at,
            description=description,
            reported_by=actor,
            points_per_hour=pph,
            points_flat=flat,
            photo_path=photo_path,
            now=now,
        )
    if source == HourSource.WISH.value:
        wish = session.get(Wish, source_id) if source_id is not None else None
        if (
            wish is None
            or wish.claimed_by_id != actor.id
            or wish.status not in (WishStatus.FULFILLED, WishStatus.CONFIRMED)
        ):
            raise _refuse(
                session,
                actor,
                "report",
                NotFound(_l("You have not fulfilled this wish."), code="no_wish"),
                wish_id=source_id,
            )
        exists = session.scalar(
            select(HourLog.id).where(
                HourLog.wish_id == wish.id, HourLog.user_id == actor.id, HourLog.status.in_(LIVE_STATUSES)
            )
        )
        if exists is not None:
            raise _refuse(
                session,
                actor,
                "report",
                Conflict(_l("Hours for this wish are already reported."), code="duplicate"),
                wish_id=wish.id,
            )
        return record_hours(
            session,
            user_id=actor.id,
            community_id=wish.community_id,
            source=source,
            source_id=wish.id,
            started_at=started_at,
            ended_at=ended_at,
            description=description,
            reported_by=actor,
            photo_path=photo_path,
            now=now,
        )
    raise ServiceError(_l("Choose a service post or a wish."), code="bad_source", field="source")


# --- the approval queue -----------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    community_id: int
    source: str | None = None
    post_id: int | None = None
    activity_id: int | None = None
    team_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: str = HourStatus.PENDING.value


def _community_for_staff(session: Session, actor: User, community_id: int, action: str) -> Community:
    community = session.get(Community, community_id)
    if community is None or not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Only the staff of this community can do this."), code="not_staff"),
            community_id=community_id,
        )
    return community


# The activity dropdown of the queue lists activities from this far back to this far ahead.
FILTER_ACTIVITIES_BEFORE = dt.timedelta(days=90)
FILTER_ACTIVITIES_AFTER = dt.timedelta(days=30)


@dataclass(frozen=True)
class FilterOptions:
    posts: list[Any]
    activities: list[Any]
    teams: list[Any]


def _filter_models() -> tuple[Any, Any, Any]:
    return ServicePost, Activity, Team


def validate_filter(session: Session, actor: User, flt: QueueFilter) -> None:
    """Refuse a post / activity / team id that is not the filter community's own (a forged
    or stale URL). The message is the same for another community's id and for an id that
    does not exist, so nothing about other communities leaks."""
    post_model, activity_model, team_model = _filter_models()
    for model, value, field in (
        (post_model, flt.post_id, "post_id"),
        (activity_model, flt.activity_id, "activity_id"),
        (team_model, flt.team_id, "team_id"),
    ):
        if value is None:
            continue
        obj = session.get(model, value)
        if obj is None or obj.community_id != flt.community_id:
            raise _refuse(
                session,
                actor,
                "queue",
                ServiceError(
                    _l("This filter does not belong to this community. Please choose again from the lists."),
                    code="bad_filter",
                    field=field,
                ),
                community_id=flt.community_id,
                **{field: value},
            )


def queue_filter_options(
    session: Session, flt: QueueFilter, *, now: dt.datetime | None = None
) -> FilterOptions:
    """Choices for the queue's dropdowns, all of ``flt.community_id`` only: its service posts,
    its activities of the last 90 / next 30 days, its active teams. A selected item outside
    these lists (an older activity, an inactive team) is kept so the
    selection stays visible; ``validate_filter`` has already checked it is this community's."""
    post_model, activity_model, team_model = _filter_models()
    now = now or utcnow()
    cid = flt.community_id
    # All posts, closed ones too: a closed post can still have hours waiting for review.
    posts = list(
        session.scalars(
            select(post_model).where(post_model.community_id == cid).order_by(post_model.title, post_model.id)
        )
    )
    activities = list(
        session.scalars(
            select(activity_model)
            .where(
                activity_model.community_id == cid,
                or_(
                    activity_model.starts_at.between(
                        now - FILTER_ACTIVITIES_BEFORE, now + FILTER_ACTIVITIES_AFTER
                    ),
                    activity_model.id == (flt.activity_id or -1),
                ),
            )
            .order_by(activity_model.starts_at.desc(), activity_model.id.desc())
        )
    )
    teams = list(
        session.scalars(
            select(team_model)
            .where(
                team_model.community_id == cid,
                or_(team_model.is_active.is_(True), team_model.id == (flt.team_id or -1)),
            )
            .order_by(team_model.name, team_model.id)
        )
    )
    return FilterOptions(posts=posts, activities=activities, teams=teams)


def queue_query(session: Session, actor: User, flt: QueueFilter) -> Select[tuple[HourLog]]:
    """Logs matching the staff filter; never the actor's own logs."""
    _community_for_staff(session, actor, flt.community_id, "queue")
    validate_filter(session, actor, flt)
    q = select(HourLog).where(
        HourLog.community_id == flt.community_id, HourLog.user_id != actor.id, _wish_confirmed_or_none()
    )
    if flt.status:
        q = q.where(HourLog.status == HourStatus(flt.status))
    if flt.source:
        q = q.where(HourLog.source == HourSource(flt.source))
    if flt.post_id:
        q = q.where(HourLog.post_id == flt.post_id)
    if flt.activity_id:
        q = q.where(HourLog.activity_id == flt.activity_id)
    if flt.team_id:
        members = select(TeamMembership.user_id).where(
            TeamMembership.team_id == flt.team_id, TeamMembership.left_at.is_(None)
        )
        q = q.where(HourLog.user_id.in_(members))
    if flt.date_from:
        q = q.where(HourLog.started_at >= local_day_bounds(flt.date_from)[0])
    if flt.date_to:
        q = q.where(HourLog.started_at < local_day_bounds(flt.date_to)[1])
    return q.order_by(HourLog.started_at, HourLog.id)


def _wish_confirmed_or_none() -> Any:
    """Hours for a wish wait for the requester's confirmation before staff see them."""
    return or_(
        HourLog.wish_id.is_(None),
        HourLog.wish_id.in_(select(Wish.id).where(Wish.status == WishStatus.CONFIRMED)),
    )


def pending_count(session: Session, actor: User, community_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(HourLog)
            .where(
                HourLog.community_id == community_id,
                HourLog.status == HourStatus.PENDING,
                HourLog.user_id != actor.id,
                _wish_confirmed_or_none(),
            )
        )
        or 0
    )


def pending_counts(session: Session, actor: User, community_ids: Sequence[int]) -> dict[int, int]:
    """``pending_count`` for many communities in one grouped query (street overviews)."""
    if not community_ids:
        return {}
    rows = session.execute(
        select(HourLog.community_id, func.count())
        .where(
            HourLog.community_id.in_(list(community_ids)),
            HourLog.status == HourStatus.PENDING,
            HourLog.user_id != actor.id,
            _wish_confirmed_or_none(),
        )
        .group_by(HourLog.community_id)
    )
    return {int(cid): int(n) for cid, n in rows}


@dataclass
class BatchResult:
    approved: list[HourLog]
    skipped: list[HourLog]

    @property
    def points(self) -> int:
        return sum(log.points or 0 for log in self.approved)


def _load_for_review(session: Session, actor: User, log_ids: Iterable[int], action: str) -> list[HourLog]:
    ids = sorted({int(i) for i in log_ids})
    if not ids:
        raise ServiceError(_l("Choose at least one entry."), code="empty")
    if len(ids) > MAX_BATCH:
        raise ServiceError(_l("At most %(n)d entries at once.", n=MAX_BATCH), code="too_many")
    logs = list(
        session.scalars(
            select(HourLog).where(HourLog.id.in_(ids)).order_by(HourLog.id).with_for_update(key_share=True)
        )
    )
    if len(logs) != len(ids):
        missing = sorted(set(ids) - {log.id for log in logs})
        raise _refuse(
            session,
            actor,
            action,
            NotFound(_l("Some of these entries do not exist."), code="not_found"),
            missing=missing[:20],
        )
    communities: dict[int, Community | None] = {}
    for log in logs:
        if log.community_id not in communities:
            c = session.get(Community, log.community_id)
            communities[log.community_id] = c if c is not None and is_staff(actor, c) else None
        if communities[log.community_id] is None:
            raise _refuse(
                session,
                actor,
                action,
                Forbidden(_l("Only the staff of this community can do this."), code="not_staff"),
                community_id=log.community_id,
                target=("hour_log", log.id),
            )
        if log.user_id == actor.id:
            raise _refuse(
                session,
                actor,
                action,
                Forbidden(_l("Nobody can approve or reject their own hours."), code="own_hours"),
                community_id=log.community_id,
                target=("hour_log", log.id),
            )
    return logs


def _unconfirmed_wish_logs(session: Session, logs: list[HourLog]) -> set[int]:
    wish_ids = {log.wish_id for log in logs if log.wish_id is not None}
    if not wish_ids:
        return set()
    confirmed = set(
        session.scalars(select(Wish.id).where(Wish.id.in_(wish_ids), Wish.status == WishStatus.CONFIRMED))
    )
    return {log.id for log in logs if log.wish_id is not None and log.wish_id not in confirmed}


def approve(
    session: Session, actor: User, log_ids: Sequence[int], *, now: dt.datetime | None = None
) -> BatchResult:
    """Approve pending logs and pay them from the community fund, all in the caller's
    transaction (one ledger posting per log, key ``hours:{id}:approve``). Logs that are
    no longer pending (a double-submitted form) are skipped and left unchanged."""
    now = now or utcnow()
    logs = _load_for_review(session, actor, log_ids, "approve")
    waiting = _unconfirmed_wish_logs(session, logs)
    todo = [log for log in logs if log.status == HourStatus.PENDING and log.id not in waiting]
    skipped = [log for log in logs if log not in todo]
    if not todo:
        return BatchResult([], skipped)
    _pay(session, actor, todo, now)
    return BatchResult(todo, skipped)


def approve_on_confirmation(
    session: Session, requester: User, wish_id: int, *, now: dt.datetime
) -> HourLog | None:
    """A community that pays wishes on the resident's confirmation (setting
    ``wish_pay_on_confirm``): the requester's confirmation approves the helper's pending
    log for that wish, if it is within ``wish_auto_pay_max_minutes``; otherwise (or with
    the setting off) the log waits for staff as before. The requester is the approver of
    record, so the usual rule holds: nobody approves their own hours."""
    wish = session.get(Wish, wish_id)
    if wish is None or wish.status != WishStatus.CONFIRMED or wish.requester_id != requester.id:
        return None
    settings = get_settings(session, wish.community_id)
    if not settings.wish_pay_on_confirm:
        return None
    log = session.scalar(
        select(HourLog)
        .where(HourLog.wish_id == wish.id, HourLog.status == HourStatus.PENDING)
        .order_by(HourLog.id)
        .with_for_update()
    )
    if log is None or log.user_id == requester.id or log.minutes > settings.wish_auto_pay_max_minutes:
        return None
    if points_for(log, settings.points_per_hour) > monthly_budget(session, wish.community_id, now).left:
        return None  # over this month's budget: the log waits for staff, who see why
    _pay(session, requester, [log], now, via="wish_confirmation")
    return log


def month_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month (Asia/Shanghai) containing ``now``, as UTC bounds."""
    local = now.astimezone(LOCAL_TZ)
    start = dt.datetime(local.year, local.month, 1, tzinfo=LOCAL_TZ)
    nxt = dt.datetime(local.year + (local.month == 12), local.month % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start.astimezone(dt.UTC), nxt.astimezone(dt.UTC)


@dataclass(frozen=True)
class Budget:
    """The community fund's monthly issuing budget for approved hours."""

    limit: int
    issued: int

    @property
    def left(self) -> int:
        return max(self.limit - self.issued, 0)


def monthly_budget(
    session: Session, community_id: int, now: dt.datetime | None = None, *, limit: int | None = None
) -> Budget:
    """Points paid this month for approved hours (reversed ones still count: they were
    issued) against the community's ``monthly_issue_budget``."""
    start, end = month_bounds(now or utcnow())
    issued = session.scalar(
        select(func.coalesce(func.sum(HourLog.points), 0)).where(
            HourLog.community_id == community_id,
            HourLog.ledger_tx_id.is_not(None),
            HourLog.reviewed_at >= start,
            HourLog.reviewed_at < end,
        )
    )
    if limit is None:
        limit = get_settings(session, community_id).monthly_issue_budget
    return Budget(limit=limit, issued=int(issued or 0))


def preview_points(
    session: Session, logs: Sequence[HourLog], rates: dict[int, int] | None = None
) -> dict[int, int]:
    """What approving each pending log would pay, by log id (the queue and the batch
    confirmation show these before anyone approves). ``rates``: community → default
    points per hour, when the caller has them."""
    rates = dict(rates or {})
    for cid in {log.community_id for log in logs} - set(rates):
        rates[cid] = get_settings(session, cid).points_per_hour
    return {log.id: points_for(log, rates[log.community_id]) for log in logs}


def matching_points(
    session: Session, query: Select[tuple[HourLog]], rates: dict[int, int] | None = None
) -> int:
    """What approving every log ``query`` selects (at most MAX_BATCH) would pay, in one
    statement (plus the community rates)."""
    sub = query.order_by(None).limit(MAX_BATCH).subquery()
    rows = session.execute(
        select(sub.c.community_id, sub.c.minutes, sub.c.points_per_hour, sub.c.points_flat)
    ).all()
    rates = dict(rates or {})
    for cid in {r.community_id for r in rows} - set(rates):
        rates[cid] = get_settings(session, cid).points_per_hour
    return sum(pay_rule(r.minutes, r.points_per_hour, r.points_flat, rates[r.community_id]) for r in rows)


def _pay(session: Session, actor: User, todo: list[HourLog], now: dt.datetime, via: str = "staff") -> None:
    """Pay and mark approved ``todo`` (pending logs the caller checked). Refused as a
    whole when it would take a community past its monthly issuing budget."""
    rates = {cid: get_settings(session, cid).points_per_hour for cid in {log.community_id for log in todo}}
    for cid in rates:
        batch = sum(points_for(log, rates[cid]) for log in todo if log.community_id == cid)
        budget = monthly_budget(session, cid, now)
        if batch > budget.left:
            raise _refuse(
                session,
                actor,
                "approve",
                Conflict(
                    _l(
                        "Approving these would pay %(batch)d 福分, but only %(left)d of this month's "
                        "budget of %(limit)d are left. Approve fewer entries, or raise the monthly "
                        "budget in the community settings.",
                        batch=batch,
                        left=budget.left,
                        limit=budget.limit,
                    ),
                    code="over_budget",
                ),
                community_id=cid,
                batch_points=batch,
                budget_left=budget.left,
            )
    funds = {cid: ledger.community_fund(session, cid) for cid in rates}
    accounts: dict[tuple[int, int], int] = {}
    postings: list[ledger.Posting] = []
    paid: list[HourLog] = []
    act = ledger.Actor.user(actor.id)
    for log in todo:
        log.points = points_for(log, rates[log.community_id])
        if log.points <= 0:
            continue
        key = (log.community_id, log.user_id)
        if key not in accounts:
            accounts[key] = ledger.user_account(session, log.community_id, log.user_id)
        postings.append(
            ledger.Posting(
                key=f"hours:{log.id}:approve",
                kind="earn",
                entries=((funds[log.community_id], -log.points), (accounts[key], log.points)),
                actor=act,
                reason=reason_code("hours.approved", log=log.id, minutes=log.minutes),
                ref_type="hour_log",
                ref_id=log.id,
            )
        )
        paid.append(log)
    try:
        results = ledger.post_many(session, postings)
    except ledger.LedgerError as err:
        raise _refuse(
            session,
            actor,
            "approve",
            Conflict(
                _l("The points could not be paid. Nothing was approved; please try again."), code=err.code
            ),
            community_id=todo[0].community_id,
        ) from None
    for log, res in zip(paid, results, strict=True):
        log.ledger_tx_id = res.tx_id
    per_user: dict[int, list[HourLog]] = defaultdict(list)
    for log in todo:
        log.status = HourStatus.APPROVED
        log.reviewed_by_id = actor.id
        log.reviewed_at = now
        per_user[log.user_id].append(log)
    session.flush()
    for user_id, mine in per_user.items():
        pts = sum(log.points or 0 for log in mine)
        ids = ",".join(str(log.id) for log in mine[:20])
        notify(
            session,
            user_id,
            "hours.approved",
            _l("Your hours were approved: +%(points)d 福分", points=pts),
            _l("%(n)d entries approved.", n=len(mine)),
            link="/hours/",
            dedupe_key=f"hours.approved:{ids}",
        )
    for cid in {log.community_id for log in todo}:
        batch = [log for log in todo if log.community_id == cid]
        record(
            session,
            "hours.approve",
            actor_id=actor.id,
            community_id=cid,
            count=len(batch),
            points=sum(log.points or 0 for log in batch),
            log_ids=[log.id for log in batch][:1000],
            via=via,
        )


def reject(
    session: Session, actor: User, log_ids: Sequence[int], reason: str, *, now: dt.datetime | None = None
) -> BatchResult:
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(
            session,
            actor,
            "reject",
            ServiceError(
                _l("Give a reason: the volunteer will see it."), code="reason_required", field="reason"
            ),
        )
    if len(reason) > REASON_MAX:
        raise ServiceError(
            _l("The reason is too long (at most %(n)d characters).", n=REASON_MAX),
            code="too_long",
            field="reason",
        )
    now = now or utcnow()
    logs = _load_for_review(session, actor, log_ids, "reject")
    todo = [log for log in logs if log.status == HourStatus.PENDING]
    for log in todo:
        log.status = HourStatus.REJECTED
        log.reviewed_by_id = actor.id
        log.reviewed_at = now
        log.reject_reason = reason
    session.flush()
    for log in todo:
        notify(
            session,
            log.user_id,
            "hours.rejected",
            _l("Your hours were not approved"),
            reason,
            link="/hours/",
            dedupe_key=f"hours.rejected:{log.id}",
        )
        record(
            session,
            "hours.reject",
            actor_id=actor.id,
            community_id=log.community_id,
            target=("hour_log", log.id),
            reason=reason,
        )
    return BatchResult(todo, [log for log in logs if log not in todo])


def reverse(
    session: Session, actor: User, log_id: int, reason: str, *, now: dt.datetime | None = None
) -> HourLog:
    """Undo a mistaken approval: a reversing ledger transaction, status ``reversed``."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(
            session,
            actor,
            "reverse",
            ServiceError(_l("Give a reason for the correction."), code="reason_required", field="reason"),
        )
    if len(reason) > REASON_MAX:
        raise ServiceError(
            _l("The reason is too long (at most %(n)d characters).", n=REASON_MAX),
            code="too_long",
            field="reason",
        )
    log = _load_for_review(session, actor, [log_id], "reverse")[0]
    if log.status != HourStatus.APPROVED:
        raise _refuse(
            session,
            actor,
            "reverse",
            Conflict(_l("Only approved hours can be reversed."), code="not_approved"),
            community_id=log.community_id,
            target=("hour_log", log.id),
        )
    if log.ledger_tx_id is not None:
        try:
            res = ledger.reverse(
                session,
                tx_id=log.ledger_tx_id,
                key=f"hours:{log.id}:reverse",
                actor=ledger.Actor.user(actor.id),
                reason=reason_code("hours.reversed", note=reason[:400], log=log.id),
            )
        except ledger.LedgerError as err:
            msg = (
                _l("The volunteer has already spent these points, so they cannot be taken back.")
                if err.code == "insufficient_funds"
                else _l("The points could not be taken back. Nothing was changed.")
            )
            raise _refuse(
                session,
                actor,
                "reverse",
                Conflict(msg, code=err.code),
                community_id=log.community_id,
                target=("hour_log", log.id),
            ) from None
        log.reverse_tx_id = res.tx_id
    log.status = HourStatus.REVERSED
    log.reversed_by_id = actor.id
    log.reversed_at = now or utcnow()
    log.reverse_reason = reason
    session.flush()
    notify(
        session,
        log.user_id,
        "hours.reversed",
        _l("An approval of your hours was corrected"),
        reason,
        link="/hours/",
        dedupe_key=f"hours.reversed:{log.id}",
    )
    record(
        session,
        "hours.reverse",
        actor_id=actor.id,
        community_id=log.community_id,
        target=("hour_log", log.id),
        reason=reason,
        points=log.points,
    )
    return log


# --- reads ------------------------------------------------------------------------------


def my_logs(session: Session, user_id: int, limit: int = 100) -> list[HourLog]:
    return list(
        session.scalars(
            select(HourLog)
            .where(HourLog.user_id == user_id)
            .order_by(HourLog.started_at.desc(), HourLog.id.desc())
            .limit(limit)
        )
    )


def approved_minutes(session: Session, user_id: int, year: int, community_id: int | None = None) -> int:
    start, end = year_bounds(year)
    q = select(func.coalesce(func.sum(HourLog.minutes), 0)).where(
        HourLog.user_id == user_id,
        HourLog.status == HourStatus.APPROVED,
        HourLog.started_at >= start,
        HourLog.started_at < end,
    )
    if community_id is not None:
        q = q.where(HourLog.community_id == community_id)
    return int(session.scalar(q) or 0)


# --- what the hour pages show (the views only render) --------------------------------------


def source_choices(session: Session, user_id: int) -> list[tuple[str, str, str]]:
    """What a person may report hours for: ``(value, kind, title)`` for the posts they hold
    and the wishes they fulfilled (latest 50)."""
    choices: list[tuple[str, str, str]] = []
    for claim in active_claims(session, user_id):
        post = session.get(ServicePost, claim.post_id)
        choices.append((f"post:{claim.post_id}", "post", post.title if post else str(claim.post_id)))
    wishes = session.scalars(
        select(Wish)
        .where(Wish.claimed_by_id == user_id, Wish.status.in_((WishStatus.FULFILLED, WishStatus.CONFIRMED)))
        .order_by(Wish.id.desc())
        .limit(50)
    )
    choices.extend((f"wish:{wish.id}", "wish", wish.title) for wish in wishes)
    return choices


def log_with_photo(session: Session, actor: User, log_id: int) -> HourLog:
    """The log whose photo ``actor`` may see (their own, or staff of its community); 404
    otherwise, so that existence does not leak."""
    log = session.get(HourLog, log_id)
    if log is None or not log.photo_path:
        raise NotFound(_l("This photo does not exist."), code="not_found")
    community = session.get(Community, log.community_id)
    if log.user_id != actor.id and not (community is not None and is_staff(actor, community)):
        raise NotFound(
            _l("This photo does not exist."),
            code="not_found",
            action="authz.hours.photo",
            community_id=log.community_id,
            details={"log_id": log_id},
        )
    return log


def queue_community(session: Session, actor: User, community_id: int | None) -> Community:
    """The community whose queue ``actor`` reviews: the one asked for, if they are its
    staff, else their first."""
    mine = staff_communities(session, actor)
    if not mine:
        raise Forbidden(
            _l("Only community staff can review hours."), code="not_staff", action="authz.hours.queue"
        )
    if community_id is None:
        return mine[0]
    community = session.get(Community, community_id)
    if community is None or not is_staff(actor, community):
        raise Forbidden(
            _l("Only community staff can review hours."),
            code="not_staff",
            action="authz.hours.queue",
            community_id=community_id,
        )
    return community


@dataclass(frozen=True)
class QueuePage:
    logs: list[HourLog]
    total: int
    people: dict[int, User]


def queue_page(session: Session, actor: User, flt: QueueFilter, limit: int) -> QueuePage:
    q = queue_query(session, actor, flt)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    logs = list(session.scalars(q.limit(limit)))
    people = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_({log.user_id for log in logs})))
    }
    return QueuePage(logs, int(total), people)


def matching_ids(session: Session, actor: User, flt: QueueFilter) -> list[int]:
    """Ids of the logs the filter matches (at most ``MAX_BATCH``)."""
    return list(
        session.scalars(queue_query(session, actor, flt).with_only_columns(HourLog.id).limit(MAX_BATCH))
    )


def points_of(session: Session, log_ids: Sequence[int]) -> int:
    """What approving these logs would pay now (the confirmation's total)."""
    return matching_points(session, select(HourLog).where(HourLog.id.in_(list(log_ids))))
