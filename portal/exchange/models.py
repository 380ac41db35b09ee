"""Gifts (转赠), staff grants (with corrections by reversal) and the time exchange (互助).

The points themselves live in the ledger; these rows say *why* they moved and point at the
ledger transaction (``ledger_tx_id``). Rules are enforced in ``services`` and backed here by
CHECKs and unique indexes.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from portal.people.models import User


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


def _enum(cls: type[enum.Enum]) -> Any:
    return Enum(cls, native_enum=False, length=20, validate_strings=True, values_callable=_values)


def _in(col: str, e: type[enum.Enum]) -> str:
    return f"{col} IN (" + ", ".join(f"'{m.value}'" for m in e) + ")"


class Gift(Base):
    """A member gives points to another member of the same community."""

    __tablename__ = "exchange_gift"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("giver_id <> recipient_id", name="not_self"),
        UniqueConstraint("giver_id", "idem_key", name="uq_exchange_gift_idem"),
        Index("ix_exchange_gift_giver_created", "giver_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    amount: Mapped[int]
    note: Mapped[str] = mapped_column(String(200), default="")
    idem_key: Mapped[str] = mapped_column(String(64))
    ledger_tx_id: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    giver: Mapped[User] = relationship(foreign_keys=[giver_id])
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])


class GrantCategory(str, enum.Enum):
    MEDIATION = "mediation"  # 调解
    HARDSHIP = "hardship"  # 扶贫帮困
    CIVIC = "civic"  # 文明实践
    OTHER = "other"  # 其他 (free text required)


class GrantTarget(str, enum.Enum):
    PERSON = "person"
    ACTIVITY = "activity"
    TEAM = "team"


class GrantBatch(Base):
    """One staff decision: a category, a reason and an amount for one or many people."""

    __tablename__ = "exchange_grant_batch"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("category", GrantCategory), name="category_allowed"),
        CheckConstraint(_in("target_type", GrantTarget), name="target_allowed"),
        CheckConstraint("category <> 'other' OR length(reason) > 0", name="other_needs_reason"),
        UniqueConstraint("staff_id", "idem_key", name="uq_exchange_grant_batch_idem"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    category: Mapped[GrantCategory] = mapped_column(_enum(GrantCategory))
    reason: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[int]
    target_type: Mapped[GrantTarget] = mapped_column(_enum(GrantTarget))
    target_id: Mapped[int | None]
    idem_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    staff: Mapped[User] = relationship()
    grants: Mapped[list[Grant]] = relationship(back_populates="batch", order_by="Grant.id")


class Grant(Base):
    """Points granted to one person (one ledger transaction); corrected by reversal."""

    __tablename__ = "exchange_grant"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(reversed_at IS NULL) = (reverse_tx_id IS NULL)", name="reversal_consistent"),
        UniqueConstraint("batch_id", "recipient_id", name="uq_exchange_grant_batch_recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("exchange_grant_batch.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    amount: Mapped[int]
    ledger_tx_id: Mapped[int]
    reverse_tx_id: Mapped[int | None]
    reversed_at: Mapped[dt.datetime | None]
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reverse_reason: Mapped[str | None] = mapped_column(String(500))
    forced: Mapped[bool] = mapped_column(default=False)

    batch: Mapped[GrantBatch] = relationship(back_populates="grants")
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])


class ListingKind(str, enum.Enum):
    OFFER = "offer"  # "I can teach calligraphy"
    REQUEST = "request"  # "walk my dog twice a week"


class ListingStatus(str, enum.Enum):
    OPEN = "open"
    TAKEN = "taken"  # a request someone took
    CLOSED = "closed"  # withdrawn by its owner


class Listing(Base):
    __tablename__ = "exchange_listing"
    __table_args__ = (
        CheckConstraint(_in("kind", ListingKind), name="kind_allowed"),
        CheckConstraint(_in("status", ListingStatus), name="status_allowed"),
        CheckConstraint("est_minutes BETWEEN 30 AND 6000", name="est_range"),
        CheckConstraint("kind = 'request' OR status <> 'taken'", name="only_requests_taken"),
        Index("ix_exchange_listing_community_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[ListingKind] = mapped_column(_enum(ListingKind))
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    est_minutes: Mapped[int]
    status: Mapped[ListingStatus] = mapped_column(_enum(ListingStatus), default=ListingStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()


class AgreementStatus(str, enum.Enum):
    ACTIVE = "active"  # agreed; work not reported yet
    DONE = "done"  # provider reported the hours; waiting for the receiver
    PAID = "paid"  # receiver approved and paid
    DISPUTED = "disputed"  # receiver disputed; staff decide
    RESOLVED = "resolved"  # staff decided a number of hours, paid by the receiver
    CANCELLED = "cancelled"  # cancelled before payment (or by staff in a dispute)


# Allowed moves (the service checks them; the CHECKs below keep each state consistent).
TRANSITIONS: dict[AgreementStatus, frozenset[AgreementStatus]] = {
    AgreementStatus.ACTIVE: frozenset({AgreementStatus.DONE, AgreementStatus.CANCELLED}),
    AgreementStatus.DONE: frozenset({AgreementStatus.PAID, AgreementStatus.DISPUTED}),
    AgreementStatus.DISPUTED: frozenset({AgreementStatus.RESOLVED, AgreementStatus.CANCELLED}),
    AgreementStatus.PAID: frozenset(),
    AgreementStatus.RESOLVED: frozenset(),
    AgreementStatus.CANCELLED: frozenset(),
}
LIVE_AGREEMENT = (AgreementStatus.ACTIVE, AgreementStatus.DONE, AgreementStatus.DISPUTED)
_LIVE_SQL = "status IN ('active', 'done', 'disputed')"


class Agreement(Base):
    """A receiver and a provider agree on one piece of work from a listing."""

    __tablename__ = "exchange_agreement"
    __table_args__ = (
        CheckConstraint(_in("status", AgreementStatus), name="status_allowed"),
        CheckConstraint("receiver_id <> provider_id", name="not_self"),
        CheckConstraint(
            "status IN ('active', 'cancelled') OR reported_minutes IS NOT NULL", name="reported_when_done"
        ),
        CheckConstraint("(status IN ('paid', 'resolved')) = (ledger_tx_id IS NOT NULL)", name="paid_has_tx"),
        CheckConstraint(
            "status NOT IN ('paid', 'resolved') OR (points > 0 AND paid_minutes > 0)", name="paid_amounts"
        ),
        CheckConstraint(
            "reported_minutes IS NULL OR reported_minutes BETWEEN 1 AND 6000", name="reported_range"
        ),
        CheckConstraint("status <> 'disputed' OR dispute_reason IS NOT NULL", name="dispute_has_reason"),
        # One live agreement per (listing, receiver): asking twice for the same offer is refused.
        Index(
            "uq_exchange_agreement_live",
            "listing_id",
            "receiver_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("exchange_listing.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[AgreementStatus] = mapped_column(_enum(AgreementStatus), default=AgreementStatus.ACTIVE)
    reported_minutes: Mapped[int | None]
    paid_minutes: Mapped[int | None]
    rate: Mapped[int | None]  # points per hour used for the payment
    points: Mapped[int | None]
    ledger_tx_id: Mapped[int | None]
    dispute_reason: Mapped[str | None] = mapped_column(String(500))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]

    listing: Mapped[Listing] = relationship()
    receiver: Mapped[User] = relationship(foreign_keys=[receiver_id])
    provider: Mapped[User] = relationship(foreign_keys=[provider_id])
