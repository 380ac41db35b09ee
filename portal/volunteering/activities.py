"""集中活动: activities published in a community, sign-ups with a waitlist, check-in/out.

Backstops in the database:
* one live (confirmed or waitlisted) sign-up per person per activity (partial unique index);
* distinct waitlist positions per activity (partial unique index);
* ``confirmed_count`` is kept by conditional UPDATEs and CHECKed ``<= capacity``, so even a
  bug in the service cannot overbook.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum

if TYPE_CHECKING:
    from portal.people.models import User
    from portal.places.models import Community


class ActivityStatus(str, enum.Enum):
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class SignupStatus(str, enum.Enum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Attendance(str, enum.Enum):
    PRESENT = "present"
    NO_SHOW = "no_show"


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("signup_deadline <= ends_at", name="deadline_before_end"),
        CheckConstraint("capacity BETWEEN 1 AND 10000", name="capacity_range"),
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity", name="not_overbooked"),
        CheckConstraint("points_per_hour IS NULL OR points_per_hour BETWEEN 0 AND 1000", name="pph_range"),
        CheckConstraint("points_flat IS NULL OR points_flat BETWEEN 0 AND 100000", name="flat_range"),
        CheckConstraint("points_per_hour IS NULL OR points_flat IS NULL", name="one_points_rule"),
        Index("ix_activity_community_starts", "community_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    # The team running it, if any (its leaders may run the activity).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    capacity: Mapped[int]
    signup_deadline: Mapped[dt.datetime]
    # NULL: the community's default points_per_hour; points_flat: a fixed amount instead.
    points_per_hour: Mapped[int | None]
    points_flat: Mapped[int | None]
    status: Mapped[ActivityStatus] = mapped_column(
        value_enum(ActivityStatus), default=ActivityStatus.PUBLISHED
    )
    leader_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reminder_sent_at: Mapped[dt.datetime | None]
    # Confirmed sign-ups, maintained by conditional UPDATEs in the services.
    confirmed_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Points are paid only once staff approved the rule: at once when staff publish,
    # after a separate staff approval when a team leader does (issue 9 #1).
    points_approved_at: Mapped[dt.datetime | None]
    points_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Per-activity secret of the rotating check-in codes (hex).
    code_secret: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    community: Mapped[Community] = relationship()
    leader: Mapped[User] = relationship(foreign_keys=[leader_id])

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.confirmed_count, 0)


class ActivitySignup(Base):
    __tablename__ = "activity_signup"
    __table_args__ = (
        Index(
            "uq_activity_signup_live",
            "activity_id",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('confirmed', 'waitlisted')"),
            postgresql_where=text("status IN ('confirmed', 'waitlisted')"),
        ),
        Index(
            "uq_activity_signup_waitlist_position",
            "activity_id",
            "waitlist_position",
            unique=True,
            sqlite_where=text("status = 'waitlisted'"),
            postgresql_where=text("status = 'waitlisted'"),
        ),
        CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)", name="waitlist_position"
        ),
        CheckConstraint(
            "checked_out_at IS NULL OR (checked_in_at IS NOT NULL AND checked_out_at >= checked_in_at)",
            name="out_after_in",
        ),
        CheckConstraint("wrong_codes >= 0", name="wrong_codes_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    status: Mapped[SignupStatus] = mapped_column(value_enum(SignupStatus), default=SignupStatus.CONFIRMED)
    waitlist_position: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    checked_in_at: Mapped[dt.datetime | None]
    checked_out_at: Mapped[dt.datetime | None]
    attendance: Mapped[Attendance | None] = mapped_column(value_enum(Attendance))
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The pending hour log made at check-out.
    hour_log_id: Mapped[int | None] = mapped_column(ForeignKey("hour_log.id"))
    # Wrong check-in codes typed by this person for this activity (guessing throttle).
    wrong_codes: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
