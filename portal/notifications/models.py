from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Notification(Base):
    """One message in a user's inbox. ``i18n`` keeps what the system said as message ids and
    parameters (``{"title": {"msgid": …, "params": {…}}, "body": …}``), rendered in the
    reader's language at read time; ``title``/``body`` hold the text as sent (the fallback,
    and the person's own words, e.g. a rejection reason, which are shown as written)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "hours.approved", "activity.reminder"
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(500), default="")
    link: Mapped[str | None] = mapped_column(String(200))
    i18n: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # De-duplication: the same (user, dedupe_key) is delivered once (e.g. one reminder
    # per activity per person, however often the reminder job runs).
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
