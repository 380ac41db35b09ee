"""Community settings: one row per community, created with defaults on first use."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class CommunitySettings(Base):
    __tablename__ = "community_settings"
    __table_args__ = (
        CheckConstraint("post_claim_cap BETWEEN 1 AND 10", name="post_claim_cap_range"),
        CheckConstraint("team_cap BETWEEN 1 AND 10", name="team_cap_range"),
        CheckConstraint("hours_rounding_minutes IN (1, 5, 10, 15, 30, 60)", name="rounding_allowed"),
        CheckConstraint("daily_minutes_cap BETWEEN 30 AND 1440", name="daily_cap_range"),
        CheckConstraint("points_per_hour BETWEEN 0 AND 1000", name="points_per_hour_range"),
        CheckConstraint("exchange_points_per_hour BETWEEN 1 AND 1000", name="exchange_rate_range"),
        CheckConstraint("party_activity_goal BETWEEN 0 AND 52", name="party_goal_range"),
        CheckConstraint("wish_claim_days BETWEEN 1 AND 90", name="wish_claim_days_range"),
        CheckConstraint("gift_daily_limit BETWEEN 0 AND 100000", name="gift_limit_range"),
        CheckConstraint("expiry_months IS NULL OR expiry_months BETWEEN 1 AND 120", name="expiry_range"),
        CheckConstraint("wish_auto_pay_max_minutes BETWEEN 15 AND 480", name="wish_auto_pay_range"),
        CheckConstraint("hours_backdate_days BETWEEN 1 AND 365", name="backdate_range"),
        CheckConstraint("activity_max_points_per_hour BETWEEN 0 AND 1000", name="activity_pph_cap_range"),
        CheckConstraint("activity_max_points_flat BETWEEN 0 AND 10000", name="activity_flat_cap_range"),
        CheckConstraint("monthly_issue_budget BETWEEN 0 AND 100000000", name="monthly_budget_range"),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)
    # 服务岗位: how many posts one person may hold, and whether staff approve each claim.
    post_claim_cap: Mapped[int] = mapped_column(default=2)
    post_claim_needs_approval: Mapped[bool] = mapped_column(default=False)
    # 志愿队伍: how many teams one person may join.
    team_cap: Mapped[int] = mapped_column(default=2)
    # Hours: check-in/out times are rounded down to this many minutes; per-day cap.
    hours_rounding_minutes: Mapped[int] = mapped_column(default=15)
    daily_minutes_cap: Mapped[int] = mapped_column(default=8 * 60)
    # Default 福分 per approved hour of volunteer service.
    points_per_hour: Mapped[int] = mapped_column(default=10)
    # 在职党员: activities a year to be on track.
    party_activity_goal: Mapped[int] = mapped_column(default=4)
    # 微心愿: a claim not fulfilled within this many days is released.
    wish_claim_days: Mapped[int] = mapped_column(default=7)
    # 互助: one hour of any skill is worth the same everywhere in the community.
    exchange_points_per_hour: Mapped[int] = mapped_column(default=10)
    # 转赠: most points one member may give away per day.
    gift_daily_limit: Mapped[int] = mapped_column(default=200)
    # 微心愿 payment: on the requester's confirmation (for up to this many minutes), or
    # after a staff review (the default).
    wish_pay_on_confirm: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    wish_auto_pay_max_minutes: Mapped[int] = mapped_column(default=120, server_default=text("120"))
    # Hours may be reported at most this many days after they were done (issue 9 #6).
    hours_backdate_days: Mapped[int] = mapped_column(default=30, server_default=text("30"))
    # Who may publish activities that pay points: staff only (default) or also team
    # leaders — whose paying activities then wait for a staff approval (issue 9 #1).
    leaders_publish_paid_activities: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Largest points rule an activity may carry: per hour, and a fixed amount per person.
    activity_max_points_per_hour: Mapped[int] = mapped_column(default=30, server_default=text("30"))
    activity_max_points_flat: Mapped[int] = mapped_column(default=100, server_default=text("100"))
    # Most 福分 the fund may issue for approved hours in one calendar month (Asia/Shanghai).
    monthly_issue_budget: Mapped[int] = mapped_column(default=50000, server_default=text("50000"))
    # Expiry of points (off when NULL).
    expiry_months: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
