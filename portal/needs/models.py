"""居民点单 · 社区下单 · 单位接单 (the "三单" mechanism).

- ``Need`` (需求清单): a resident (or staff for them) asks for help.
- ``Resource`` (资源清单): a partner unit (共建单位) offers something, with capacity and hours.
- ``Project`` (项目清单): staff match a need to a resource, a partner unit, a volunteer team
  or a service post, with an owner and a deadline; the unit accepts, reports progress and
  done; the resident confirms and rates (百姓阅卷).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum
from portal.people.models import User
from portal.places.models import Organisation


class NeedCategory(str, enum.Enum):
    CARE = "care"  # 生活照料
    HEALTH = "health"  # 医疗健康
    LEGAL = "legal"  # 法律咨询
    REPAIR = "repair"  # 维修
    VENUE = "venue"  # 场地
    CULTURE = "culture"  # 文体活动
    OTHER = "other"


class Urgency(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class NeedStatus(str, enum.Enum):
    OPEN = "open"  # waiting to be matched
    MATCHED = "matched"  # a project carries it
    DONE = "done"  # the project is done; waiting for the resident
    CONFIRMED = "confirmed"  # the resident confirmed and rated
    WITHDRAWN = "withdrawn"


class ResourceKind(str, enum.Enum):
    VENUE = "venue"  # 场地
    PARKING = "parking"  # 车位
    CLINIC = "clinic"  # 义诊
    LEGAL = "legal"  # 法律咨询
    REPAIR = "repair"  # 维修
    OTHER = "other"


class ProjectStatus(str, enum.Enum):
    DISPATCHED = "dispatched"  # staff created it; the unit has not accepted yet
    ACCEPTED = "accepted"
    DONE = "done"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Need(Base):
    __tablename__ = "need"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("status <> 'confirmed' OR rating IS NOT NULL", name="confirmed_has_rating"),
        Index("ix_need_community_status", "community_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    category: Mapped[NeedCategory] = mapped_column(value_enum(NeedCategory))
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[Urgency] = mapped_column(value_enum(Urgency), default=Urgency.NORMAL)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    photo_path: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[NeedStatus] = mapped_column(value_enum(NeedStatus), default=NeedStatus.OPEN)
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])


class Resource(Base):
    """Something a partner unit offers the communities of its street (or one community)."""

    __tablename__ = "resource"
    __table_args__ = (CheckConstraint("capacity BETWEEN 1 AND 100000", name="capacity_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    kind: Mapped[ResourceKind] = mapped_column(value_enum(ResourceKind))
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(default=1)  # people / places / sessions per month
    hours: Mapped[str] = mapped_column(String(100), default="")  # e.g. 每周六 9:00–11:30
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (
        UniqueConstraint("need_id"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(
            "organisation_id IS NOT NULL OR team_id IS NOT NULL OR post_id IS NOT NULL", name="has_carrier"
        ),
        Index("ix_project_community_status", "community_id", "status", "deadline"),
        Index("ix_project_org_status", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    # Who carries it out: a partner unit (directly or through its resource), a volunteer
    # team or a service post (ids checked by the service against the community).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("service_post.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"))  # the staff member responsible
    title: Mapped[str] = mapped_column(String(80))
    deadline: Mapped[dt.date]
    status: Mapped[ProjectStatus] = mapped_column(value_enum(ProjectStatus), default=ProjectStatus.DISPATCHED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    rating: Mapped[int | None]

    need: Mapped[Need] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    updates: Mapped[list[ProjectUpdate]] = relationship(order_by="ProjectUpdate.id")


class ProjectUpdate(Base):
    """One line of a project's story: accepted, progress, done, confirmed (append-only)."""

    __tablename__ = "project_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(20))  # dispatched | accepted | progress | done | confirmed
    note: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()
