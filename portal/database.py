"""A small Flask binding for plain SQLAlchemy 2.0: one Session per app context and
one commit per request.

Services flush and never commit; ``after_request`` commits once when the response is
a success or a redirect (status < 400) and rolls back otherwise, so a refused form
(4xx) or an error (5xx) changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from flask import Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory, set_read_only

log = logging.getLogger(__name__)

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Database:
    def __init__(self) -> None:
        self._engines: dict[int, Engine] = {}
        self._factories: dict[int, sessionmaker[Session]] = {}

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        engine_options = dict(app.config.get("DATABASE_ENGINE_OPTIONS", {}))
        if url in ("sqlite://", "sqlite:///:memory:"):
            # One shared in-memory database for the whole app (tests).
            from sqlalchemy.pool import StaticPool

            engine_options.setdefault("poolclass", StaticPool)
            engine_options.setdefault("connect_args", {"check_same_thread": False})
        engine = app.config.get("DATABASE_ENGINE") or make_engine(url, **engine_options)
        self._engines[id(app)] = engine
        bind = app.config.get("DATABASE_BIND")
        if bind is not None:
            # Tests: every request's commit becomes a SAVEPOINT release inside one outer
            # transaction that the test rolls back.
            self._factories[id(app)] = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
        else:
            self._factories[id(app)] = make_session_factory(engine)
        app.extensions["fufen_db"] = self
        app.before_request(self._before_request)
        app.after_request(self._after_request)
        app.teardown_appcontext(self._teardown)

    # --- access ------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        from flask import current_app

        return self._engines[id(current_app._get_current_object())]  # type: ignore[attr-defined]

    @property
    def session(self) -> Session:
        sess = g.get("_fufen_session")
        if sess is None:
            from flask import current_app

            factory = self._factories[id(current_app._get_current_object())]  # type: ignore[attr-defined]
            sess = factory()
            # Lets lower floors (audit) defer a write past this request's transaction
            # without importing the extension object.
            sess.info["defer"] = self.defer
            g._fufen_session = sess
        return sess

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """The commit boundary of a CLI command (the web's is ``after_request``):
        commit when the block succeeds, roll back when it raises."""
        sess = self.session
        try:
            yield sess
            sess.commit()
        except BaseException:
            sess.rollback()
            raise

    def mark_rollback(self) -> None:
        """End this request with a rollback although the response is a success."""
        g._fufen_rollback = True

    def defer(self, fn: Callable[[Session], object]) -> None:
        """Run ``fn(session)`` after the request's transaction has ended (committed or
        rolled back), in a transaction of its own. Used for audit records of refusals."""
        g.setdefault("_fufen_deferred", []).append(fn)

    # --- request lifecycle --------------------------------------------------------
    def _before_request(self) -> None:
        # SQLite: readers BEGIN DEFERRED, writers BEGIN IMMEDIATE (see core.db).
        g._fufen_ro_token = set_read_only(request.method in _READ_METHODS)

    def on_rollback(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` unless this request's transaction commits (e.g. remove a file
        written for a row that is rolled back)."""
        g.setdefault("_fufen_undo", []).append(fn)

    def _settle_undo(self, committed: bool) -> None:
        undo = g.pop("_fufen_undo", None) or []
        if committed:
            return
        for fn in undo:
            try:
                fn()
            except Exception:  # cleanup must never turn a response into a 500
                log.exception("rollback cleanup failed")

    def _after_request(self, response: Response) -> Response:
        sess: Session | None = g.get("_fufen_session")
        if sess is None:
            self._settle_undo(committed=False)
            return response
        if response.status_code >= 400 or g.get("_fufen_rollback"):
            _quiet_rollback(sess)
            self._settle_undo(committed=False)
        else:
            answered = self._commit(sess, response)
            self._settle_undo(committed=answered is response)
            response = answered
        self._run_deferred(sess)
        return response

    def _commit(self, sess: Session, response: Response) -> Response:
        """Commit the request's transaction and answer honestly about the outcome.

        A race lost at commit time (unique key, serialisation, deadlock, lock timeout) means
        nothing was written: 409 "try again". A lost connection *during* COMMIT means the
        outcome is unknown — the server may have committed before the link died. On
        PostgreSQL the transaction id is read just before COMMIT and its fate asked with
        ``pg_xact_status`` on a new connection: committed → the normal answer; aborted →
        "nothing was saved"; still unknown (database unreachable) → a page that says it
        may have been saved and where to check. Resubmitting the same form replays its
        idempotency key, so it never does the thing twice.
        """
        from portal.outage import is_db_unavailable, standalone_error

        xid: str | None = None
        try:
            if request.method not in _READ_METHODS and sess.in_transaction():
                sess.flush()
                if sess.get_bind().dialect.name == "postgresql":
                    xid = sess.scalar(text("SELECT pg_current_xact_id_if_assigned()::text"))
            sess.commit()
            return response
        except (IntegrityError, OperationalError, DBAPIError) as exc:
            _quiet_rollback(sess)
            if not is_db_unavailable(exc):
                log.warning("commit failed (race lost, nothing written): %s", exc)
                from portal.errors import conflict_response

                return conflict_response()
            outcome = self._resolve(xid) if xid else "aborted"
            log.warning("connection lost at commit (xid %s): outcome %s; %s", xid, outcome, exc)
            if outcome == "committed":
                return response
            if outcome == "aborted":
                return standalone_error(503, "unavailable", retry_after=30)
            return standalone_error(503, "unknown_outcome")

    def _resolve(self, xid: str, attempts: int = 8, pause_s: float = 0.5) -> str | None:
        """``committed`` / ``aborted`` for a transaction id, None when the database cannot
        be asked within ~4 s (a restarting server comes back within that time)."""
        for attempt in range(attempts):
            try:
                with self.engine.connect() as conn:
                    status = conn.scalar(text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": xid})
                    conn.rollback()
                if status in ("committed", "aborted"):
                    return str(status)
                if status is None:  # too old to know (never the case for our own, just-ended one)
                    return None
            except DBAPIError:
                pass
            if attempt + 1 < attempts:
                time.sleep(pause_s)
        return None

    def _run_deferred(self, sess: Session) -> None:
        deferred = g.pop("_fufen_deferred", None)
        if not deferred:
            return
        try:
            for fn in deferred:
                fn(sess)
            sess.commit()
        except Exception:  # an audit write must never turn a response into a 500
            _quiet_rollback(sess)
            log.exception("deferred write failed")

    def _teardown(self, _exc: BaseException | None) -> None:
        self._settle_undo(committed=False)  # still pending: the request never committed
        sess: Session | None = g.pop("_fufen_session", None)
        if sess is not None:
            _quiet_rollback(sess)
            sess.close()
        token = g.pop("_fufen_ro_token", None)
        if token is not None:
            try:
                from core.db import _read_only

                _read_only.reset(token)
            except ValueError:  # reset from another context (streamed response)
                pass

    def dispose(self, app: Flask) -> None:
        engine = self._engines.get(id(app))
        if engine is not None:
            engine.dispose()


def _quiet_rollback(sess: Session) -> None:
    """Roll back; on a dead connection there is nothing to roll back (the server did)."""
    try:
        sess.rollback()
    except DBAPIError as exc:
        log.warning("rollback failed: %s", exc)
