"""Finding a member by mobile number without telling strangers who lives where.

One neutral answer for "not usable here": a number that is not registered, belongs to a
deactivated account or to someone of another community all get the same message, status
and code, so a form that looks people up (gifts, grants, wishes posted for someone) cannot
be used to learn which numbers have accounts in other communities. The audit record keeps
the real reason for the staff.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.services import record_refusal
from portal.errors import NotFound
from portal.people.models import User

NOT_HERE = _l("No member of this community has this mobile number.")


def not_usable_here(
    message: object = NOT_HERE, *, code: str = "not_found_here", field: str | None = None
) -> NotFound:
    """The one refusal for "this does not exist for you here" (404, one code)."""
    return NotFound(message, code=code, field=field)  # type: ignore[arg-type]


def member_by_phone(
    session: Session,
    community_id: int,
    phone: str,
    *,
    actor_id: int | None,
    action: str,
    field: str = "phone",
    message: object = NOT_HERE,
    code: str = "recipient_not_found",
) -> User:
    """The active member of ``community_id`` (home community) with this number."""
    user = session.scalar(select(User).where(User.phone == (phone or "").strip()))
    if user is None or not user.is_active or user.community_id != community_id:
        reason = "no_account" if user is None else ("inactive" if not user.is_active else "elsewhere")
        record_refusal(
            session, action, actor_id=actor_id, community_id=community_id, code=code, reason=reason
        )
        raise not_usable_here(message, code=code, field=field)
    return user
