"""社区一张表: what the community office keeps about each resident beyond their account
(birth date, ID number, living alone, disability) and the community's own tags."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class ResidentInfo(Base):
    """One row per person (their home community's record). The ID number is sensitive:
    masked in lists and exports, shown whole only on the person's page to the staff of
    their community, and every such view is audited."""

    __tablename__ = "resident_info"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    birth_date: Mapped[dt.date | None] = mapped_column(index=True)
    id_number: Mapped[str | None] = mapped_column(String(18))
    lives_alone: Mapped[bool] = mapped_column(default=False)
    disability: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class Tag(Base):
    """A custom tag of one community (e.g. 低保户, 退役军人, 楼栋长)."""

    __tablename__ = "resident_tag"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UserTag(Base):
    __tablename__ = "resident_tag_link"
    __table_args__ = (Index("ix_resident_tag_link_user", "user_id"),)

    tag_id: Mapped[int] = mapped_column(ForeignKey("resident_tag.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
