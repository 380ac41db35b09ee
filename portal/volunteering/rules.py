"""Rules the volunteering features share: who may volunteer where, audited refusals,
row locks, text cleaning, and the membership questions other features ask.

(Moved down from ``posts`` and ``teams`` so that features stand side by side and never
import each other's private helpers.)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.audit.services import record_refusal
from portal.errors import ServiceError
from portal.people.models import Role, User
from portal.places.models import Community
from portal.volunteering.posts import ClaimStatus, PostClaim, ServicePost
from portal.volunteering.teams import Team, TeamMembership, TeamRole

F = TypeVar("F", bound=Callable[..., Any])


def audit_refusals(action: str, target: str | None = None) -> Callable[[F], F]:
    """Record every ServiceError the wrapped service raises as a refused ``action``.

    The wrapped function's signature is ``(session, actor, first_id, ...)``; ``target``
    names what ``first_id`` is ("community", "service_post", "post_claim", "team") so the
    refusal is filed under the right community."""

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapped(session: Session, actor: User, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(session, actor, *args, **kwargs)
            except ServiceError as exc:
                first = args[0] if args and isinstance(args[0], int) else None
                community_id = _community_of(session, target, first)
                record_refusal(
                    session,
                    action,
                    actor_id=getattr(actor, "id", None),
                    community_id=community_id,
                    target=(target, first) if target and first is not None else None,
                    code=exc.code,
                    status=exc.status,
                )
                raise

        return wrapped  # type: ignore[return-value]

    return decorator


def _community_of(session: Session, target: str | None, obj_id: int | None) -> int | None:
    if target is None or obj_id is None:
        return None
    if target == "community":
        return obj_id if session.get(Community, obj_id) is not None else None
    model: Any = None
    if target == "service_post":
        model = ServicePost
    elif target == "post_claim":
        model = PostClaim
    elif target == "team":
        model = Team
    obj = session.get(model, obj_id) if model is not None else None
    return getattr(obj, "community_id", None)


def can_volunteer(user: User, community_id: int) -> bool:
    """Members who may claim posts and join teams here: people who live here, and party
    members and staff who hold their role here."""
    if not user.is_active:
        return False
    if user.community_id == community_id:
        return True
    return any(
        r.community_id == community_id and r.role in (Role.RESIDENT, Role.PARTY_MEMBER, Role.STAFF)
        for r in user.roles
    )


def lock(session: Session, model: Any, obj_id: int) -> Any:
    """Re-read one row and lock it until the transaction ends (PostgreSQL ``FOR NO KEY
    UPDATE``: it does not block inserts of rows that merely reference it; SQLite ignores
    it, its writers are already serialised)."""
    return session.scalar(
        select(model)
        .where(model.id == obj_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def clean(
    value: str | None, limit: int, label: Any, *, required: bool = False, multiline: bool = False
) -> str:
    value = (value or "").strip()
    if not multiline:
        value = " ".join(value.split())
    if required and not value:
        raise ServiceError(_l("%(field)s is required.", field=label), code="required")
    if len(value) > limit:
        raise ServiceError(
            _l("%(field)s is too long (at most %(n)d characters).", field=label, n=limit), code="too_long"
        )
    return value


def active_claims(session: Session, user_id: int) -> list[PostClaim]:
    """The posts the person holds now (status active)."""
    return list(
        session.scalars(
            select(PostClaim)
            .where(PostClaim.user_id == user_id, PostClaim.status == ClaimStatus.ACTIVE)
            .options(selectinload(PostClaim.post))
            .order_by(PostClaim.id)
        )
    )


def is_team_leader(session: Session, user_id: int, team_id: int) -> bool:
    return (
        session.scalar(
            select(TeamMembership.id).where(
                TeamMembership.team_id == team_id,
                TeamMembership.user_id == user_id,
                TeamMembership.role == TeamRole.LEADER,
                TeamMembership.left_at.is_(None),
            )
        )
        is not None
    )


def active_team_ids(session: Session, user_id: int) -> list[int]:
    """Teams the person is a live member of (active teams only)."""
    return list(
        session.scalars(
            select(TeamMembership.team_id)
            .join(Team, Team.id == TeamMembership.team_id)
            .where(
                TeamMembership.user_id == user_id, TeamMembership.left_at.is_(None), Team.is_active.is_(True)
            )
            .order_by(TeamMembership.team_id)
        )
    )
