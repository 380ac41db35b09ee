"""Value types of the public API and the shared plumbing (config, connection access)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.db import read_only

Db = Session | Connection


def conn_of(db: Db) -> Connection:
    """The connection of the caller's transaction (a Session begins one if needed)."""
    return db.connection() if isinstance(db, Session) else db


def is_autocommit(conn: Connection) -> bool:
    """A PostgreSQL connection in autocommit mode: every statement is its own transaction."""
    return conn.dialect.name == "postgresql" and bool(
        getattr(conn.connection.driver_connection, "autocommit", False)
    )


def write_conn_of(db: Db) -> Connection:
    """``conn_of`` for writes of several statements: they need the caller's transaction, so
    an autocommit connection is refused (only a plain posting through the PostgreSQL
    function is one atomic statement and may run on one)."""
    conn = conn_of(db)
    if is_autocommit(conn):
        from ledger.errors import InvalidRequest

        raise InvalidRequest("this ledger write needs a transaction; the connection is in autocommit mode")
    return conn


def read_conn_of(db: Db) -> Connection:
    """Same, but a transaction begun here is a reader (SQLite: BEGIN DEFERRED, so balance
    reads never queue behind writers)."""
    with read_only():
        return conn_of(db)


@dataclass(frozen=True)
class Actor:
    """Who asked for a movement. Always explicit: ``Actor.user(id)`` or ``Actor.system(why)``."""

    id: int | None
    why: str = ""

    @classmethod
    def user(cls, user_id: int) -> Actor:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise TypeError("user_id must be an int")
        return cls(user_id)

    @classmethod
    def system(cls, why: str) -> Actor:
        if not why:
            raise ValueError("a system actor needs a reason (e.g. 'hold expiry')")
        return cls(None, why)

    @property
    def is_system(self) -> bool:
        return self.id is None


@dataclass(frozen=True)
class PostResult:
    tx_id: int
    kind: str
    created_at: dt.datetime
    entries: tuple[tuple[int, int], ...]  # (account_id, amount), account-id order
    replayed: bool = False


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    account_id: int
    amount: int
    status: str
    expires_at: dt.datetime | None
    replayed: bool = False


@dataclass(frozen=True)
class Posting:
    """One posting of a batch (``post_many``); same fields as ``post``."""

    key: str
    kind: str
    entries: tuple[tuple[int, int], ...] | list[tuple[int, int]]
    actor: Actor
    reason: str
    ref_type: str | None = None
    ref_id: int | None = None
    allow_cross_community: bool = False


@dataclass(frozen=True)
class AccountInfo:
    id: int
    community_id: int
    kind: str
    holder: str
    user_id: int | None
    merchant_id: int | None
    org_id: int | None
    currency: str
    may_go_negative: bool
    balance: int
    held: int
    closed_at: dt.datetime | None

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    tx_id: int
    kind: str
    amount: int
    balance_after: int
    created_at: dt.datetime
    reason: str
    actor_id: int | None
    ref_type: str | None
    ref_id: int | None


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    # Pass as ``before`` to get the next (older) page; None when there is none.
    next_before: int | None


@dataclass(frozen=True)
class LedgerConfig:
    # Largest total (sum of the positive amounts) of one posting or hold; None = no cap.
    max_posting_amount: int | None = 100_000
    # On PostgreSQL, post through the one-round-trip ``ledger_post`` function.
    use_pg_functions: bool = True
    # Ed25519 public keys (hex) whose checkpoint signatures ``verify`` accepts; empty: the
    # signatures are not checked (and verify says so).
    verify_keys: tuple[str, ...] = ()


_config = LedgerConfig()
_python_path: contextvars.ContextVar[bool] = contextvars.ContextVar("ledger_python_path", default=False)


def configure(**changes: object) -> LedgerConfig:
    """Set process-wide ledger settings (the app calls this from its config at start-up)."""
    global _config
    _config = replace(_config, **changes)  # type: ignore[arg-type]
    return _config


def config() -> LedgerConfig:
    return _config


@contextlib.contextmanager
def python_path() -> Iterator[None]:
    """Force the portable Python posting path (SQLAlchemy Core) for plain postings instead
    of the plpgsql functions (PostgreSQL) or the prepared sqlite3 statements (SQLite); the
    tests run the same operations through every path and compare."""
    token = _python_path.set(True)
    try:
        yield
    finally:
        _python_path.reset(token)


def use_pg_function(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and _config.use_pg_functions and not _python_path.get()


def use_sqlite_statements(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite" and not _python_path.get()
