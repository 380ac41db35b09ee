"""Activity rules. Services take plain values, a Session and the acting User; they flush
and never commit (the request commits once).

Overbooking: every change to an activity's sign-ups first locks the activity row
(``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; on SQLite the writer already holds the database
lock from ``BEGIN IMMEDIATE``). A seat is then taken with a conditional
``UPDATE activity SET confirmed_count = confirmed_count + 1 WHERE confirmed_count < capacity``
and the table CHECKs ``confirmed_count <= capacity`` as a last backstop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.audit.services import record, record_refusal, refused
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.notifications.services import notify
from portal.people.models import User
from portal.places.models import Community
from portal.volunteering.activities import Activity, ActivitySignup, ActivityStatus, Attendance, SignupStatus

CHECKIN_OPENS_BEFORE = dt.timedelta(minutes=30)
CHECKOUT_CLOSES_AFTER = dt.timedelta(minutes=60)
CODE_WINDOW_SECONDS = 60
MAX_WRONG_CODES = 10
PHASES = ("in", "out")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else utcnow()


# --- permissions ---------------------------------------------------------------------------


def is_member(user: User, community_id: int) -> bool:
    """Lives in the community or holds a role there (resident, party member, staff…)."""
    if not getattr(user, "is_active", False):
        return False
    return user.community_id == community_id or any(r.community_id == community_id for r in user.roles)


def is_staff(user: User, community: Community) -> bool:
    from portal.policy import is_staff as community_staff

    return community_staff(user, community)


def _is_team_leader(session: Session, user: User, team_id: int | None) -> bool:
    if team_id is None:
        return False
    try:
        from portal.volunteering.rules import is_team_leader
    except ImportError:  # the teams feature is not installed
        return False
    return bool(is_team_leader(session, user.id, team_id))


def _team_in_community(session: Session, team_id: int, community_id: int) -> bool:
    try:
        from portal.volunteering.teams import Team
    except ImportError:
        return False
    team = session.get(Team, team_id)
    return team is not None and team.community_id == community_id and bool(getattr(team, "is_active", True))


def can_manage(session: Session, user: User, activity: Activity) -> bool:
    """Edit, cancel and see participants: the community's staff or the leader of its team."""
    return is_staff(user, activity.community) or _is_team_leader(session, user, activity.team_id)


def can_run(session: Session, user: User, activity: Activity) -> bool:
    """Run check-in and mark attendance: the activity's leader, or anyone who can manage it."""
    return activity.leader_id == user.id or can_manage(session, user, activity)


def get_activity(session: Session, activity_id: int, *, lock: bool = False) -> Activity:
    q = select(Activity).where(Activity.id == activity_id)
    if lock:
        # PostgreSQL: row lock, held until the request commits. SQLite ignores it; its
        # writers are serialised by BEGIN IMMEDIATE.
        q = q.with_for_update(key_share=True)
    activity = session.scalar(q.execution_options(populate_existing=True)) if lock else session.scalar(q)
    if activity is None:
        raise NotFound(_l("This activity does not exist."), code="no_activity")
    return activity


def activity_for_member(session: Session, actor: User, activity_id: int) -> Activity:
    activity = get_activity(session, activity_id)
    if not (is_member(actor, activity.community_id) or can_run(session, actor, activity)):
        raise Forbidden(_l("This activity belongs to another community."), code="other_community")
    return activity


def activity_for_manager(session: Session, actor: User, activity_id: int, *, lock: bool = False) -> Activity:
    activity = get_activity(session, activity_id, lock=lock)
    if not can_manage(session, actor, activity):
        raise Forbidden(_l("Only the community staff or the team leader can do this."), code="not_manager")
    return activity


def activity_for_leader(session: Session, actor: User, activity_id: int, *, lock: bool = False) -> Activity:
    activity = get_activity(session, activity_id, lock=lock)
    if not can_run(session, actor, activity):
        raise Forbidden(_l("Only the activity leader or the community staff can do this."), code="not_leader")
    return activity


# --- create / edit / cancel ------------------------------------------------------------------


@dataclass
class ActivityData:
    title: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    signup_deadline: dt.datetime
    leader_id: int
    description: str = ""
    points_per_hour: int | None = None
    points_flat: int | None = None
    team_id: int | None = None


def _validate(
    session: Session,
    community_id: int,
    data: ActivityData,
    now: dt.datetime,
    existing: Activity | None = None,
) -> None:
    title, place = data.title.strip(), data.place.strip()
    if not title or len(title) > 120:
        raise ServiceError(_l("Enter a title of at most 120 characters."), code="bad_title", field="title")
    if not place or len(place) > 200:
        raise ServiceError(_l("Enter a place of at most 200 characters."), code="bad_place", field="place")
    if len(data.description) > 4000:
        raise ServiceError(_l("The description is too long."), code="bad_description", field="description")
    for value in (data.starts_at, data.ends_at, data.signup_deadline):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
    if data.ends_at <= data.starts_at:
        raise ServiceError(_l("The end must be after the start."), code="bad_times", field="ends_at")
    if data.ends_at - data.starts_at > dt.timedelta(hours=24):
        raise ServiceError(_l("An activity can last at most 24 hours."), code="too_long", field="ends_at")
    if existing is None and data.starts_at <= now:
        raise ServiceError(_l("The start must be in the future."), code="in_past", field="starts_at")
    if data.signup_deadline > data.starts_at:
        raise ServiceError(
            _l("Sign-up must close before the activity starts."), code="bad_deadline", field="signup_deadline"
        )
    if not 1 <= data.capacity <= 10000:
        raise ServiceError(_l("Places must be between 1 and 10000."), code="bad_capacity", field="capacity")
    if existing is not None and data.capacity < existing.confirmed_count:
        raise ServiceError(
            _l("%(n)d people are already confirmed; places cannot be fewer.", n=existing.confirmed_count),
            code="capacity_below_confirmed",
            field="capacity",
        )
    if data.points_per_hour is not None and data.points_flat is not None:
        raise ServiceError(
            _l("Choose points per hour or a fixed amount, not both."), code="two_rules", field="points_flat"
        )
    if data.points_per_hour is not None and not 0 <= data.points_per_hour <= 1000:
        raise ServiceError(
            _l("Points per hour must be between 0 and 1000."), code="bad_points", field="points_per_hour"
        )
    if data.points_flat is not None and not 0 <= data.points_flat <= 100000:
        raise ServiceError(
            _l("The fixed amount must be between 0 and 100000."), code="bad_points", field="points_flat"
        )
    _check_points_caps(session, community_id, data)
    leader = session.get(User, data.leader_id)
    if leader is None or not is_member(leader, community_id):
        raise ServiceError(
            _l("The leader must be a member of this community."), code="bad_leader", field="leader_id"
        )
    if data.team_id is not None and not _team_in_community(session, data.team_id, community_id):
        raise ServiceError(
            _l("This team does not belong to this community."), code="bad_team", field="team_id"
        )


def pays_points(session: Session, community_id: int, data: ActivityData) -> bool:
    """True when the rule would pay anything (the default rule pays the community rate)."""
    if data.points_flat is not None:
        return data.points_flat > 0
    if data.points_per_hour is not None:
        return data.points_per_hour > 0
    from portal.settings.services import get_settings

    return get_settings(session, community_id).points_per_hour > 0


def _check_points_caps(session: Session, community_id: int, data: ActivityData) -> None:
    """The community's settings bound every activity's rule (per hour and per person)."""
    from portal.settings.services import get_settings

    settings = get_settings(session, community_id)
    if data.points_per_hour is not None and data.points_per_hour > settings.activity_max_points_per_hour:
        raise ServiceError(
            _l(
                "This community allows at most %(max)d points per hour for an activity.",
                max=settings.activity_max_points_per_hour,
            ),
            code="points_over_cap",
            field="points_per_hour",
        )
    if data.points_flat is not None and data.points_flat > settings.activity_max_points_flat:
        raise ServiceError(
            _l(
                "This community allows a fixed amount of at most %(max)d points per person.",
                max=settings.activity_max_points_flat,
            ),
            code="points_over_cap",
            field="points_flat",
        )


def _points_rule_for(
    session: Session, actor: User, community: Community, data: ActivityData, now: dt.datetime
) -> tuple[dt.datetime | None, int | None]:
    """(approved_at, approved_by) for a rule set by ``actor``. Staff rules are approved by
    publishing them. A team leader may set a paying rule only where the community allows
    it (setting ``leaders_publish_paid_activities``), and it pays nothing until staff
    approve it."""
    if is_staff(actor, community):
        return now, actor.id
    if not pays_points(session, community.id, data):
        return now, None  # nothing to pay, nothing to approve
    from portal.settings.services import get_settings

    if not get_settings(session, community.id).leaders_publish_paid_activities:
        record_refusal(
            session, "activity.points", actor_id=actor.id, community_id=community.id, code="leaders_unpaid"
        )
        raise Forbidden(
            _l(
                "In this community only staff publish activities that pay points. "
                "Choose “No points”, or ask the community staff to publish it."
            ),
            code="points_staff_only",
            field="points_value",
        )
    return None, None


def approve_points(
    session: Session, actor: User, activity_id: int, *, now: dt.datetime | None = None
) -> Activity:
    """Staff approve a team leader's points rule; hours recorded from then on are paid."""
    now = _now(now)
    activity = get_activity(session, activity_id, lock=True)
    if not is_staff(actor, activity.community):
        record_refusal(
            session,
            "activity.approve_points",
            actor_id=actor.id,
            community_id=activity.community_id,
            target=("activity", activity.id),
        )
        raise Forbidden(_l("Only the staff of this community can do this."), code="not_staff")
    if activity.points_approved_at is None:
        activity.points_approved_at = now
        activity.points_approved_by_id = actor.id
        session.flush()
        record(
            session,
            "activity.approve_points",
            actor_id=actor.id,
            community_id=activity.community_id,
            target=("activity", activity.id),
            points_per_hour=activity.points_per_hour,
            points_flat=activity.points_flat,
        )
    return activity


def create_activity(
    session: Session, actor: User, community_id: int, data: ActivityData, *, now: dt.datetime | None = None
) -> Activity:
    now = _now(now)
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(_l("This community does not exist."), code="no_community")
    if not (is_staff(actor, community) or _is_team_leader(session, actor, data.team_id)):
        raise Forbidden(
            _l("Only the community staff or a team leader can publish activities."), code="not_manager"
        )
    _validate(session, community_id, data, now)
    approved_at, approved_by = _points_rule_for(session, actor, community, data, now)
    activity = Activity(
        community_id=community_id,
        team_id=data.team_id,
        title=data.title.strip(),
        description=data.description.strip(),
        place=data.place.strip(),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        capacity=data.capacity,
        signup_deadline=data.signup_deadline,
        points_per_hour=data.points_per_hour,
        points_flat=data.points_flat,
        points_approved_at=approved_at,
        points_approved_by_id=approved_by,
        leader_id=data.leader_id,
        created_by_id=actor.id,
        created_at=now,
        confirmed_count=0,
        code_secret=secrets.token_hex(32),
    )
    session.add(activity)
    session.flush()
    record(
        session,
        "activity.create",
        actor_id=actor.id,
        community_id=community_id,
        target=("activity", activity.id),
    )
    return activity


def update_activity(
    session: Session, actor: User, activity_id: int, data: ActivityData, *, now: dt.datetime | None = None
) -> Activity:
    now = _now(now)
    activity = activity_for_manager(session, actor, activity_id, lock=True)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict(_l("This activity was cancelled or has finished."), code="not_open")
    if data.team_id != activity.team_id and not (
        is_staff(actor, activity.community) or _is_team_leader(session, actor, data.team_id)
    ):
        raise Forbidden(
            _l("Only the community staff or a team leader can publish activities."), code="not_manager"
        )
    _validate(session, activity.community_id, data, now, existing=activity)
    if (data.points_per_hour, data.points_flat) != (activity.points_per_hour, activity.points_flat):
        # A changed rule needs approval again (unless staff change it).
        activity.points_approved_at, activity.points_approved_by_id = _points_rule_for(
            session, actor, activity.community, data, now
        )
    for name in ("title", "place", "description"):
        setattr(activity, name, getattr(data, name).strip())
    for name in (
        "starts_at",
        "ends_at",
        "capacity",
        "signup_deadline",
        "points_per_hour",
        "points_flat",
        "leader_id",
        "team_id",
    ):
        setattr(activity, name, getattr(data, name))
    session.flush()
    _promote_waitlist(session, activity, now)
    record(
        session,
        "activity.update",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity", activity.id),
    )
    return activity


def cancel_activity(
    session: Session, actor: User, activity_id: int, reason: str = "", *, now: dt.datetime | None = None
) -> Activity:
    now = _now(now)
    activity = activity_for_manager(session, actor, activity_id, lock=True)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict(_l("This activity was cancelled or has finished."), code="not_open")
    if any(s.checked_in_at is not None for s in _live_signups(session, activity.id)):
        raise Conflict(_l("People have already checked in; finish the activity instead."), code="started")
    activity.status = ActivityStatus.CANCELLED
    activity.cancelled_at = now
    for signup in _live_signups(session, activity.id):
        notify(
            session,
            signup.user_id,
            "activity.cancelled",
            _l("Activity cancelled: %(title)s", title=activity.title),
            body=reason.strip()[:300],
            link=f"/activities/{activity.id}",
            dedupe_key=f"activity:{activity.id}:cancelled:{signup.user_id}",
        )
    record(
        session,
        "activity.cancel",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity", activity.id),
        reason=reason.strip()[:300],
    )
    session.flush()
    return activity


# --- sign-up, cancel, waitlist ----------------------------------------------------------------


def _live_signups(session: Session, activity_id: int) -> list[ActivitySignup]:
    return list(
        session.scalars(
            select(ActivitySignup)
            .where(
                ActivitySignup.activity_id == activity_id,
                ActivitySignup.status.in_([SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]),
            )
            .order_by(ActivitySignup.id)
        )
    )


def live_signup(session: Session, activity_id: int, user_id: int) -> ActivitySignup | None:
    return session.scalar(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity_id,
            ActivitySignup.user_id == user_id,
            ActivitySignup.status.in_([SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]),
        )
    )


def overlapping_signup(session: Session, user_id: int, activity: Activity) -> Activity | None:
    """Another activity ``user_id`` holds a live sign-up for (confirmed or waitlisted) whose
    time overlaps ``activity``'s. Back-to-back (one ends when the next starts) is fine."""
    return session.scalar(
        select(Activity)
        .join(ActivitySignup, ActivitySignup.activity_id == Activity.id)
        .where(
            ActivitySignup.user_id == user_id,
            ActivitySignup.status.in_([SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]),
            Activity.id != activity.id,
            Activity.status != ActivityStatus.CANCELLED,
            Activity.starts_at < activity.ends_at,
            Activity.ends_at > activity.starts_at,
        )
        .order_by(Activity.starts_at)
        .limit(1)
    )


def _local(when: dt.datetime, fmt: str) -> str:
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo("Asia/Shanghai")).strftime(fmt)


def _take_seat(session: Session, activity: Activity) -> bool:
    """Conditional UPDATE: true when a seat was free and is now taken."""
    result = session.execute(
        update(Activity)
        .where(Activity.id == activity.id, Activity.confirmed_count < Activity.capacity)
        .values(confirmed_count=Activity.confirmed_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(activity, ["confirmed_count"])
    return result.rowcount == 1


def _free_seat(session: Session, activity: Activity) -> None:
    session.execute(
        update(Activity)
        .where(Activity.id == activity.id, Activity.confirmed_count > 0)
        .values(confirmed_count=Activity.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(activity, ["confirmed_count"])


def signup(
    session: Session,
    actor: User,
    activity_id: int,
    *,
    now: dt.datetime | None = None,
    person_id: int | None = None,
) -> ActivitySignup:
    """Sign ``actor`` up: confirmed while places are left, otherwise on the waitlist.

    代办: with ``person_id``, sign up someone without a phone — as their carer, or as the
    leader / staff who runs the activity (who then marks their attendance)."""
    now = _now(now)
    activity = get_activity(session, activity_id, lock=True)
    person = actor
    if person_id is not None and person_id != actor.id:
        from portal.people.carers import is_carer

        candidate = session.get(User, person_id)
        if (
            candidate is None
            or not candidate.is_active
            or not (is_carer(session, actor, candidate.id) or can_run(session, actor, activity))
        ):
            raise Forbidden(_l("You cannot act for this person."), code="not_carer")
        person = candidate
    actor = person
    if not is_member(actor, activity.community_id):
        raise Forbidden(_l("This activity belongs to another community."), code="other_community")
    if activity.status == ActivityStatus.CANCELLED:
        raise Conflict(_l("This activity was cancelled."), code="cancelled")
    if activity.status != ActivityStatus.PUBLISHED or activity.starts_at <= now:
        raise Conflict(_l("This activity has already started or finished."), code="past")
    if now >= activity.signup_deadline:
        raise Conflict(_l("Sign-up for this activity has closed."), code="deadline")
    if live_signup(session, activity.id, actor.id) is not None:
        raise Conflict(_l("You have already signed up for this activity."), code="duplicate")
    clash = overlapping_signup(session, actor.id, activity)
    if clash is not None:
        raise Conflict(
            _l(
                "This activity overlaps with “%(title)s” (%(start)s–%(end)s), which you have already "
                "signed up for. Cancel that sign-up first if you would rather come to this one.",
                title=clash.title,
                start=_local(clash.starts_at, "%m-%d %H:%M"),
                end=_local(clash.ends_at, "%H:%M"),
            ),
            code="overlap",
        )
    row = ActivitySignup(
        activity_id=activity.id, user_id=actor.id, community_id=activity.community_id, created_at=now
    )
    if _take_seat(session, activity):
        row.status = SignupStatus.CONFIRMED
    else:
        last = (
            session.scalar(
                select(func.max(ActivitySignup.waitlist_position)).where(
                    ActivitySignup.activity_id == activity.id
                )
            )
            or 0
        )
        row.status = SignupStatus.WAITLISTED
        row.waitlist_position = last + 1
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_l("You have already signed up for this activity."), code="duplicate") from None
    if row.status == SignupStatus.CONFIRMED:
        title = _l("You are signed up: %(title)s", title=activity.title)
    else:
        title = _l("You are on the waitlist: %(title)s", title=activity.title)
    notify(session, actor.id, "activity.signup", str(title), link=f"/activities/{activity.id}")
    return row


def _promote_waitlist(session: Session, activity: Activity, now: dt.datetime) -> list[ActivitySignup]:
    """Fill free places from the head of the waitlist (activity row already locked)."""
    promoted: list[ActivitySignup] = []
    if activity.status != ActivityStatus.PUBLISHED or activity.starts_at <= now:
        return promoted
    while activity.confirmed_count < activity.capacity:
        head = session.scalar(
            select(ActivitySignup)
            .where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.status == SignupStatus.WAITLISTED
            )
            .order_by(ActivitySignup.waitlist_position)
            .limit(1)
        )
        if head is None or not _take_seat(session, activity):
            break
        head.status = SignupStatus.CONFIRMED
        head.waitlist_position = None
        session.flush()
        notify(
            session,
            head.user_id,
            "activity.promoted",
            _l("A place opened up: you are now confirmed for %(title)s", title=activity.title),
            link=f"/activities/{activity.id}",
            dedupe_key=f"activity:{activity.id}:promoted:{head.id}",
        )
        promoted.append(head)
    return promoted


def cancel_signup(
    session: Session, actor: User, activity_id: int, *, now: dt.datetime | None = None
) -> list[ActivitySignup]:
    """Withdraw ``actor``'s sign-up; returns the people promoted from the waitlist."""
    now = _now(now)
    activity = get_activity(session, activity_id, lock=True)
    row = live_signup(session, activity.id, actor.id)
    if row is None:
        raise Conflict(_l("You are not signed up for this activity."), code="not_signed_up")
    if activity.starts_at <= now or row.checked_in_at is not None:
        raise Conflict(
            _l("The activity has started; your sign-up can no longer be cancelled."), code="started"
        )
    was_confirmed = row.status == SignupStatus.CONFIRMED
    row.status = SignupStatus.CANCELLED
    row.waitlist_position = None
    row.cancelled_at = now
    session.flush()
    if not was_confirmed:
        return []
    _free_seat(session, activity)
    return _promote_waitlist(session, activity, now)


def waitlist_rank(session: Session, row: ActivitySignup) -> int | None:
    """1 for the head of the waitlist."""
    if row.status != SignupStatus.WAITLISTED or row.waitlist_position is None:
        return None
    ahead = (
        session.scalar(
            select(func.count())
            .select_from(ActivitySignup)
            .where(
                ActivitySignup.activity_id == row.activity_id,
                ActivitySignup.status == SignupStatus.WAITLISTED,
                ActivitySignup.waitlist_position < row.waitlist_position,
            )
        )
        or 0
    )
    return int(ahead) + 1


# --- reminders -------------------------------------------------------------------------------


def send_reminders(session: Session, *, hours: int = 24, now: dt.datetime | None = None) -> int:
    """Remind confirmed participants of activities starting within ``hours``; once per person
    per activity (dedupe key). Returns how many new reminders were queued."""
    now = _now(now)
    activities = session.scalars(
        select(Activity)
        .where(
            Activity.status == ActivityStatus.PUBLISHED,
            Activity.starts_at > now,
            Activity.starts_at <= now + dt.timedelta(hours=hours),
        )
        .order_by(Activity.starts_at)
    )
    sent = 0
    for activity in activities:
        rows = session.scalars(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.status == SignupStatus.CONFIRMED
            )
        )
        for row in rows:
            before = _notification_count(session, row.user_id)
            notify(
                session,
                row.user_id,
                "activity.reminder",
                _l("Reminder: %(title)s starts soon", title=activity.title),
                body=activity.place,
                link=f"/activities/{activity.id}",
                dedupe_key=f"activity:{activity.id}:remind:{row.user_id}",
            )
            sent += _notification_count(session, row.user_id) - before
        if activity.reminder_sent_at is None:
            activity.reminder_sent_at = now
    session.flush()
    return sent


def _notification_count(session: Session, user_id: int) -> int:
    from portal.notifications.models import Notification

    return int(
        session.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == user_id))
        or 0
    )


# --- rotating codes ------------------------------------------------------------------------


def _window(now: dt.datetime) -> int:
    return int(now.timestamp()) // CODE_WINDOW_SECONDS


def code_for(activity: Activity, phase: str, window: int) -> str:
    mac = hmac.new(
        bytes.fromhex(activity.code_secret), f"{activity.id}:{phase}:{window}".encode(), hashlib.sha256
    )
    return f"{int.from_bytes(mac.digest()[:8], 'big') % 1_000_000:06d}"


def current_code(activity: Activity, phase: str, now: dt.datetime | None = None) -> str:
    return code_for(activity, phase, _window(_now(now)))


def seconds_left(now: dt.datetime | None = None) -> int:
    return CODE_WINDOW_SECONDS - int(_now(now).timestamp()) % CODE_WINDOW_SECONDS


def code_is_valid(activity: Activity, phase: str, code: str, now: dt.datetime | None = None) -> bool:
    """The current and the previous window's code are accepted."""
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return False
    w = _window(_now(now))
    return any(hmac.compare_digest(code_for(activity, phase, x), code) for x in (w, w - 1))


def phase_window(activity: Activity, phase: str) -> tuple[dt.datetime, dt.datetime]:
    if phase == "in":
        return activity.starts_at - CHECKIN_OPENS_BEFORE, activity.ends_at
    return activity.starts_at, activity.ends_at + CHECKOUT_CLOSES_AFTER


# --- check-in / check-out --------------------------------------------------------------------


@dataclass
class CheckResult:
    signup: ActivitySignup
    minutes: int = 0
    hours_error: str | None = None


def _refuse(
    session: Session, actor: User, activity: Activity, code: str, message: Any, status: int = 400
) -> ServiceError:
    err = ServiceError(message, code=code, status=status)
    return refused(
        session,
        err,
        "activity.check",
        actor=actor,
        community_id=activity.community_id,
        target=("activity", activity.id),
    )


def _count_wrong_code(session: Session, signup_id: int) -> None:
    """Spend one wrong guess; kept although the request rolls back."""
    from flask import has_request_context

    def bump(s: Session) -> None:
        s.execute(
            update(ActivitySignup)
            .where(ActivitySignup.id == signup_id)
            .values(wrong_codes=ActivitySignup.wrong_codes + 1)
            .execution_options(synchronize_session=False)
        )

    if has_request_context():
        from portal.extensions import db

        db.defer(bump)
    else:
        bump(session)


def check(
    session: Session, actor: User, activity_id: int, phase: str, code: str, *, now: dt.datetime | None = None
) -> CheckResult:
    """Check ``actor`` in or out of an activity with the code shown by the leader."""
    now = _now(now)
    if phase not in PHASES:
        raise ServiceError(_l("Unknown step."), code="bad_phase")
    activity = get_activity(session, activity_id, lock=True)
    row = session.scalar(
        select(ActivitySignup)
        .where(
            ActivitySignup.activity_id == activity.id,
            ActivitySignup.user_id == actor.id,
            ActivitySignup.status == SignupStatus.CONFIRMED,
        )
        .with_for_update(key_share=True)
    )
    if row is None:
        raise _refuse(
            session,
            actor,
            activity,
            "not_signed_up",
            _l("Only people confirmed for this activity can check in."),
            403,
        )
    if activity.status == ActivityStatus.CANCELLED:
        raise _refuse(session, actor, activity, "cancelled", _l("This activity was cancelled."), 409)
    if activity.leader_id == actor.id:
        # The leader shows the code; checking themselves in with it would make them the
        # only witness of their own attendance.
        raise _refuse(
            session,
            actor,
            activity,
            "leader_self_check",
            _l("As the leader, ask the community staff or a co-leader to mark you present."),
            403,
        )
    if row.wrong_codes >= MAX_WRONG_CODES:
        raise _refuse(
            session,
            actor,
            activity,
            "too_many_codes",
            _l("Too many wrong codes. Please ask the activity leader to mark you present."),
            429,
        )
    opens, closes = phase_window(activity, phase)
    if activity.status == ActivityStatus.FINISHED or not opens <= now <= closes:
        from portal.ui.dates import format_datetime

        message = (
            _l(
                "Check-in is open from %(opens)s to %(closes)s (from 30 minutes before the start).",
                opens=format_datetime(opens),
                closes=format_datetime(closes),
            )
            if phase == "in"
            else _l(
                "Check-out is open from %(opens)s to %(closes)s.",
                opens=format_datetime(opens),
                closes=format_datetime(closes),
            )
        )
        raise _refuse(session, actor, activity, "closed", message, 409)
    if phase == "in" and row.checked_in_at is not None:
        raise _refuse(session, actor, activity, "already_in", _l("You have already checked in."), 409)
    if phase == "out":
        if row.checked_in_at is None:
            raise _refuse(session, actor, activity, "not_in", _l("Please check in first."), 409)
        if row.checked_out_at is not None or row.attendance is not None:
            raise _refuse(session, actor, activity, "already_out", _l("You have already checked out."), 409)
    if not code_is_valid(activity, phase, code, now):
        _count_wrong_code(session, row.id)
        raise _refuse(
            session,
            actor,
            activity,
            "wrong_code",
            _l("This code is wrong or has expired. Enter the code shown now.")
            if phase == "in"
            else _l("This check-out code is wrong or has expired. Enter the check-out code shown now."),
            400,
        )
    if phase == "in":
        row.checked_in_at = now
        session.flush()
        record(
            session,
            "activity.check_in",
            actor_id=actor.id,
            community_id=activity.community_id,
            target=("activity", activity.id),
        )
        return CheckResult(row)
    row.checked_out_at = now
    row.attendance = Attendance.PRESENT
    session.flush()
    result = CheckResult(row)
    try:
        with session.begin_nested():
            result.minutes = _record_hours(session, activity, row, actor, now)
    except ServiceError as exc:
        # The check-out stands; the leader or staff can sort the hours out later.
        result.hours_error = str(exc.message)
    record(
        session,
        "activity.check_out",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity", activity.id),
        minutes=result.minutes,
    )
    return result


def credited_minutes(
    session: Session, activity: Activity, started: dt.datetime, ended: dt.datetime
) -> tuple[dt.datetime, int]:
    """Clamp to the activity's times and round down to the community's rounding."""
    from portal.settings.services import get_settings

    start = max(started, activity.starts_at)
    end = min(ended, activity.ends_at)
    minutes = max(int((end - start).total_seconds() // 60), 0)
    rounding = get_settings(session, activity.community_id).hours_rounding_minutes or 1
    return start, minutes - minutes % rounding


def _record_hours(
    session: Session, activity: Activity, row: ActivitySignup, reported_by: User, now: dt.datetime
) -> int:
    assert row.checked_in_at is not None and row.checked_out_at is not None
    start, minutes = credited_minutes(session, activity, row.checked_in_at, row.checked_out_at)
    if minutes <= 0:
        raise ServiceError(_l("The time was too short to count as volunteer hours."), code="too_short")
    from portal.volunteering.recording import record_hours

    log = record_hours(
        session,
        user_id=row.user_id,
        community_id=activity.community_id,
        source="activity",
        source_id=activity.id,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=minutes),
        description=activity.title,
        reported_by=reported_by,
        # An activity whose rule staff have not approved pays nothing.
        points_per_hour=activity.points_per_hour if activity.points_approved_at is not None else 0,
        points_flat=activity.points_flat if activity.points_approved_at is not None else None,
        now=now,
    )
    row.hour_log_id = log.id
    session.flush()
    return minutes


# --- leader: attendance and finishing ----------------------------------------------------------


def _signup_of(session: Session, activity: Activity, signup_id: int) -> ActivitySignup:
    row = session.get(ActivitySignup, signup_id)
    if row is None or row.activity_id != activity.id:
        raise NotFound(_l("This person is not signed up for this activity."), code="no_signup")
    if row.status != SignupStatus.CONFIRMED:
        raise Conflict(_l("Only confirmed participants can be marked."), code="not_confirmed")
    return row


def mark_present(
    session: Session,
    actor: User,
    activity_id: int,
    signup_id: int,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    *,
    now: dt.datetime | None = None,
) -> int:
    """The leader records attendance for someone without a phone; returns the credited minutes."""
    now = _now(now)
    activity = activity_for_leader(session, actor, activity_id, lock=True)
    if activity.status == ActivityStatus.CANCELLED:
        raise Conflict(_l("This activity was cancelled."), code="cancelled")
    if activity.starts_at > now:
        raise Conflict(_l("The activity has not started yet."), code="not_started")
    row = _signup_of(session, activity, signup_id)
    if row.user_id == actor.id:
        raise Forbidden(_l("You cannot mark your own attendance."), code="self_mark")
    if row.hour_log_id is not None:
        raise Conflict(_l("Hours for this person were already recorded."), code="already_recorded")
    if ended_at <= started_at:
        raise ServiceError(_l("The end must be after the start."), code="bad_times")
    if ended_at > now:
        raise ServiceError(_l("The end cannot be in the future."), code="future")
    if ended_at <= activity.starts_at or started_at >= activity.ends_at:
        raise ServiceError(_l("The times must overlap the activity."), code="outside")
    row.checked_in_at = started_at
    row.checked_out_at = ended_at
    row.attendance = Attendance.PRESENT
    row.marked_by_id = actor.id
    session.flush()
    minutes = _record_hours(session, activity, row, actor, now)
    record(
        session,
        "activity.mark_present",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity_signup", row.id),
        minutes=minutes,
    )
    return minutes


def mark_no_show(
    session: Session, actor: User, activity_id: int, signup_id: int, *, now: dt.datetime | None = None
) -> ActivitySignup:
    now = _now(now)
    activity = activity_for_leader(session, actor, activity_id, lock=True)
    if activity.starts_at > now:
        raise Conflict(_l("The activity has not started yet."), code="not_started")
    row = _signup_of(session, activity, signup_id)
    if row.hour_log_id is not None or row.checked_out_at is not None:
        raise Conflict(_l("This person has checked out; hours were recorded."), code="already_recorded")
    row.attendance = Attendance.NO_SHOW
    row.marked_by_id = actor.id
    session.flush()
    record(
        session,
        "activity.mark_no_show",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity_signup", row.id),
    )
    return row


def finish_activity(
    session: Session, actor: User, activity_id: int, *, now: dt.datetime | None = None
) -> int:
    """Close the activity: everyone confirmed who never checked in is a no-show. Returns
    the number of no-shows recorded."""
    now = _now(now)
    activity = activity_for_leader(session, actor, activity_id, lock=True)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict(_l("This activity was cancelled or has finished."), code="not_open")
    if activity.starts_at > now:
        raise Conflict(_l("The activity has not started yet."), code="not_started")
    rows = session.scalars(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity.id,
            ActivitySignup.status == SignupStatus.CONFIRMED,
            ActivitySignup.checked_in_at.is_(None),
            ActivitySignup.attendance.is_(None),
        )
    )
    count = 0
    for row in rows:
        row.attendance = Attendance.NO_SHOW
        row.marked_by_id = actor.id
        count += 1
    activity.status = ActivityStatus.FINISHED
    activity.finished_at = now
    session.flush()
    record(
        session,
        "activity.finish",
        actor_id=actor.id,
        community_id=activity.community_id,
        target=("activity", activity.id),
        no_shows=count,
    )
    return count


# --- queries ----------------------------------------------------------------------------------


def member_community_ids(user: User) -> set[int]:
    ids = {r.community_id for r in user.roles if r.community_id is not None}
    if user.community_id is not None:
        ids.add(user.community_id)
    return ids


def upcoming(session: Session, user: User, *, now: dt.datetime | None = None) -> list[Activity]:
    now = _now(now)
    ids = member_community_ids(user)
    if not ids:
        return []
    return list(
        session.scalars(
            select(Activity)
            .where(
                Activity.community_id.in_(ids),
                Activity.status == ActivityStatus.PUBLISHED,
                Activity.ends_at > now,
            )
            .order_by(Activity.starts_at)
            .limit(200)
        )
    )


def my_signups(
    session: Session, user_id: int, activity_ids: list[int] | None = None
) -> dict[int, ActivitySignup]:
    q = select(ActivitySignup).where(
        ActivitySignup.user_id == user_id, ActivitySignup.status != SignupStatus.CANCELLED
    )
    if activity_ids is not None:
        q = q.where(ActivitySignup.activity_id.in_(activity_ids))
    return {s.activity_id: s for s in session.scalars(q)}


def my_activities(session: Session, user_id: int) -> list[ActivitySignup]:
    return list(
        session.scalars(
            select(ActivitySignup)
            .join(Activity)
            .where(ActivitySignup.user_id == user_id)
            .order_by(Activity.starts_at.desc())
            .limit(200)
        )
    )


def managed(session: Session, user: User, *, now: dt.datetime | None = None) -> list[Activity]:
    """Activities this user leads or may manage, newest first."""
    from portal.policy import staff_communities

    ids = {c.id for c in staff_communities(session, user)}
    q = select(Activity).where(
        (Activity.leader_id == user.id)
        | (Activity.community_id.in_(ids))
        | (Activity.created_by_id == user.id)
    )
    return list(session.scalars(q.order_by(Activity.starts_at.desc()).limit(200)))


def participants(session: Session, activity: Activity) -> list[ActivitySignup]:
    return list(
        session.scalars(
            select(ActivitySignup)
            .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status != SignupStatus.CANCELLED)
            .order_by(ActivitySignup.status, ActivitySignup.waitlist_position, ActivitySignup.id)
        )
    )
