"""Recording hours: the one door every hour source (a post, an activity, a wish, other
work) reports through. The rules live here, under the features that report hours, so
that activities and wishes need not import the hours feature.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ, local_day_bounds
from core.db import utcnow
from portal.audit.services import refused
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import User
from portal.places.services import get_community
from portal.policy import is_member, is_staff
from portal.settings.services import get_settings
from portal.volunteering.hours import LIVE_STATUSES, HourLog, HourSource, HourStatus

# A phone clock a little ahead of the server is not "the future".
CLOCK_SKEW = dt.timedelta(minutes=5)


def refuse(
    session: Session, actor: User | None, action: str, err: ServiceError, **where: Any
) -> ServiceError:
    return refused(session, err, f"hours.{action}", actor=actor, **where)


def lock_person(session: Session, user_id: int) -> User | None:
    """Serialise writes of one person's hours (PostgreSQL row lock; SQLite writers are
    already serialised by BEGIN IMMEDIATE)."""
    return session.scalar(select(User).where(User.id == user_id).with_for_update(key_share=True))


def record_hours(
    session: Session,
    *,
    user_id: int,
    community_id: int,
    source: str,
    source_id: int | None,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    description: str,
    reported_by: User,
    points_per_hour: int | None = None,
    points_flat: int | None = None,
    photo_path: str | None = None,
    now: dt.datetime | None = None,
) -> HourLog:
    """Create a pending hour log for ``user_id`` after checking the rules: times aware,
    ended after started, not in the future, rounded down to the community's rounding
    (at least one unit), no overlap with the person's other pending/approved logs,
    within the daily cap. ``reported_by`` is the person themselves, staff of the
    community, or (source ``activity``) the caller that checked the activity leader."""
    now = now or utcnow()
    action = "record"
    try:
        src = HourSource(source)
    except ValueError:
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(_l("Unknown kind of hours."), code="bad_source"),
            community_id=community_id,
        ) from None
    community = get_community(session, community_id)
    person = lock_person(session, user_id)
    if person is None or not person.is_active or not is_member(person, community):
        raise refuse(
            session,
            reported_by,
            action,
            NotFound(_l("This person is not a member of this community."), code="not_member"),
            community_id=community_id,
            user_id=user_id,
        )
    if reported_by.id != user_id and src != HourSource.ACTIVITY and not is_staff(reported_by, community):
        raise refuse(
            session,
            reported_by,
            action,
            Forbidden(_l("You can only report your own hours."), code="not_yours"),
            community_id=community_id,
            user_id=user_id,
        )
    if src != HourSource.OTHER and source_id is None:
        raise ServiceError(_l("Choose what these hours were for."), code="source_missing")
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise ServiceError(_l("The times are not valid."), code="naive_time")
    if ended_at <= started_at:
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l("The end time must be after the start time."), code="ends_before_start", field="ended_at"
            ),
            community_id=community_id,
        )
    if ended_at > now + CLOCK_SKEW:
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l("Hours cannot be reported for a time in the future."), code="future", field="ended_at"
            ),
            community_id=community_id,
        )
    if (
        started_at.astimezone(LOCAL_TZ).date()
        != (ended_at - dt.timedelta(microseconds=1)).astimezone(LOCAL_TZ).date()
    ):
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l("Report each day separately: the start and end must be on the same day."),
                code="spans_days",
                field="ended_at",
            ),
            community_id=community_id,
        )
    settings = get_settings(session, community_id)
    oldest = now.astimezone(LOCAL_TZ).date() - dt.timedelta(days=settings.hours_backdate_days)
    if started_at.astimezone(LOCAL_TZ).date() < oldest:
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l(
                    "Hours can be reported for the last %(days)d days only. Ask your community staff "
                    "about older hours.",
                    days=settings.hours_backdate_days,
                ),
                code="too_old",
                field="day",
            ),
            community_id=community_id,
        )
    raw = int((ended_at - started_at).total_seconds() // 60)
    step = settings.hours_rounding_minutes
    minutes = raw // step * step
    if minutes <= 0:
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l("Too short: at least %(n)d minutes can be reported.", n=step),
                code="too_short",
                field="ended_at",
            ),
            community_id=community_id,
        )
    live = (HourLog.user_id == user_id, HourLog.status.in_(LIVE_STATUSES))
    overlap = session.scalar(
        select(HourLog.id).where(*live, HourLog.started_at < ended_at, HourLog.ended_at > started_at).limit(1)
    )
    if overlap is not None:
        raise refuse(
            session,
            reported_by,
            action,
            Conflict(
                _l("These hours overlap hours already reported for the same time."),
                code="overlap",
                field="started_at",
            ),
            community_id=community_id,
            overlaps=overlap,
        )
    day_start, day_end = local_day_bounds(started_at.astimezone(LOCAL_TZ).date())
    used = (
        session.scalar(
            select(func.coalesce(func.sum(HourLog.minutes), 0)).where(
                *live, HourLog.started_at >= day_start, HourLog.started_at < day_end
            )
        )
        or 0
    )
    if used + minutes > settings.daily_minutes_cap:
        left = max(settings.daily_minutes_cap - used, 0)
        raise refuse(
            session,
            reported_by,
            action,
            ServiceError(
                _l(
                    "At most %(cap)d minutes can be reported for one day; %(left)d minutes are left.",
                    cap=settings.daily_minutes_cap,
                    left=left,
                ),
                code="daily_cap",
                field="ended_at",
            ),
            community_id=community_id,
            used=used,
            minutes=minutes,
        )
    for name, value in (("points_per_hour", points_per_hour), ("points_flat", points_flat)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ServiceError(_l("The points rate is not valid."), code=f"bad_{name}")
    log = HourLog(
        community_id=community_id,
        user_id=user_id,
        source=src,
        activity_id=source_id if src == HourSource.ACTIVITY else None,
        post_id=source_id if src == HourSource.POST else None,
        wish_id=source_id if src == HourSource.WISH else None,
        started_at=started_at,
        ended_at=ended_at,
        minutes=minutes,
        description=(description or "").strip()[:2000],
        photo_path=photo_path,
        points_per_hour=points_per_hour,
        points_flat=points_flat,
        status=HourStatus.PENDING,
        reported_by_id=reported_by.id,
        created_at=now,
    )
    session.add(log)
    session.flush()
    return log
