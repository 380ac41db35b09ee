"""Hour logs: a person's volunteer time, pending until staff approve it (then paid in 福分)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow, value_enum


class HourSource(str, enum.Enum):
    ACTIVITY = "activity"
    POST = "post"
    WISH = "wish"
    OTHER = "other"


class HourStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVERSED = "reversed"


# Logs that count for overlap and the daily cap.
LIVE_STATUSES = (HourStatus.PENDING, HourStatus.APPROVED)


class HourLog(Base):
    __tablename__ = "hour_log"
    __table_args__ = (
        # Nobody approves their own hours — the service refuses, the database backs it up.
        CheckConstraint("reviewed_by_id IS NULL OR reviewed_by_id <> user_id", name="no_self_review"),
        CheckConstraint("ended_at > started_at", name="ends_after_start"),
        CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes_range"),
        CheckConstraint("points IS NULL OR points >= 0", name="points_nonneg"),
        CheckConstraint("points_per_hour IS NULL OR points_per_hour >= 0", name="pph_nonneg"),
        CheckConstraint("points_flat IS NULL OR points_flat >= 0", name="flat_nonneg"),
        CheckConstraint(
            "status <> 'approved' OR (reviewed_by_id IS NOT NULL AND points IS NOT NULL)",
            name="approved_has_reviewer",
        ),
        CheckConstraint("status <> 'rejected' OR reject_reason IS NOT NULL", name="rejected_has_reason"),
        Index("ix_hour_log_queue", "community_id", "status", "started_at"),
        Index("ix_hour_log_user_time", "user_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    source: Mapped[HourSource] = mapped_column(value_enum(HourSource))
    # Where the time was spent (at most one is set, matching ``source``).
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("service_post.id"), index=True)
    wish_id: Mapped[int | None] = mapped_column(ForeignKey("wish.id"), index=True)
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime]
    minutes: Mapped[int]
    description: Mapped[str] = mapped_column(Text, default="")
    photo_path: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[HourStatus] = mapped_column(value_enum(HourStatus), default=HourStatus.PENDING)
    # Rate captured when the log is recorded (activity/post rate); NULL = community default.
    points_per_hour: Mapped[int | None]
    points_flat: Mapped[int | None]
    points: Mapped[int | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[dt.datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    ledger_tx_id: Mapped[int | None]
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reversed_at: Mapped[dt.datetime | None]
    reverse_reason: Mapped[str | None] = mapped_column(String(500))
    reverse_tx_id: Mapped[int | None]
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
