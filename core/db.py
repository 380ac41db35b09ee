"""Database plumbing shared by the ledger and the portal. No Flask imports here.

* ``Base`` — the one declarative base; its metadata carries a naming convention so
  Alembic migrations get stable constraint names on SQLite and PostgreSQL alike.
* ``make_engine(url)`` — an engine configured for the backend:
  SQLite: WAL, foreign keys, a busy timeout and *explicit* transaction control
  (pysqlite's own BEGIN handling is switched off, see ``_sqlite_begin``), so that
  writers can be serialised with ``BEGIN IMMEDIATE``;
  PostgreSQL: psycopg 3, READ COMMITTED, pool pre-ping.
* ``read_only()`` — a context manager marking the current transaction as a reader
  (SQLite then begins DEFERRED instead of IMMEDIATE).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type: values are stored naive-UTC and come back tagged UTC,
    so comparisons never mix naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow() or an aware datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Now, from the one clock (``core.clock``), in UTC."""
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


# --- SQLite transaction mode -------------------------------------------------------

_read_only: contextvars.ContextVar[bool] = contextvars.ContextVar("fufen_db_read_only", default=False)


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside this block are readers: on SQLite they BEGIN DEFERRED
    and so do not queue behind writers. Elsewhere this is a no-op."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def set_read_only(flag: bool) -> contextvars.Token[bool]:
    return _read_only.set(flag)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite (it would otherwise BEGIN lazily
    # and never IMMEDIATE); we emit BEGIN ourselves in _sqlite_begin.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # synchronous stays FULL: a committed 福分 posting must survive power loss.
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the RESERVED lock up front so check-then-write sequences cannot
    # interleave (SQLite ignores SELECT ... FOR UPDATE).
    conn.exec_driver_sql("BEGIN" if _read_only.get() else "BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # pysqlite turns `timeout` into sqlite3_busy_timeout: writers queue, not fail.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def is_postgres(bind: Any) -> bool:
    return bind.dialect.name == "postgresql"


def value_enum(enum_cls: type[enum.Enum], length: int = 20) -> Enum:
    """A portable enum column that stores the members' *values* ("pending"), not their
    names ("PENDING"): CHECK constraints and partial indexes compare with the values."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda e: [str(m.value) for m in e],
    )
