"""People and the roles they hold in a place."""

from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow, value_enum
from portal.places.models import Building, Community


class Role(str, enum.Enum):
    RESIDENT = "resident"  # 居民/志愿者 — held in a community
    PARTY_MEMBER = "party_member"  # 在职党员 — held in the community they reported to
    STAFF = "staff"  # 社区工作者 — held in a community
    MERCHANT = "merchant"  # 商户/共建单位联系人 — held in a community, tied to an organisation
    STREET_ADMIN = "street_admin"  # 街道管理员 — held in a street
    SYSADMIN = "sysadmin"  # 系统管理员 — global


COMMUNITY_ROLES = frozenset({Role.RESIDENT, Role.PARTY_MEMBER, Role.STAFF, Role.MERCHANT})


class User(UserMixin, Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL for a person enrolled by staff or family (代办) who has no mobile phone: they
    # cannot log in; their relatives (``portal.proxy``) act for them.
    phone: Mapped[str | None] = mapped_column(String(11), unique=True)
    landline: Mapped[str | None] = mapped_column(String(20))
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(40))
    real_name: Mapped[str | None] = mapped_column(String(40))
    # Home community: where the person lives and where their 福分 account is.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change / deactivation: every older session stops being valid.
    session_version: Mapped[int] = mapped_column(default=1)
    large_text: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # TOTP second factor (RFC 6238): base32 secret once enrolled; the last accepted time
    # step, so that one code cannot be used twice.
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enabled_at: Mapped[dt.datetime | None]
    mfa_last_step: Mapped[int | None]

    community: Mapped[Community | None] = relationship()
    building: Mapped[Building | None] = relationship()
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", foreign_keys="RoleAssignment.user_id", cascade="all, delete-orphan"
    )

    @property
    def is_proxy(self) -> bool:
        """Enrolled without a mobile phone: no login, others act for them."""
        return self.phone is None

    # Flask-Login: the session carries "<id>:<session_version>" so that a password
    # change or deactivation ends every other session at once.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True


class RoleAssignment(Base):
    """A role held *in* a place: community roles carry community_id, street admins
    street_id, system admins neither. The CHECK keeps the scope consistent."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "community_id", "street_id"),
        CheckConstraint(
            "(role IN ('resident', 'party_member', 'staff', 'merchant')"
            " AND community_id IS NOT NULL AND street_id IS NULL)"
            " OR (role = 'street_admin' AND street_id IS NOT NULL AND community_id IS NULL)"
            " OR (role = 'sysadmin' AND street_id IS NULL AND community_id IS NULL)",
            name="scope_matches_role",
        ),
        CheckConstraint("role <> 'merchant' OR organisation_id IS NOT NULL", name="merchant_has_org"),
        Index("ix_role_assignment_community_role", "community_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    role: Mapped[Role] = mapped_column(value_enum(Role))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
    community: Mapped[Community | None] = relationship()


class UserSession(Base):
    """A logged-in device, kept on the server so that it can be ended at once.

    The browser's signed cookie carries a random token; only its SHA-256 is stored here.
    Every request checks that the row exists, belongs to the user and is not revoked,
    so logout, a password change, deactivation and "log out my other devices" take
    effect on the next request — a copied cookie is worth nothing afterwards.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_live", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set once the second factor was checked in this session (privileged roles).
    mfa_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # logout / password / deactivated / other_devices / expired / admin
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")


class RecoveryCode(Base):
    """One-time recovery codes for a lost phone; only a hash is kept."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None]


class ConsentRecord(Base):
    """A person's separate consent (PIPL Art. 29) to a purpose, with the version of the
    text they agreed to. Withdrawal sets ``withdrawn_at``; rows are never deleted."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None]
