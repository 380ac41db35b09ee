"""API credentials and remembered answers.

* ``ApiToken`` — a bearer token: a *device* token from ``POST /api/v1/auth/token`` (every
  scope the person's roles allow, ends with a password change) or a *personal access
  token* for a partner system (named, scoped, expiring). Only the SHA-256 of the secret is
  stored; the secret is shown once.
* ``IdempotencyRecord`` — the status and body of a successful POST that moved points or
  stock, kept under the client's ``Idempotency-Key`` so a retry gets the same answer
  instead of a second redemption. Written in the request's own transaction: the record
  exists exactly when the effect does.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow, value_enum


class TokenKind(str, enum.Enum):
    DEVICE = "device"
    PERSONAL = "personal"


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[TokenKind] = mapped_column(value_enum(TokenKind))
    name: Mapped[str] = mapped_column(String(60))
    # hex SHA-256 of the whole secret; the first characters are kept to tell tokens apart.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    # Space-separated scope names.
    scopes: Mapped[str] = mapped_column(String(400))
    # Device tokens die with the sessions when the password changes (User.session_version).
    session_version: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class IdempotencyRecord(Base):
    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of method, path and the canonical JSON body: the same key with another
    # request is refused (422).
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
