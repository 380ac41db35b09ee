"""积分超市: rewards listed by merchants (for their organisation) or community staff (for the
community), vouchers (a redemption = a ledger hold + one unit of stock) and monthly
settlements of what a merchant received."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

MAX_PRICE = 10_000  # 福分 per reward (the ledger's own cap is higher)
MAX_STOCK = 100_000
MAX_MONTHLY_LIMIT = 99


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [m.value for m in enum_cls]


class RewardCategory(str, enum.Enum):
    DISCOUNT = "discount"  # 商品优惠
    HOUSEKEEPING = "housekeeping"  # 家政互助
    SERVICE = "service"  # 生活服务
    CULTURE = "culture"  # 文化活动
    OTHER = "other"  # 其他


class VoucherStatus(str, enum.Enum):
    OPEN = "open"  # points held, stock reserved, waiting for the merchant
    FULFILLED = "fulfilled"  # the merchant scanned it: hold captured
    CANCELLED = "cancelled"  # the resident cancelled: hold voided, stock back
    EXPIRED = "expired"  # not used in time: hold released, stock back


LIVE_VOUCHER_STATUSES = (VoucherStatus.OPEN, VoucherStatus.FULFILLED)


class Reward(Base):
    __tablename__ = "reward"
    __table_args__ = (
        CheckConstraint(f"price > 0 AND price <= {MAX_PRICE}", name="price_range"),
        CheckConstraint(f"stock >= 0 AND stock <= {MAX_STOCK}", name="stock_range"),
        CheckConstraint(f"monthly_limit BETWEEN 1 AND {MAX_MONTHLY_LIMIT}", name="monthly_limit_range"),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_until >= valid_from", name="valid_dates"
        ),
        Index("ix_reward_store", "community_id", "is_active", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    # The merchant offering it; NULL = a community reward run by the community's staff.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[RewardCategory] = mapped_column(
        Enum(RewardCategory, native_enum=False, length=20, validate_strings=True, values_callable=_values)
    )
    price: Mapped[int]
    stock: Mapped[int]
    monthly_limit: Mapped[int] = mapped_column(default=1)
    valid_from: Mapped[dt.date | None]
    valid_until: Mapped[dt.date | None]
    picture_path: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Voucher(Base):
    """One redemption. The points stay the resident's (held) until the merchant fulfils it."""

    __tablename__ = "reward_voucher"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("hold_id"),
        # A replayed redeem form (same idem_key) finds this row instead of spending twice.
        UniqueConstraint("user_id", "idem_key"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint(
            "status <> 'fulfilled' OR (fulfilled_at IS NOT NULL AND fulfilled_by_id IS NOT NULL"
            " AND capture_tx_id IS NOT NULL)",
            name="fulfilled_complete",
        ),
        CheckConstraint(
            "status NOT IN ('cancelled', 'expired') OR closed_at IS NOT NULL", name="closed_has_time"
        ),
        CheckConstraint("fulfilled_by_id IS NULL OR fulfilled_by_id <> user_id", name="no_self_fulfil"),
        Index("ix_reward_voucher_limit", "user_id", "reward_id", "created_at"),
        Index("ix_reward_voucher_settle", "organisation_id", "community_id", "status", "fulfilled_at"),
        Index("ix_reward_voucher_due", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    idem_key: Mapped[str] = mapped_column(String(64))
    price: Mapped[int]
    hold_id: Mapped[int]
    status: Mapped[VoucherStatus] = mapped_column(
        Enum(VoucherStatus, native_enum=False, length=20, validate_strings=True, values_callable=_values),
        default=VoucherStatus.OPEN,
    )
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fulfilled_at: Mapped[dt.datetime | None]
    fulfilled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    capture_tx_id: Mapped[int | None]
    closed_at: Mapped[dt.datetime | None]

    reward: Mapped[Reward] = relationship()


class Settlement(Base):
    """A street admin confirmed a merchant's monthly statement: the points the merchant
    received that month moved from its account to the community's ``settlement`` account
    (ledger kind ``settle``). One per (merchant, community, month)."""

    __tablename__ = "reward_settlement"
    __table_args__ = (
        UniqueConstraint("organisation_id", "community_id", "month"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("voucher_count > 0", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    month: Mapped[str] = mapped_column(String(7))  # "2026-10", local (Asia/Shanghai) month
    points: Mapped[int]
    voucher_count: Mapped[int]
    ledger_tx_id: Mapped[int]
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
