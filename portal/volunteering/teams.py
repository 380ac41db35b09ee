"""志愿队伍 (volunteer teams) and their members.

A membership is live while ``left_at`` is NULL; leaving sets it (rows are kept as the
team's history). Database backstops: one live membership per person per team (partial
unique index), roles stored by value. "A team with members has a leader" and the per-person
cap are kept by ``portal.teams.services`` under row locks.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum

if TYPE_CHECKING:
    from portal.people.models import User
    from portal.places.models import Community


class TeamRole(str, enum.Enum):
    LEADER = "leader"
    MEMBER = "member"


class Team(Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)

    community: Mapped[Community] = relationship()


class TeamMembership(Base):
    __tablename__ = "team_membership"
    __table_args__ = (
        Index(
            "uq_team_membership_live",
            "team_id",
            "user_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
        Index("ix_team_membership_user_live", "user_id", "left_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    role: Mapped[TeamRole] = mapped_column(value_enum(TeamRole), default=TeamRole.MEMBER)
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    left_at: Mapped[dt.datetime | None]

    team: Mapped[Team] = relationship()
    user: Mapped[User] = relationship()
