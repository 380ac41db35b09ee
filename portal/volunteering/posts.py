"""服务岗位 (service posts) published by community staff and the claims volunteers make.

Rules kept by the database as backstops (the services check them first, with friendly
messages):

* a post has at least one place and never negative points, and not both point rules;
* one live (pending or active) claim per person per post — a partial unique index;
* nobody decides their own claim (``decided_by_id <> user_id``).

Places per post and the per-person cap are counted under row locks in
``portal.posts.services.claim_post`` (PostgreSQL ``FOR NO KEY UPDATE``; SQLite writers are
serialised by ``BEGIN IMMEDIATE``).
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
    from portal.places.models import Building, Community, Grid


class PostStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class ClaimStatus(str, enum.Enum):
    PENDING = "pending"  # waiting for staff (when the community approves claims)
    ACTIVE = "active"  # holds the post
    REJECTED = "rejected"  # staff said no
    RELEASED = "released"  # staff ended it
    WITHDRAWN = "withdrawn"  # the volunteer gave it up


LIVE_CLAIM_STATUSES = (ClaimStatus.PENDING, ClaimStatus.ACTIVE)
_LIVE_SQL = "status IN ('pending', 'active')"


class ServicePost(Base):
    __tablename__ = "service_post"
    __table_args__ = (
        CheckConstraint("places >= 1 AND places <= 500", name="places_range"),
        CheckConstraint(
            "points_per_hour IS NULL OR points_per_hour BETWEEN 0 AND 1000", name="points_per_hour_range"
        ),
        CheckConstraint(
            "points_per_duty IS NULL OR points_per_duty BETWEEN 0 AND 1000", name="points_per_duty_range"
        ),
        CheckConstraint("points_per_hour IS NULL OR points_per_duty IS NULL", name="one_point_rule"),
        Index("ix_service_post_community_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    title: Mapped[str] = mapped_column(String(60))
    duties: Mapped[str] = mapped_column(Text, default="")
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    schedule: Mapped[str] = mapped_column(String(200), default="")
    places: Mapped[int] = mapped_column(default=1)
    points_per_hour: Mapped[int | None]
    points_per_duty: Mapped[int | None]
    status: Mapped[PostStatus] = mapped_column(value_enum(PostStatus), default=PostStatus.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]

    community: Mapped[Community] = relationship()
    grid: Mapped[Grid | None] = relationship()
    building: Mapped[Building | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == PostStatus.OPEN


class PostClaim(Base):
    __tablename__ = "post_claim"
    __table_args__ = (
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> user_id", name="no_self_decision"),
        Index(
            "uq_post_claim_live",
            "post_id",
            "user_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        Index("ix_post_claim_user_status", "user_id", "status"),
        Index("ix_post_claim_community_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("service_post.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # Denormalised from the post: "claims in my community" is one indexed lookup.
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    status: Mapped[ClaimStatus] = mapped_column(value_enum(ClaimStatus), default=ClaimStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The staff member who last decided (approved, rejected or released); never the claimer.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(String(200), default="")

    post: Mapped[ServicePost] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_CLAIM_STATUSES
