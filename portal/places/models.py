"""Places and organisations: street (街道) → community (社区) → grid (网格) → building (楼栋),
and partner units (共建单位) registered under a street. The floor every feature stands on."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum


class Street(Base):
    __tablename__ = "street"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    district: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    communities: Mapped[list[Community]] = relationship(back_populates="street", order_by="Community.id")


class Community(Base):
    __tablename__ = "community"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200), default="")
    # Whether residents may pick this community at sign-up (closed ones are listed no more).
    is_open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    street: Mapped[Street] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community", order_by="Grid.id")


class Grid(Base):
    __tablename__ = "grid"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))

    community: Mapped[Community] = relationship(back_populates="grids")
    buildings: Mapped[list[Building]] = relationship(back_populates="grid", order_by="Building.id")


class Building(Base):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("grid_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    # Denormalised so "is this building in my community?" is one indexed lookup.
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))

    grid: Mapped[Grid] = relationship(back_populates="buildings")


class OrgKind(str, enum.Enum):
    PARTNER = "partner"  # 共建单位: agency, company, school
    MERCHANT = "merchant"  # 合作商户: redeems 福分 vouchers


class Organisation(Base):
    """A partner unit (共建单位) or merchant, registered under a street."""

    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    # Merchants serve one community; partner units may serve the whole street (NULL).
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    kind: Mapped[OrgKind] = mapped_column(value_enum(OrgKind))
    name: Mapped[str] = mapped_column(String(120))
    contact_name: Mapped[str] = mapped_column(String(40), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    street: Mapped[Street] = relationship()
