"""Gifts (转赠), staff grants and the time exchange (互助).

Services take plain values, a Session and the acting User; they flush, never commit.
Every points movement goes through ``ledger`` with an idempotency key derived from what
caused it (the form's ``idem_key`` for gifts and grants, the agreement id for exchange
payments), so a replayed form or a double click moves points once. Refusals raise
``ServiceError`` subclasses with translated messages and are audited with ``record_refusal``.

Ledger kinds: gifts ``gift``, grants ``grant``; exchange payments use ``transfer`` (the
ledger has no ``exchange`` kind; ``ref_type="exchange"`` tells them apart).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from core.clock import LOCAL_TZ, local_day_bounds
from core.db import utcnow
from portal.accounts.lookup import member_by_phone
from portal.audit.services import record, refused
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.exchange.models import (
    LIVE_AGREEMENT,
    TRANSITIONS,
    Agreement,
    AgreementStatus,
    Gift,
    Grant,
    GrantBatch,
    GrantCategory,
    GrantTarget,
    Listing,
    ListingKind,
    ListingStatus,
)
from portal.ledger_messages import ledger_error_message
from portal.notifications.services import notify
from portal.people.masking import mask_name
from portal.people.models import User
from portal.places.models import Community
from portal.places.services import get_community
from portal.policy import is_staff, is_street_admin
from portal.reasons import code as reason_code
from portal.settings.services import get_settings
from portal.volunteering.activities import Activity, ActivitySignup, Attendance
from portal.volunteering.teams import Team, TeamMembership

IDEM_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
NOTE_MAX = 200
REASON_MAX = 500
MAX_GRANT_RECIPIENTS = 1000
PHONE_RE = re.compile(r"^1\d{10}$")


# --- helpers -------------------------------------------------------------------------------


def _refuse(
    session: Session, actor: User | None, action: str, err: ServiceError, **where: Any
) -> ServiceError:
    return refused(session, err, f"exchange.{action}", actor=actor, **where)


def _check_idem(session: Session, actor: User, action: str, idem_key: str | None) -> str:
    key = (idem_key or "").strip()
    if not IDEM_RE.match(key):
        raise _refuse(
            session,
            actor,
            action,
            ServiceError(_l("This form has expired. Reload the page and try again."), code="bad_idem_key"),
        )
    return key


def _check_amount(
    session: Session, actor: User, action: str, amount: object, community_id: int | None
) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise _refuse(
            session,
            actor,
            action,
            ServiceError(
                _l("Enter a whole number of points greater than zero."), code="invalid_amount", field="amount"
            ),
            community_id=community_id,
            amount=str(amount)[:20],
        )
    cap = ledger.config().max_posting_amount
    if cap is not None and amount > cap:
        raise _refuse(
            session,
            actor,
            action,
            ServiceError(
                _l("At most %(n)d points at a time.", n=cap), code="amount_over_cap", field="amount"
            ),
            community_id=community_id,
            amount=amount,
        )
    return amount


def _clean(value: str | None, limit: int, field: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ServiceError(_l("Too long (at most %(n)d characters).", n=limit), code="too_long", field=field)
    return text


def _ledger_refusal(
    session: Session,
    actor: User,
    action: str,
    err: ledger.LedgerError,
    *,
    community_id: int | None,
    target: tuple[str, int] | None = None,
    message: Any = None,
) -> ServiceError:
    status = 409 if err.code in ("insufficient_funds", "already_reversed", "idempotency_conflict") else 400
    return _refuse(
        session,
        actor,
        action,
        ServiceError(message or ledger_error_message(err), code=err.code, status=status),
        community_id=community_id,
        target=target,
        ledger_code=err.code,
    )


def _community(session: Session, community_id: int) -> Community:
    return get_community(session, community_id)


def _require_staff(session: Session, actor: User, community: Community, action: str) -> None:
    if not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Only the staff of this community can do this."), code="not_staff"),
            community_id=community.id,
        )


# --- gifts (转赠) ---------------------------------------------------------------------------


def find_recipient(session: Session, actor: User, phone: str, *, action: str = "gift") -> User:
    """The member with exactly this mobile number in the giver's community."""
    phone = (phone or "").strip()
    cid = actor.community_id
    if cid is None:
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("Choose your community first: points are kept per community."), code="no_community"),
        )
    if not PHONE_RE.match(phone):
        raise ServiceError(_l("Enter an 11-digit mobile number."), code="bad_phone", field="phone")
    if phone == actor.phone:
        raise _refuse(
            session,
            actor,
            action,
            ServiceError(_l("You cannot give points to yourself."), code="self_gift", field="phone"),
            community_id=cid,
        )
    # One neutral answer for "no such number", "deactivated" and "lives elsewhere".
    return member_by_phone(
        session,
        cid,
        phone,
        actor_id=actor.id,
        action=f"exchange.{action}",
        message=_l("No member of your community has this mobile number."),
    )


def gifted_today(session: Session, giver_id: int, now: dt.datetime | None = None) -> int:
    start, end = local_day_bounds((now or utcnow()).astimezone(LOCAL_TZ).date())
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Gift.amount), 0)).where(
                Gift.giver_id == giver_id, Gift.created_at >= start, Gift.created_at < end
            )
        )
        or 0
    )


def check_gift(
    session: Session,
    actor: User,
    phone: str,
    amount: object,
    note: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> tuple[User, int, str]:
    """Validate a gift without moving points (the confirmation page). Returns
    (recipient, amount, note)."""
    recipient = find_recipient(session, actor, phone)
    cid = actor.community_id
    amount = _check_amount(session, actor, "gift", amount, cid)
    note = _clean(note, NOTE_MAX, "note")
    limit = get_settings(session, cid).gift_daily_limit  # type: ignore[arg-type]
    used = gifted_today(session, actor.id, now)
    if used + amount > limit:
        raise _refuse(
            session,
            actor,
            "gift",
            ServiceError(
                _l(
                    "Over the daily gift limit: you can still give %(left)d points today (limit %(limit)d).",
                    left=max(0, limit - used),
                    limit=limit,
                ),
                code="over_daily_limit",
                field="amount",
                status=409,
            ),
            community_id=cid,
            amount=amount,
            used=used,
            limit=limit,
        )
    acc = ledger.find_account(session, cid, f"user:{actor.id}")  # type: ignore[arg-type]
    available = ledger.available(session, acc) if acc is not None else 0
    if amount > available:
        raise _refuse(
            session,
            actor,
            "gift",
            ServiceError(
                _l("Not enough 福分 available: you have %(n)d.", n=available),
                code="insufficient_funds",
                field="amount",
                status=409,
            ),
            community_id=cid,
            amount=amount,
        )
    return recipient, amount, note


def give(
    session: Session,
    actor: User,
    phone: str,
    amount: object,
    note: str | None,
    idem_key: str,
    *,
    now: dt.datetime | None = None,
) -> Gift:
    """Give points to a member of the same community. The same ``idem_key`` returns the
    same gift (a replayed or double-submitted confirmation moves points once)."""
    key = _check_idem(session, actor, "gift", idem_key)
    existing = session.scalar(select(Gift).where(Gift.giver_id == actor.id, Gift.idem_key == key))
    if existing is not None:
        return _replayed_gift(session, actor, existing, phone, amount)
    # Serialise one giver's gifts (PostgreSQL FOR NO KEY UPDATE: it does not block the
    # foreign-key checks of gifts *to* this person, which deadlocked with plain FOR UPDATE;
    # SQLite writers are serialised by BEGIN IMMEDIATE) so the daily sum cannot be raced past the limit.
    session.scalar(select(User.id).where(User.id == actor.id).with_for_update(key_share=True))
    existing = session.scalar(
        select(Gift)
        .where(Gift.giver_id == actor.id, Gift.idem_key == key)
        .execution_options(populate_existing=True)
    )
    if existing is not None:
        return _replayed_gift(session, actor, existing, phone, amount)
    recipient, amount, note = check_gift(session, actor, phone, amount, note, now=now)
    cid: int = actor.community_id  # type: ignore[assignment]
    giver_acc = ledger.user_account(session, cid, actor.id)
    to_acc = ledger.user_account(session, cid, recipient.id)
    reason = reason_code(
        "gift",
        note=note[:300] if note else None,
        **{"from": mask_name(actor.display_name), "to": mask_name(recipient.display_name)},
    )
    try:
        res = ledger.transfer(
            session,
            key=f"gift:{actor.id}:{key}",
            from_account=giver_acc,
            to_account=to_acc,
            amount=amount,
            actor=ledger.Actor.user(actor.id),
            reason=reason[:500],
            kind="gift",
            ref_type="gift",
        )
    except ledger.LedgerError as err:
        raise _ledger_refusal(session, actor, "gift", err, community_id=cid) from None
    gift = Gift(
        community_id=cid,
        giver_id=actor.id,
        recipient_id=recipient.id,
        amount=amount,
        note=note,
        idem_key=key,
        ledger_tx_id=res.tx_id,
        created_at=now or utcnow(),
    )
    session.add(gift)
    session.flush()
    notify(
        session,
        recipient.id,
        "exchange.gift_received",
        _l("You received %(n)d 福分 from %(who)s", n=amount, who=mask_name(actor.display_name)),
        note,
        link="/points",
        dedupe_key=f"gift:{gift.id}:to",
    )
    notify(
        session,
        actor.id,
        "exchange.gift_sent",
        _l("You gave %(n)d 福分 to %(who)s", n=amount, who=mask_name(recipient.display_name)),
        note,
        link="/points",
        dedupe_key=f"gift:{gift.id}:from",
    )
    record(
        session,
        "exchange.gift",
        actor_id=actor.id,
        community_id=cid,
        target=("gift", gift.id),
        recipient_id=recipient.id,
        amount=amount,
        tx_id=res.tx_id,
    )
    return gift


def _replayed_gift(session: Session, actor: User, gift: Gift, phone: str, amount: object) -> Gift:
    recipient = session.get(User, gift.recipient_id)
    if recipient is None or recipient.phone != (phone or "").strip() or gift.amount != amount:
        raise _refuse(
            session,
            actor,
            "gift",
            Conflict(
                _l("This form was already submitted with different details. Reload the page and try again."),
                code="idempotency_conflict",
            ),
            community_id=gift.community_id,
            target=("gift", gift.id),
        )
    return gift


def my_gifts(session: Session, user_id: int, limit: int = 20) -> list[Gift]:
    return list(
        session.scalars(
            select(Gift)
            .where((Gift.giver_id == user_id) | (Gift.recipient_id == user_id))
            .order_by(Gift.id.desc())
            .limit(limit)
        )
    )


# --- staff grants -------------------------------------------------------------------------

CATEGORY_LABELS = {
    GrantCategory.MEDIATION: _l("Mediation (调解)"),
    GrantCategory.HARDSHIP: _l("Hardship help (扶贫帮困)"),
    GrantCategory.CIVIC: _l("Civic practice (文明实践)"),
    GrantCategory.OTHER: _l("Other"),
}


def grant_recipients(
    session: Session,
    actor: User,
    community: Community,
    target: GrantTarget,
    *,
    target_id: int | None = None,
    phone: str | None = None,
) -> list[int]:
    """User ids a grant goes to: one person (by mobile number, a member of the community),
    the present attendees of an activity, or the live members of a team. Staff never
    grant to themselves (a batch simply leaves them out)."""
    if target == GrantTarget.PERSON:
        phone = (phone or "").strip()
        if not PHONE_RE.match(phone):
            raise ServiceError(_l("Enter an 11-digit mobile number."), code="bad_phone", field="phone")
        if phone == actor.phone:
            raise _refuse(
                session,
                actor,
                "grant",
                Forbidden(_l("You cannot grant points to yourself."), code="self_grant", field="phone"),
                community_id=community.id,
            )
        return [member_by_phone(session, community.id, phone, actor_id=actor.id, action="exchange.grant").id]
    if target == GrantTarget.ACTIVITY:
        activity = session.get(Activity, target_id) if target_id else None
        if activity is None or activity.community_id != community.id:
            raise _refuse(
                session,
                actor,
                "grant",
                NotFound(_l("This activity does not exist in this community."), code="activity_not_found"),
                community_id=community.id,
                target_id=target_id,
            )
        ids = session.scalars(
            select(ActivitySignup.user_id).where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.attendance == Attendance.PRESENT
            )
        )
    elif target == GrantTarget.TEAM:
        team = session.get(Team, target_id) if target_id else None
        if team is None or team.community_id != community.id:
            raise _refuse(
                session,
                actor,
                "grant",
                NotFound(_l("This team does not exist in this community."), code="team_not_found"),
                community_id=community.id,
                target_id=target_id,
            )
        ids = session.scalars(
            select(TeamMembership.user_id).where(
                TeamMembership.team_id == team.id, TeamMembership.left_at.is_(None)
            )
        )
    else:  # pragma: no cover - enum
        raise ServiceError(_l("Choose who receives the points."), code="bad_target")
    active = set(session.scalars(select(User.id).where(User.id.in_(set(ids)), User.is_active.is_(True))))
    return sorted(active - {actor.id})


def grant(
    session: Session,
    actor: User,
    community_id: int,
    *,
    target: GrantTarget | str,
    amount: object,
    category: GrantCategory | str,
    reason: str | None,
    idem_key: str,
    target_id: int | None = None,
    phone: str | None = None,
) -> GrantBatch:
    """Grant points from the community fund to one or many people in one transaction
    (``ledger.post_many``). The same ``idem_key`` returns the same batch."""
    community = _community(session, community_id)
    _require_staff(session, actor, community, "grant")
    key = _check_idem(session, actor, "grant", idem_key)
    existing = session.scalar(
        select(GrantBatch).where(GrantBatch.staff_id == actor.id, GrantBatch.idem_key == key)
    )
    if existing is not None:
        if existing.community_id != community.id or existing.amount != amount:
            raise _refuse(
                session,
                actor,
                "grant",
                Conflict(
                    _l(
                        "This form was already submitted with different details. Reload the page and try again."  # noqa: E501
                    ),
                    code="idempotency_conflict",
                ),
                community_id=community.id,
            )
        return existing
    try:
        category = GrantCategory(category)
        target = GrantTarget(target)
    except ValueError:
        raise _refuse(
            session,
            actor,
            "grant",
            ServiceError(_l("Choose a reason category."), code="bad_category", field="category"),
            community_id=community.id,
        ) from None
    amount = _check_amount(session, actor, "grant", amount, community.id)
    reason = _clean(reason, REASON_MAX, "reason")
    if category == GrantCategory.OTHER and not reason:
        raise _refuse(
            session,
            actor,
            "grant",
            ServiceError(
                _l("Describe the reason when the category is Other."), code="reason_required", field="reason"
            ),
            community_id=community.id,
        )
    recipients = grant_recipients(session, actor, community, target, target_id=target_id, phone=phone)
    if not recipients:
        raise _refuse(
            session,
            actor,
            "grant",
            ServiceError(
                _l(
                    "Nobody to grant to: the activity has no present attendees or the team has no members "
                    "(other than you)."
                ),
                code="no_recipients",
            ),
            community_id=community.id,
        )
    if len(recipients) > MAX_GRANT_RECIPIENTS:
        raise ServiceError(
            _l("Too many people at once (at most %(n)d).", n=MAX_GRANT_RECIPIENTS), code="too_many"
        )
    batch = GrantBatch(
        community_id=community.id,
        staff_id=actor.id,
        category=category,
        reason=reason,
        amount=amount,
        target_type=target,
        target_id=target_id if target != GrantTarget.PERSON else None,
        idem_key=key,
    )
    session.add(batch)
    session.flush()
    fund = ledger.community_fund(session, community.id)
    act = ledger.Actor.user(actor.id)
    text = reason_code("grant", note=reason[:400] if reason else None, category=category.value)
    postings = [
        ledger.Posting(
            key=f"grant:{community.id}:{key}:{uid}",
            kind="grant",
            entries=((fund, -amount), (ledger.user_account(session, community.id, uid), amount)),
            actor=act,
            reason=text[:500],
            ref_type="grant_batch",
            ref_id=batch.id,
        )
        for uid in recipients
    ]
    try:
        results = ledger.post_many(session, postings)
    except ledger.LedgerError as err:
        raise _ledger_refusal(session, actor, "grant", err, community_id=community.id) from None
    for uid, res in zip(recipients, results, strict=True):
        session.add(
            Grant(
                batch_id=batch.id,
                community_id=community.id,
                staff_id=actor.id,
                recipient_id=uid,
                amount=amount,
                ledger_tx_id=res.tx_id,
            )
        )
    session.flush()
    for uid in recipients:
        notify(
            session,
            uid,
            "exchange.grant",
            _l("You received %(n)d 福分 from your community", n=amount),
            _l("%(category)s: %(reason)s", category=CATEGORY_LABELS[category], reason=reason)
            if reason
            else CATEGORY_LABELS[category],
            link="/points",
            dedupe_key=f"grant:{batch.id}:{uid}",
        )
    record(
        session,
        "exchange.grant",
        actor_id=actor.id,
        community_id=community.id,
        target=("grant_batch", batch.id),
        category=category.value,
        amount=amount,
        recipients=len(recipients),
        target_type=target.value,
        target_id=target_id,
        reason=reason,
    )
    return batch


def reverse_grant(
    session: Session,
    actor: User,
    grant_id: int,
    reason: str,
    idem_key: str,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> Grant:
    """Correct a mistaken grant with a reversing ledger transaction. Refused when the
    recipient has already spent the points, unless a street admin forces it (the
    recipient then carries a recorded debt)."""
    g = session.get(Grant, grant_id)
    if g is None:
        raise _refuse(
            session,
            actor,
            "grant.reverse",
            NotFound(_l("This grant does not exist."), code="grant_not_found"),
            grant_id=grant_id,
        )
    community = _community(session, g.community_id)
    _require_staff(session, actor, community, "grant.reverse")
    key = _check_idem(session, actor, "grant.reverse", idem_key)
    reason = _clean(reason, REASON_MAX, "reason")
    if not reason:
        raise _refuse(
            session,
            actor,
            "grant.reverse",
            ServiceError(_l("Give a reason for the correction."), code="reason_required", field="reason"),
            community_id=community.id,
            target=("grant", g.id),
        )
    if force and not is_street_admin(actor, community.street_id):
        raise _refuse(
            session,
            actor,
            "grant.reverse",
            Forbidden(_l("Only a street administrator can force a correction."), code="force_not_allowed"),
            community_id=community.id,
            target=("grant", g.id),
        )
    if g.reversed_at is not None:
        raise _refuse(
            session,
            actor,
            "grant.reverse",
            Conflict(_l("This grant has already been corrected."), code="already_reversed"),
            community_id=community.id,
            target=("grant", g.id),
        )
    try:
        res = ledger.reverse(
            session,
            tx_id=g.ledger_tx_id,
            key=f"grant:{g.id}:reverse:{key}",
            actor=ledger.Actor.user(actor.id),
            reason=reason_code("grant.corrected", note=reason[:400], grant=g.id),
            force=force,
        )
    except ledger.LedgerError as err:
        msg = (
            _l(
                "The recipient has already spent these points, so they cannot be taken back. "
                "A street administrator can force the correction."
            )
            if err.code == "insufficient_funds"
            else None
        )
        raise _ledger_refusal(
            session,
            actor,
            "grant.reverse",
            err,
            community_id=community.id,
            target=("grant", g.id),
            message=msg,
        ) from None
    g.reverse_tx_id = res.tx_id
    g.reversed_at = now or utcnow()
    g.reversed_by_id = actor.id
    g.reverse_reason = reason
    g.forced = force
    session.flush()
    notify(
        session,
        g.recipient_id,
        "exchange.grant_reversed",
        _l("A grant of 福分 to you was corrected"),
        reason,
        link="/points",
        dedupe_key=f"grant:{g.id}:reversed",
    )
    record(
        session,
        "exchange.grant.reverse",
        actor_id=actor.id,
        community_id=community.id,
        target=("grant", g.id),
        reason=reason,
        forced=force,
        amount=g.amount,
        tx_id=res.tx_id,
    )
    return g


def grant_history(session: Session, actor: User, community_id: int, limit: int = 100) -> list[GrantBatch]:
    community = _community(session, community_id)
    _require_staff(session, actor, community, "grant.history")
    return list(
        session.scalars(
            select(GrantBatch)
            .where(GrantBatch.community_id == community.id)
            .order_by(GrantBatch.id.desc())
            .limit(limit)
        )
    )


def grant_targets(session: Session, community_id: int) -> tuple[list[Activity], list[Team]]:
    activities = list(
        session.scalars(
            select(Activity)
            .where(Activity.community_id == community_id)
            .order_by(Activity.starts_at.desc())
            .limit(50)
        )
    )
    teams = list(
        session.scalars(
            select(Team)
            .where(Team.community_id == community_id, Team.is_active.is_(True))
            .order_by(Team.name)
        )
    )
    return activities, teams


# --- time exchange (互助) ------------------------------------------------------------------


def exchange_points(minutes: int, rate: int) -> int:
    """Points for ``minutes`` of help at ``rate`` points per hour, rounded to the nearest
    point (halves up), at least 1."""
    return max(1, (minutes * rate + 30) // 60)


def create_listing(
    session: Session, actor: User, kind: ListingKind | str, title: str, description: str, est_minutes: object
) -> Listing:
    if actor.community_id is None:
        raise _refuse(
            session,
            actor,
            "listing",
            Forbidden(_l("Choose your community first: points are kept per community."), code="no_community"),
        )
    try:
        kind = ListingKind(kind)
    except ValueError:
        raise ServiceError(_l("Choose offer or request."), code="bad_kind", field="kind") from None
    title = _clean(title, 80, "title")
    if not title:
        raise ServiceError(_l("Give a short title."), code="title_required", field="title")
    description = _clean(description, 2000, "description")
    if not isinstance(est_minutes, int) or isinstance(est_minutes, bool) or not 30 <= est_minutes <= 6000:
        raise ServiceError(
            _l("Estimated time: between half an hour and 100 hours."), code="bad_hours", field="est_hours"
        )
    listing = Listing(
        community_id=actor.community_id,
        owner_id=actor.id,
        kind=kind,
        title=title,
        description=description,
        est_minutes=est_minutes,
    )
    session.add(listing)
    session.flush()
    record(
        session,
        "exchange.listing",
        actor_id=actor.id,
        community_id=listing.community_id,
        target=("listing", listing.id),
        kind=kind.value,
    )
    return listing


def _listing_for_member(
    session: Session, actor: User, listing_id: int, action: str, *, lock: bool = False
) -> Listing:
    q = select(Listing).where(Listing.id == listing_id)
    if lock:
        q = q.with_for_update(key_share=True).execution_options(populate_existing=True)
    listing = session.scalar(q)
    if listing is None or listing.community_id != actor.community_id:
        # Another community's listing is answered like a missing one (no IDOR).
        raise _refuse(
            session,
            actor,
            action,
            NotFound(_l("This listing does not exist."), code="listing_not_found"),
            listing_id=listing_id,
        )
    return listing


def open_listings(session: Session, actor: User, limit: int = 100) -> list[Listing]:
    if actor.community_id is None:
        return []
    return list(
        session.scalars(
            select(Listing)
            .where(Listing.community_id == actor.community_id, Listing.status == ListingStatus.OPEN)
            .order_by(Listing.id.desc())
            .limit(limit)
        )
    )


def get_listing(session: Session, actor: User, listing_id: int) -> Listing:
    return _listing_for_member(session, actor, listing_id, "listing.view")


def close_listing(session: Session, actor: User, listing_id: int) -> Listing:
    listing = _listing_for_member(session, actor, listing_id, "listing.close", lock=True)
    if listing.owner_id != actor.id:
        raise _refuse(
            session,
            actor,
            "listing.close",
            Forbidden(_l("Only the person who posted this can withdraw it."), code="not_owner"),
            community_id=listing.community_id,
            target=("listing", listing.id),
        )
    if listing.status != ListingStatus.OPEN:
        raise Conflict(_l("This listing is no longer open."), code="not_open")
    listing.status = ListingStatus.CLOSED
    session.flush()
    record(
        session,
        "exchange.listing.close",
        actor_id=actor.id,
        community_id=listing.community_id,
        target=("listing", listing.id),
    )
    return listing


def respond(session: Session, actor: User, listing_id: int) -> Agreement:
    """Take a request (you become the provider) or ask for an offer (you become the
    receiver). Nobody can take their own listing."""
    listing = _listing_for_member(session, actor, listing_id, "respond", lock=True)
    cid = listing.community_id
    if listing.owner_id == actor.id:
        raise _refuse(
            session,
            actor,
            "respond",
            ServiceError(_l("You cannot take your own listing."), code="own_listing", status=403),
            community_id=cid,
            target=("listing", listing.id),
        )
    if listing.status != ListingStatus.OPEN:
        raise _refuse(
            session,
            actor,
            "respond",
            Conflict(_l("This listing is no longer open."), code="not_open"),
            community_id=cid,
            target=("listing", listing.id),
        )
    if listing.kind == ListingKind.REQUEST:
        receiver_id, provider_id = listing.owner_id, actor.id
        listing.status = ListingStatus.TAKEN
    else:
        receiver_id, provider_id = actor.id, listing.owner_id
        live = session.scalar(
            select(Agreement.id).where(
                Agreement.listing_id == listing.id,
                Agreement.receiver_id == actor.id,
                Agreement.status.in_(LIVE_AGREEMENT),
            )
        )
        if live is not None:
            raise _refuse(
                session,
                actor,
                "respond",
                Conflict(_l("You already asked for this offer."), code="already_asked"),
                community_id=cid,
                target=("listing", listing.id),
            )
    agreement = Agreement(
        community_id=cid, listing_id=listing.id, receiver_id=receiver_id, provider_id=provider_id
    )
    session.add(agreement)
    session.flush()
    other = listing.owner_id
    notify(
        session,
        other,
        "exchange.agreement",
        _l("%(who)s responded to “%(t)s”", who=mask_name(actor.display_name), t=listing.title),
        link=f"/exchange/agreements/{agreement.id}",
        dedupe_key=f"agreement:{agreement.id}:new",
    )
    record(
        session,
        "exchange.respond",
        actor_id=actor.id,
        community_id=cid,
        target=("agreement", agreement.id),
        listing_id=listing.id,
    )
    return agreement


def _agreement(
    session: Session, actor: User, agreement_id: int, action: str, *, lock: bool = True
) -> Agreement:
    q = select(Agreement).where(Agreement.id == agreement_id)
    if lock:
        q = q.with_for_update(key_share=True).execution_options(populate_existing=True)
    agreement = session.scalar(q)
    if agreement is None:
        raise _refuse(
            session,
            actor,
            action,
            NotFound(_l("This agreement does not exist."), code="agreement_not_found"),
            agreement_id=agreement_id,
        )
    return agreement


def get_agreement(session: Session, actor: User, agreement_id: int) -> Agreement:
    """For its receiver, its provider and the staff of its community."""
    agreement = _agreement(session, actor, agreement_id, "agreement.view", lock=False)
    if actor.id not in (agreement.receiver_id, agreement.provider_id):
        community = _community(session, agreement.community_id)
        if not is_staff(actor, community):
            raise _refuse(
                session,
                actor,
                "agreement.view",
                NotFound(_l("This agreement does not exist."), code="agreement_not_found"),
                community_id=agreement.community_id,
                target=("agreement", agreement.id),
            )
    return agreement


def _move(session: Session, actor: User, agreement: Agreement, to: AgreementStatus, action: str) -> None:
    if to not in TRANSITIONS[agreement.status]:
        messages = {
            AgreementStatus.PAID: _l("This agreement has already been paid."),
            AgreementStatus.RESOLVED: _l("This dispute has already been resolved."),
            AgreementStatus.CANCELLED: _l("This agreement was cancelled."),
        }
        msg = messages.get(agreement.status, _l("This step is not possible now."))
        raise _refuse(
            session,
            actor,
            action,
            Conflict(msg, code="bad_state"),
            community_id=agreement.community_id,
            target=("agreement", agreement.id),
            status=agreement.status.value,
            to=to.value,
        )


def _party(session: Session, actor: User, agreement: Agreement, who: str, action: str) -> None:
    expected = agreement.receiver_id if who == "receiver" else agreement.provider_id
    if actor.id != expected:
        msg = (
            _l("Only the person who received the help can do this.")
            if who == "receiver"
            else _l("Only the person who gave the help can do this.")
        )
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(msg, code=f"not_{who}"),
            community_id=agreement.community_id,
            target=("agreement", agreement.id),
        )


def cancel_agreement(
    session: Session, actor: User, agreement_id: int, *, now: dt.datetime | None = None
) -> Agreement:
    agreement = _agreement(session, actor, agreement_id, "cancel")
    if actor.id not in (agreement.receiver_id, agreement.provider_id):
        raise _refuse(
            session,
            actor,
            "cancel",
            Forbidden(_l("This is not your agreement."), code="not_party"),
            community_id=agreement.community_id,
            target=("agreement", agreement.id),
        )
    if agreement.status != AgreementStatus.ACTIVE:  # after the work is reported only staff cancel
        raise _refuse(
            session,
            actor,
            "cancel",
            Conflict(_l("This agreement can no longer be cancelled."), code="bad_state"),
            community_id=agreement.community_id,
            target=("agreement", agreement.id),
        )
    _move(session, actor, agreement, AgreementStatus.CANCELLED, "cancel")
    agreement.status = AgreementStatus.CANCELLED
    agreement.closed_at = now or utcnow()
    listing = session.get(Listing, agreement.listing_id)
    if listing is not None and listing.status == ListingStatus.TAKEN:
        listing.status = ListingStatus.OPEN
    session.flush()
    other = agreement.provider_id if actor.id == agreement.receiver_id else agreement.receiver_id
    notify(
        session,
        other,
        "exchange.cancelled",
        _l("An exchange agreement was cancelled"),
        link=f"/exchange/agreements/{agreement.id}",
        dedupe_key=f"agreement:{agreement.id}:cancelled",
    )
    record(
        session,
        "exchange.cancel",
        actor_id=actor.id,
        community_id=agreement.community_id,
        target=("agreement", agreement.id),
    )
    return agreement


def mark_done(
    session: Session, actor: User, agreement_id: int, minutes: object, *, now: dt.datetime | None = None
) -> Agreement:
    agreement = _agreement(session, actor, agreement_id, "done")
    _party(session, actor, agreement, "provider", "done")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 6000:
        raise ServiceError(_l("Hours: more than zero and at most 100."), code="bad_hours", field="hours")
    _move(session, actor, agreement, AgreementStatus.DONE, "done")
    agreement.reported_minutes = minutes
    agreement.status = AgreementStatus.DONE
    agreement.done_at = now or utcnow()
    session.flush()
    notify(
        session,
        agreement.receiver_id,
        "exchange.done",
        _l("The help is done: please confirm and pay, or open a dispute"),
        link=f"/exchange/agreements/{agreement.id}",
        dedupe_key=f"agreement:{agreement.id}:done",
    )
    record(
        session,
        "exchange.done",
        actor_id=actor.id,
        community_id=agreement.community_id,
        target=("agreement", agreement.id),
        minutes=minutes,
    )
    return agreement


def _pay(session: Session, actor: User, agreement: Agreement, minutes: int, action: str, suffix: str) -> int:
    rate = get_settings(session, agreement.community_id).exchange_points_per_hour
    points = exchange_points(minutes, rate)
    cid = agreement.community_id
    try:
        res = ledger.transfer(
            session,
            key=f"exchange:{agreement.id}:{suffix}",
            from_account=ledger.user_account(session, cid, agreement.receiver_id),
            to_account=ledger.user_account(session, cid, agreement.provider_id),
            amount=points,
            actor=ledger.Actor.user(actor.id),
            kind="transfer",
            ref_type="exchange",
            ref_id=agreement.id,
            reason=reason_code("mutual_help", agreement=agreement.id, minutes=minutes, rate=rate),
        )
    except ledger.LedgerError as err:
        msg = (
            _l("Not enough 福分 available to pay %(n)d points.", n=points)
            if err.code == "insufficient_funds"
            else None
        )
        raise _ledger_refusal(
            session, actor, action, err, community_id=cid, target=("agreement", agreement.id), message=msg
        ) from None
    agreement.paid_minutes = minutes
    agreement.rate = rate
    agreement.points = points
    agreement.ledger_tx_id = res.tx_id
    return points


def approve_and_pay(
    session: Session, actor: User, agreement_id: int, *, now: dt.datetime | None = None
) -> Agreement:
    """The receiver approves the reported hours and pays from their own balance."""
    agreement = _agreement(session, actor, agreement_id, "pay")
    _party(session, actor, agreement, "receiver", "pay")
    _move(session, actor, agreement, AgreementStatus.PAID, "pay")
    points = _pay(session, actor, agreement, agreement.reported_minutes or 0, "pay", "pay")
    agreement.status = AgreementStatus.PAID
    agreement.closed_at = now or utcnow()
    session.flush()
    notify(
        session,
        agreement.provider_id,
        "exchange.paid",
        _l("You were paid %(n)d 福分 for your help", n=points),
        link=f"/exchange/agreements/{agreement.id}",
        dedupe_key=f"agreement:{agreement.id}:paid",
    )
    record(
        session,
        "exchange.pay",
        actor_id=actor.id,
        community_id=agreement.community_id,
        target=("agreement", agreement.id),
        points=points,
        minutes=agreement.paid_minutes,
    )
    return agreement


def dispute(session: Session, actor: User, agreement_id: int, reason: str) -> Agreement:
    agreement = _agreement(session, actor, agreement_id, "dispute")
    _party(session, actor, agreement, "receiver", "dispute")
    reason = _clean(reason, REASON_MAX, "reason")
    if not reason:
        raise ServiceError(
            _l("Say what is wrong: staff will read it."), code="reason_required", field="reason"
        )
    _move(session, actor, agreement, AgreementStatus.DISPUTED, "dispute")
    agreement.dispute_reason = reason
    agreement.status = AgreementStatus.DISPUTED
    session.flush()
    notify(
        session,
        agreement.provider_id,
        "exchange.disputed",
        _l("The receiver disputed the reported hours; community staff will decide"),
        reason,
        link=f"/exchange/agreements/{agreement.id}",
        dedupe_key=f"agreement:{agreement.id}:disputed",
    )
    record(
        session,
        "exchange.dispute",
        actor_id=actor.id,
        community_id=agreement.community_id,
        target=("agreement", agreement.id),
        reason=reason,
    )
    return agreement


def resolve(
    session: Session,
    actor: User,
    agreement_id: int,
    *,
    minutes: int | None,
    note: str,
    now: dt.datetime | None = None,
) -> Agreement:
    """Staff decide a dispute: pay ``minutes`` from the receiver to the provider, or cancel
    (``minutes=None``)."""
    agreement = _agreement(session, actor, agreement_id, "resolve")
    community = _community(session, agreement.community_id)
    _require_staff(session, actor, community, "resolve")
    if actor.id in (agreement.receiver_id, agreement.provider_id):
        raise _refuse(
            session,
            actor,
            "resolve",
            Forbidden(
                _l("You are part of this agreement: another staff member must decide."), code="own_dispute"
            ),
            community_id=community.id,
            target=("agreement", agreement.id),
        )
    note = _clean(note, REASON_MAX, "note")
    if not note:
        raise ServiceError(
            _l("Explain the decision: both people will see it."), code="reason_required", field="note"
        )
    if minutes is None:
        _move(session, actor, agreement, AgreementStatus.CANCELLED, "resolve")
        agreement.status = AgreementStatus.CANCELLED
        points = 0
    else:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 6000:
            raise ServiceError(_l("Hours: more than zero and at most 100."), code="bad_hours", field="hours")
        _move(session, actor, agreement, AgreementStatus.RESOLVED, "resolve")
        points = _pay(session, actor, agreement, minutes, "resolve", "resolve")
        agreement.status = AgreementStatus.RESOLVED
    agreement.resolution_note = note
    agreement.resolved_by_id = actor.id
    agreement.closed_at = now or utcnow()
    session.flush()
    title = (
        str(_l("Staff decided the dispute: %(n)d 福分 paid", n=points))
        if points
        else str(_l("Staff cancelled the disputed agreement"))
    )
    for uid in (agreement.receiver_id, agreement.provider_id):
        notify(
            session,
            uid,
            "exchange.resolved",
            title,
            note,
            link=f"/exchange/agreements/{agreement.id}",
            dedupe_key=f"agreement:{agreement.id}:resolved:{uid}",
        )
    record(
        session,
        "exchange.resolve",
        actor_id=actor.id,
        community_id=community.id,
        target=("agreement", agreement.id),
        minutes=minutes,
        points=points,
        note=note,
    )
    return agreement


def my_agreements(session: Session, user_id: int, limit: int = 50) -> list[Agreement]:
    return list(
        session.scalars(
            select(Agreement)
            .where((Agreement.receiver_id == user_id) | (Agreement.provider_id == user_id))
            .order_by(Agreement.id.desc())
            .limit(limit)
        )
    )


def my_listings(session: Session, user_id: int, limit: int = 50) -> list[Listing]:
    return list(
        session.scalars(
            select(Listing).where(Listing.owner_id == user_id).order_by(Listing.id.desc()).limit(limit)
        )
    )


def disputes(session: Session, actor: User, community_id: int) -> list[Agreement]:
    community = _community(session, community_id)
    _require_staff(session, actor, community, "disputes")
    return list(
        session.scalars(
            select(Agreement)
            .where(Agreement.community_id == community.id, Agreement.status == AgreementStatus.DISPUTED)
            .order_by(Agreement.id)
        )
    )


def staff_community_list(session: Session, actor: User) -> Sequence[Community]:
    from portal.policy import staff_communities

    return staff_communities(session, actor)
