"""Write audit events.

``record`` adds the event to the request's session (it commits with the request).
``record_refusal`` must survive the rollback that a refused request gets.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from portal.audit.models import AuditEvent
from portal.errors import ServiceError


def _ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    community_id: int | None = None,
    outcome: str = "ok",
    target: tuple[str, int] | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        community_id=community_id,
        outcome=outcome,
        target_type=target[0] if target else None,
        target_id=target[1] if target else None,
        ip=_ip(),
        detail=detail,
    )
    session.add(event)
    return event


def record_refusal(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    community_id: int | None = None,
    target: tuple[str, int] | None = None,
    **detail: Any,
) -> None:
    """Record a refused action so that it is kept although the request rolls back.

    Inside a request the event is written after the request's own transaction ends
    (in a transaction of its own); a second connection would deadlock behind SQLite's
    writer lock. Outside a request it is simply added to ``session``.
    """
    kwargs = dict(actor_id=actor_id, community_id=community_id, outcome="refused", target=target, **detail)
    if has_request_context():
        # The request's refusal is on file: the error handler (portal.refusals) adds no second.
        g._fufen_refusal_recorded = True
    defer = session.info.get("defer") if has_request_context() else None
    if defer is not None:
        defer(lambda s: record(s, action, **kwargs))
    else:
        record(session, action, **kwargs)


def refused(
    session: Session,
    error: ServiceError,
    action: str,
    *,
    actor: Any = None,
    community_id: int | None = None,
    target: tuple[str, int] | None = None,
    **detail: Any,
) -> ServiceError:
    """Record ``error`` as a refused ``action`` with these facts and hand it back to raise
    (for refusals that carry more than the request's error handler knows)."""
    record_refusal(
        session,
        action,
        actor_id=getattr(actor, "id", None),
        community_id=community_id,
        target=target,
        code=error.code,
        **detail,
    )
    error.audited = True
    return error
