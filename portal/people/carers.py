"""家属代办: a relative who may act for a person without a phone — on the people floor,
because activities, rewards and needs all ask "may this user act for that one?"."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from core.db import Base, utcnow
from portal.errors import Forbidden
from portal.people.models import User

# Never a usable argon2 hash: a person enrolled without a login (代办, or imported into the
# community table) cannot log in; relatives linked as carers act for them.
NO_LOGIN = "!proxy"


class Carer(Base):
    """``carer`` may act for ``dependent``: sign them up, redeem their 福分, see their
    vouchers and statement. Made by the staff of the dependent's community, or when a
    family member enrols the person themselves."""

    __tablename__ = "carer"
    __table_args__ = (
        UniqueConstraint("dependent_id", "carer_id"),
        CheckConstraint("dependent_id <> carer_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dependent_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    carer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    dependent: Mapped[User] = relationship(foreign_keys=[dependent_id])
    carer: Mapped[User] = relationship(foreign_keys=[carer_id])


def is_carer(session: Session, actor: User, user_id: int) -> bool:
    return (
        actor.is_active
        and session.scalar(select(Carer.id).where(Carer.carer_id == actor.id, Carer.dependent_id == user_id))
        is not None
    )


def dependent_for(session: Session, actor: User, user_id: int) -> User:
    """The person ``actor`` may act for (a carer link), active."""
    person = session.get(User, user_id)
    if person is None or not person.is_active or not is_carer(session, actor, user_id):
        raise Forbidden(_l("You cannot act for this person."), code="not_carer")
    return person
