"""微心愿 services: post, claim (as a person or for a team), fulfil, confirm and rate,
withdraw, and release claims left unfulfilled for ``wish_claim_days``.

Points: fulfilling a wish creates a *pending* hour log (source ``wish``) for the claimer
with the time they spent. Staff only see and approve it after the requester has
confirmed the wish (``portal.volunteering.hour_logs`` holds it back until then), so no points
are earned without the requester's confirmation, and the usual hour rules apply
(no future, no overlap, daily cap, nobody approves their own).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.audit.services import record, refused
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.notifications.services import notify
from portal.people.models import User
from portal.places.models import Community
from portal.places.services import get_community
from portal.policy import is_member, is_staff
from portal.settings.services import get_settings
from portal.volunteering.wishes import WISH_CATEGORIES, Wish, WishStatus

TITLE_MAX = 80
TEXT_MAX = 1000


def _refuse(
    session: Session, actor: User, action: str, err: ServiceError, wish: Wish | None = None, **detail: Any
) -> ServiceError:
    where = {"community_id": wish.community_id, "target": ("wish", wish.id)} if wish else {}
    return refused(session, err, f"wishes.{action}", actor=actor, **where, **detail)


def _community(session: Session, community_id: int) -> Community:
    return get_community(session, community_id)


def get_wish(
    session: Session, actor: User, wish_id: int, action: str = "view", *, lock: bool = False
) -> Wish:
    """The wish, if ``actor`` belongs to its community (else 404 — no IDOR)."""
    q = select(Wish).where(Wish.id == wish_id)
    wish = session.scalar(q.with_for_update(key_share=True) if lock else q)
    if wish is None or not is_member(actor, _community(session, wish.community_id)):
        raise _refuse(
            session,
            actor,
            action,
            NotFound(_l("This wish does not exist."), code="not_found"),
            wish_id=wish_id,
        )
    return wish


def create_wish(
    session: Session,
    actor: User,
    *,
    community_id: int,
    title: str,
    description: str,
    category: str,
    due_date: dt.date | None = None,
    requester_id: int | None = None,
    today: dt.date | None = None,
) -> Wish:
    community = _community(session, community_id)
    requester = actor
    if requester_id is not None and requester_id != actor.id:
        if not is_staff(actor, community):
            raise _refuse(
                session,
                actor,
                "create",
                Forbidden(_l("Only staff can post a wish for someone else."), code="not_staff"),
                community_id=community_id,
            )
        person = session.get(User, requester_id)
        if person is None or not person.is_active or not is_member(person, community):
            raise ServiceError(
                _l("This person is not a member of this community."), code="not_member", field="requester"
            )
        requester = person
    elif not is_member(actor, community):
        raise _refuse(
            session,
            actor,
            "create",
            Forbidden(_l("You are not a member of this community."), code="not_member"),
            community_id=community_id,
        )
    title = (title or "").strip()
    description = (description or "").strip()
    if not title:
        raise ServiceError(_l("Give your wish a title."), code="required", field="title")
    if len(title) > TITLE_MAX or len(description) > TEXT_MAX:
        raise ServiceError(_l("The text is too long."), code="too_long", field="title")
    if category not in WISH_CATEGORIES:
        raise ServiceError(_l("Choose a category."), code="bad_category", field="category")
    today = today or utcnow().date()
    if due_date is not None and due_date < today:
        raise ServiceError(_l("The date cannot be in the past."), code="past_due", field="due_date")
    wish = Wish(
        community_id=community.id,
        requester_id=requester.id,
        created_by_id=actor.id,
        title=title,
        description=description,
        category=category,
        due_date=due_date,
        status=WishStatus.OPEN,
    )
    session.add(wish)
    session.flush()
    record(
        session,
        "wishes.create",
        actor_id=actor.id,
        community_id=community.id,
        target=("wish", wish.id),
        on_behalf=requester.id != actor.id,
    )
    return wish


def claim_wish(
    session: Session, actor: User, wish_id: int, *, team_id: int | None = None, now: dt.datetime | None = None
) -> Wish:
    wish = get_wish(session, actor, wish_id, "claim", lock=True)
    if wish.requester_id == actor.id:
        raise _refuse(
            session, actor, "claim", Forbidden(_l("You cannot claim your own wish."), code="own_wish"), wish
        )
    if wish.status != WishStatus.OPEN:
        raise _refuse(
            session, actor, "claim", Conflict(_l("This wish is no longer open."), code="not_open"), wish
        )
    if team_id is not None:
        from portal.volunteering.rules import active_team_ids

        if team_id not in active_team_ids(session, actor.id):
            raise _refuse(
                session,
                actor,
                "claim",
                Forbidden(_l("You are not a member of this team."), code="not_team_member"),
                wish,
                team_id=team_id,
            )
    wish.status = WishStatus.CLAIMED
    wish.claimed_by_id = actor.id
    wish.team_id = team_id
    wish.claimed_at = now or utcnow()
    session.flush()
    notify(
        session,
        wish.requester_id,
        "wish.claimed",
        _l("Someone claimed your wish"),
        wish.title,
        link=f"/wishes/{wish.id}",
        dedupe_key=f"wish.claimed:{wish.id}:{wish.claimed_at.isoformat()}",
    )
    record(
        session,
        "wishes.claim",
        actor_id=actor.id,
        community_id=wish.community_id,
        target=("wish", wish.id),
        team_id=team_id,
    )
    return wish


def fulfil_wish(
    session: Session,
    actor: User,
    wish_id: int,
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    note: str,
    now: dt.datetime | None = None,
) -> Wish:
    """The claimer marks the wish done and says when they worked on it (a pending hour log
    that staff can approve once the requester confirms)."""
    from portal.volunteering.recording import record_hours

    wish = get_wish(session, actor, wish_id, "fulfil", lock=True)
    if wish.claimed_by_id != actor.id or wish.status != WishStatus.CLAIMED:
        raise _refuse(
            session,
            actor,
            "fulfil",
            Conflict(_l("Only the person who claimed this wish can mark it done."), code="not_claimer"),
            wish,
        )
    note = (note or "").strip()
    if len(note) > 500:
        raise ServiceError(_l("The text is too long."), code="too_long", field="note")
    now = now or utcnow()
    log = record_hours(
        session,
        user_id=actor.id,
        community_id=wish.community_id,
        source="wish",
        source_id=wish.id,
        started_at=started_at,
        ended_at=ended_at,
        description=note or wish.title,
        reported_by=actor,
        now=now,
    )
    wish.status = WishStatus.FULFILLED
    wish.fulfilled_at = now
    wish.fulfil_note = note
    wish.fulfil_minutes = log.minutes
    session.flush()
    notify(
        session,
        wish.requester_id,
        "wish.fulfilled",
        _l("Your wish was fulfilled: please confirm"),
        wish.title,
        link=f"/wishes/{wish.id}",
        dedupe_key=f"wish.fulfilled:{wish.id}",
    )
    record(
        session,
        "wishes.fulfil",
        actor_id=actor.id,
        community_id=wish.community_id,
        target=("wish", wish.id),
        hour_log_id=log.id,
    )
    return wish


def confirm_wish(
    session: Session,
    actor: User,
    wish_id: int,
    *,
    rating: int,
    comment: str = "",
    now: dt.datetime | None = None,
) -> Wish:
    wish = get_wish(session, actor, wish_id, "confirm", lock=True)
    if wish.requester_id != actor.id:
        raise _refuse(
            session,
            actor,
            "confirm",
            Forbidden(_l("Only the person who made the wish can confirm it."), code="not_requester"),
            wish,
        )
    if wish.status != WishStatus.FULFILLED:
        raise _refuse(
            session,
            actor,
            "confirm",
            Conflict(_l("This wish is not waiting for confirmation."), code="not_fulfilled"),
            wish,
        )
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise _refuse(
            session,
            actor,
            "confirm",
            ServiceError(_l("Choose 1 to 5 stars."), code="bad_rating", field="rating"),
            wish,
        )
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise ServiceError(_l("The text is too long."), code="too_long", field="comment")
    wish.status = WishStatus.CONFIRMED
    wish.confirmed_at = now or utcnow()
    wish.rating = rating
    wish.comment = comment
    session.flush()
    from portal.volunteering.hour_logs import approve_on_confirmation

    paid = approve_on_confirmation(session, actor, wish.id, now=wish.confirmed_at)
    if wish.claimed_by_id is not None:
        notify(
            session,
            wish.claimed_by_id,
            "wish.confirmed",
            _l("Your help was confirmed: %(n)d stars", n=rating),
            wish.title,
            link=f"/wishes/{wish.id}",
            dedupe_key=f"wish.confirmed:{wish.id}",
        )
    record(
        session,
        "wishes.confirm",
        actor_id=actor.id,
        community_id=wish.community_id,
        target=("wish", wish.id),
        rating=rating,
        paid_log_id=paid.id if paid else None,
    )
    return wish


def withdraw_wish(session: Session, actor: User, wish_id: int, *, now: dt.datetime | None = None) -> Wish:
    wish = get_wish(session, actor, wish_id, "withdraw", lock=True)
    community = _community(session, wish.community_id)
    if wish.requester_id != actor.id and not is_staff(actor, community):
        raise _refuse(
            session,
            actor,
            "withdraw",
            Forbidden(_l("Only the person who made the wish can withdraw it."), code="not_requester"),
            wish,
        )
    if wish.status not in (WishStatus.OPEN, WishStatus.CLAIMED):
        raise _refuse(
            session,
            actor,
            "withdraw",
            Conflict(_l("This wish can no longer be withdrawn."), code="not_withdrawable"),
            wish,
        )
    claimer = wish.claimed_by_id
    wish.status = WishStatus.WITHDRAWN
    wish.withdrawn_at = now or utcnow()
    session.flush()
    if claimer is not None:
        notify(
            session,
            claimer,
            "wish.withdrawn",
            _l("A wish you claimed was withdrawn"),
            wish.title,
            link=f"/wishes/{wish.id}",
            dedupe_key=f"wish.withdrawn:{wish.id}",
        )
    record(
        session,
        "wishes.withdraw",
        actor_id=actor.id,
        community_id=wish.community_id,
        target=("wish", wish.id),
    )
    return wish


def release_stale(session: Session, *, now: dt.datetime | None = None) -> list[int]:
    """Claims not fulfilled within the community's ``wish_claim_days`` go back to open."""
    now = now or utcnow()
    released: list[int] = []
    claimed = list(
        session.scalars(
            select(Wish)
            .where(Wish.status == WishStatus.CLAIMED)
            .order_by(Wish.id)
            .with_for_update(key_share=True)
        )
    )
    days: dict[int, int] = {}
    for wish in claimed:
        if wish.community_id not in days:
            days[wish.community_id] = get_settings(session, wish.community_id).wish_claim_days
        if wish.claimed_at is None or wish.claimed_at > now - dt.timedelta(days=days[wish.community_id]):
            continue
        claimer = wish.claimed_by_id
        stamp = wish.claimed_at.isoformat()
        wish.status = WishStatus.OPEN
        wish.claimed_by_id = None
        wish.team_id = None
        wish.claimed_at = None
        released.append(wish.id)
        if claimer is not None:
            notify(
                session,
                claimer,
                "wish.released",
                _l("Your claim on a wish was released"),
                _l("It was not fulfilled in time, so others can claim it now."),
                link=f"/wishes/{wish.id}",
                dedupe_key=f"wish.released:{wish.id}:{stamp}",
            )
        notify(
            session,
            wish.requester_id,
            "wish.released",
            _l("Your wish is open again"),
            wish.title,
            link=f"/wishes/{wish.id}",
            dedupe_key=f"wish.reopened:{wish.id}:{stamp}",
        )
        record(
            session,
            "wishes.release",
            actor_id=None,
            community_id=wish.community_id,
            target=("wish", wish.id),
            claimer=claimer,
        )
    session.flush()
    return released


def open_wishes(
    session: Session, community_id: int, *, exclude_user: int | None = None, limit: int = 50
) -> list[Wish]:
    q = select(Wish).where(Wish.community_id == community_id, Wish.status == WishStatus.OPEN)
    if exclude_user is not None:
        q = q.where(Wish.requester_id != exclude_user)
    return list(session.scalars(q.order_by(Wish.created_at.desc(), Wish.id.desc()).limit(limit)))


def my_wishes(session: Session, user_id: int) -> tuple[list[Wish], list[Wish]]:
    """(wishes I made, wishes I claimed)."""
    made = list(
        session.scalars(select(Wish).where(Wish.requester_id == user_id).order_by(Wish.id.desc()).limit(100))
    )
    claimed = list(
        session.scalars(select(Wish).where(Wish.claimed_by_id == user_id).order_by(Wish.id.desc()).limit(100))
    )
    return made, claimed
