"""Ledger tables. Only ``ledger`` writes them; everything else reads through the API.

No foreign keys leave the ledger: holders are plain ids (community, user, merchant, org).
Append-only tables (transactions, entries, audit records, idempotency records) are protected
by triggers installed from ``ledger.ddl``; holds may change once (pending → resolved); accounts
may change balance/held/closed_at only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` (rowid alias), not ``BIGINT``.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ACCOUNT_KINDS = ("user", "fund", "merchant", "org", "expired", "settlement")
TX_KINDS = ("earn", "grant", "redeem", "transfer", "gift", "reverse", "settle", "expire", "adjust")
HOLD_STATUSES = ("pending", "captured", "voided", "expired")
GENESIS_HASH = "0" * 64
# Each community's audit chain is split into this many independent hash chains ("shards");
# a posting is sealed in the shard of its idempotency key, so writers of one community only
# wait for each other when their keys fall in the same shard. Changing it is safe for
# existing data (verify checks whatever shards exist), but keep it stable.
CHAIN_SHARDS = 16


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Account(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    # "user:7", "merchant:3", "fund"…: one account per holder and purpose in a community.
    holder: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    org_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8), default="FUFEN")
    may_go_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    # Running balance, updated in the same DB transaction as the entries (O(1) reads).
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sum of pending holds; spendable = balance - held.
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    # How far below zero a forced (admin) reversal has pushed this account; reset to 0
    # as soon as its spendable balance is back at or above zero.
    debt_allowed: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("community_id", "holder"),
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint("held >= 0", name="held"),
        CheckConstraint("debt_allowed >= 0", name="debt_allowed"),
        # Backstop for the overdraft rule enforced by the posting code.
        CheckConstraint("may_go_negative OR balance - held >= -debt_allowed", name="no_overdraft"),
    )


class Transaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The audit chain the transaction is sealed in: the lowest community involved.
    community_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    # Partial unique indexes below: a transaction is reversed at most once, a hold captured
    # at most once (partial, so ordinary postings write no index entry for them).
    reverses_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_transactions.id"))
    hold_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_holds.id"))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint(_in("kind", TX_KINDS), name="kind"),
        Index("ix_ledger_transactions_ref", "ref_type", "ref_id"),
        Index(
            "uq_ledger_transactions_reverses_id",
            "reverses_id",
            unique=True,
            postgresql_where=text("reverses_id IS NOT NULL"),
            sqlite_where=text("reverses_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transactions_hold_id",
            "hold_id",
            unique=True,
            postgresql_where=text("hold_id IS NOT NULL"),
            sqlite_where=text("hold_id IS NOT NULL"),
        ),
    )


class Entry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tx_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    # The account's balance right after this entry: statements need no window sums.
    balance_after: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
    )


class Hold(Base):
    __tablename__ = "ledger_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_accounts.id"), index=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)
    resolve_reason: Mapped[str | None] = mapped_column(Text)
    captured_amount: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(_in("status", HOLD_STATUSES), name="status"),
        CheckConstraint(
            "(status = 'pending') = (resolved_at IS NULL)"
            " AND (status = 'captured') = (captured_amount IS NOT NULL)"
            " AND (captured_amount IS NULL OR (captured_amount >= 0 AND captured_amount <= amount))",
            name="resolution",
        ),
        Index("ix_ledger_holds_pending_expiry", "status", "expires_at"),
    )


class IdempotencyRecord(Base):
    """One row per idempotency key: what was asked (hash) and what came of it."""

    __tablename__ = "ledger_idempotency"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    op: Mapped[str] = mapped_column(String(16))
    request_hash: Mapped[str] = mapped_column(String(64))
    tx_id: Mapped[int | None] = mapped_column(BigInteger)
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class AuditHead(Base):
    """The tip of one of a community's hash chains (``shard`` 0..CHAIN_SHARDS-1). Locking
    this row orders the ledger writes sealed in that chain; other chains never wait on it."""

    __tablename__ = "ledger_audit_heads"

    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=0)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class AuditRecord(Base):
    __tablename__ = "ledger_audit_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    shard: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(32))
    tx_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("community_id", "shard", "seq"),
        Index(
            "ix_ledger_audit_records_hold_id",
            "hold_id",
            postgresql_where=text("hold_id IS NOT NULL"),
            sqlite_where=text("hold_id IS NOT NULL"),
        ),
    )


class Checkpoint(Base):
    """A signed snapshot of one community's chain heads and totals (``ledger.checkpoint``).

    ``payload`` is the canonical JSON that was signed (Ed25519, ``signature`` in hex) with a
    key that is not in the database; ``key_id`` names the public key. Append-only."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime]
    payload: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))

    __table_args__ = (Index("ix_ledger_checkpoints_community_id_id", "community_id", "id"),)
