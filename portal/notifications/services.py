"""Create and read notifications. Services call ``notify``; nothing here commits."""

from __future__ import annotations

from typing import Any

from flask_babel.speaklater import LazyString
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.notifications.models import Notification


def notify(
    session: Session,
    user_id: int,
    kind: str,
    title: Any,
    body: Any = "",
    link: str | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Put a message in ``user_id``'s inbox (once per ``dedupe_key``) and hand it to the
    delivery channel after the surrounding transaction commits.

    Pass ``title``/``body`` as ``lazy_gettext`` strings: their message ids and parameters are
    stored and the inbox renders them in the reader's language. A plain ``str`` (someone's
    own words, e.g. a rejection reason) is stored and shown as written."""
    i18n = {k: v for k, v in (("title", as_message(title)), ("body", as_message(body))) if v}
    values = dict(
        user_id=user_id,
        kind=kind,
        title=str(title)[:120],
        body=str(body)[:500],
        link=link,
        dedupe_key=dedupe_key,
        created_at=utcnow(),
        i18n=i18n or None,
    )
    if dedupe_key is None:
        session.add(Notification(**values))
    else:
        # ON CONFLICT DO NOTHING: a reminder job that runs twice, or two racing requests,
        # still deliver one message.
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = session.execute(
            insert(Notification).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        if result.rowcount == 0:
            return
    _after_commit(session, values)


def as_message(value: Any) -> dict[str, Any] | None:
    """``{"msgid", "params"}`` for a lazy_gettext string (parameters that are lazy strings
    themselves nest); None for plain text."""
    if isinstance(value, LazyString) and getattr(value, "_args", None):
        params = {
            k: as_message(v) or (v if isinstance(v, (int, float)) else str(v))
            for k, v in value._kwargs.items()
        }
        return {"msgid": str(value._args[0]), "params": params}
    return None


def render_message(stored: Any) -> str:
    """A stored ``{"msgid", "params"}`` in the current request's language."""
    from flask_babel import gettext

    if not isinstance(stored, dict) or not isinstance(stored.get("msgid"), str):
        return ""
    params = {
        k: (render_message(v) if isinstance(v, dict) else v) for k, v in (stored.get("params") or {}).items()
    }
    try:
        return gettext(stored["msgid"], **params) if params else gettext(stored["msgid"])
    except (KeyError, ValueError, TypeError):
        return gettext(stored["msgid"])


def title_of(n: Notification) -> str:
    return render_message((n.i18n or {}).get("title")) or n.title


def body_of(n: Notification) -> str:
    return render_message((n.i18n or {}).get("body")) or n.body


def _after_commit(session: Session, values: dict[str, object]) -> None:
    from flask import has_app_context

    if not has_app_context():
        return
    from portal.notifications.delivery import current_sender

    sender = current_sender()
    pending = session.info.setdefault("fufen_outbox", [])
    pending.append(values)
    if len(pending) == 1:
        from sqlalchemy import event

        def deliver(sess: Session) -> None:
            for v in sess.info.pop("fufen_outbox", []):
                try:
                    sender.send(
                        user_id=int(v["user_id"]),
                        kind=str(v["kind"]),
                        title=str(v["title"]),  # type: ignore[call-overload]
                        body=str(v["body"]),
                        link=v["link"],
                    )  # type: ignore[arg-type]
                except Exception:  # a gateway failure must not break the request
                    import logging

                    logging.getLogger(__name__).exception("notification delivery failed")

        def discard(sess: Session) -> None:
            sess.info.pop("fufen_outbox", None)

        event.listen(session, "after_commit", deliver, once=True)
        event.listen(session, "after_rollback", discard, once=True)


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def inbox(
    session: Session, user_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[Notification]:
    q = select(Notification).where(Notification.user_id == user_id)
    if before_id is not None:
        q = q.where(Notification.id < before_id)
    return list(session.scalars(q.order_by(Notification.id.desc()).limit(limit)))


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)
