"""微心愿: a resident's small, concrete wish that a volunteer or a team claims and fulfils."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow, value_enum


class WishStatus(str, enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    FULFILLED = "fulfilled"  # the claimer says it is done; waiting for the requester
    CONFIRMED = "confirmed"  # the requester confirmed and rated it
    WITHDRAWN = "withdrawn"


WISH_CATEGORIES = ("生活帮扶", "陪伴就医", "学习用品", "维修", "其他")
# The stored value is a stable code (the Chinese name); pages show it in the reader's language.
WISH_CATEGORY_LABELS = {
    "生活帮扶": _l("Help at home"),
    "陪伴就医": _l("Company to the doctor"),
    "学习用品": _l("School supplies"),
    "维修": _l("Repairs"),
    "其他": _l("Other"),
}


def wish_category_label(code: str) -> str:
    label = WISH_CATEGORY_LABELS.get(code)
    return str(label) if label is not None else code


class Wish(Base):
    __tablename__ = "wish"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("claimed_by_id IS NULL OR claimed_by_id <> requester_id", name="no_self_claim"),
        CheckConstraint("status <> 'confirmed' OR rating IS NOT NULL", name="confirmed_has_rating"),
        CheckConstraint(
            "status NOT IN ('claimed', 'fulfilled', 'confirmed') OR claimed_by_id IS NOT NULL",
            name="claimed_has_claimer",
        ),
        Index("ix_wish_board", "community_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(
        ForeignKey("user.id")
    )  # staff on their behalf, or the requester
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[dt.date | None]
    status: Mapped[WishStatus] = mapped_column(value_enum(WishStatus), default=WishStatus.OPEN)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    # A team claim: the claimer is the team leader acting for the team (id only: teams are
    # another feature's table, checked by the service).
    team_id: Mapped[int | None]
    claimed_at: Mapped[dt.datetime | None]
    fulfilled_at: Mapped[dt.datetime | None]
    fulfil_note: Mapped[str | None] = mapped_column(String(500))
    fulfil_minutes: Mapped[int | None]
    confirmed_at: Mapped[dt.datetime | None]
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(String(500))
    withdrawn_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
