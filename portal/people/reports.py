"""Party members' 报到 reports to the community where they live."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum

if TYPE_CHECKING:
    from portal.people.models import User
    from portal.places.models import Community


class ReportStatus(str, enum.Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class PartyReport(Base):
    """在职党员到社区报到: a party member reports to the community where they live.

    Staff confirm it; confirmation grants the party-member role in that community.
    At most one live (pending or confirmed) report per person.
    """

    __tablename__ = "party_report"
    __table_args__ = (
        CheckConstraint("reviewed_by_id IS NULL OR reviewed_by_id <> user_id", name="no_self_review"),
        # One live report per person, enforced by the database (a partial unique index).
        Index(
            "uq_party_report_live",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'confirmed')"),
            postgresql_where=text("status IN ('pending', 'confirmed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    work_unit: Mapped[str] = mapped_column(String(120))
    party_org: Mapped[str] = mapped_column(String(120))
    status: Mapped[ReportStatus] = mapped_column(value_enum(ReportStatus), default=ReportStatus.PENDING)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    community: Mapped[Community] = relationship()
