"""Read-only lookups for the 首页 / 服务 / 福分 pages. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from portal.people.models import Role, User

ROLE_LABELS = {
    Role.RESIDENT: _l("Resident"),
    Role.PARTY_MEMBER: _l("Party member (reported)"),
    Role.STAFF: _l("Community staff"),
    Role.MERCHANT: _l("Merchant / partner unit"),
    Role.STREET_ADMIN: _l("Street administrator"),
    Role.SYSADMIN: _l("System administrator"),
}


@dataclass(frozen=True)
class RoleLine:
    label: Any
    place: str | None


def role_lines(user: User) -> list[RoleLine]:
    """The user's roles with the place each one is held in, residents first."""
    lines: list[RoleLine] = []
    seen: set[tuple[Role, str | None]] = set()
    if user.community is not None:
        seen.add((Role.RESIDENT, user.community.name))
        lines.append(RoleLine(ROLE_LABELS[Role.RESIDENT], user.community.name))
    order = list(Role)
    for r in sorted(user.roles, key=lambda r: order.index(r.role)):
        place = r.community.name if r.community is not None else None
        if (r.role, place) in seen:
            continue
        seen.add((r.role, place))
        lines.append(RoleLine(ROLE_LABELS.get(r.role, r.role.value), place))
    return lines


@dataclass(frozen=True)
class PointsSummary:
    balance: int  # posted balance
    available: int  # spendable: balance minus points held for pending redemptions


def points_summary(session: Session, user: User) -> PointsSummary | None:
    """The user's 福分 in their home community, read through the ledger's public read API
    (find the account without opening one, then read it).

    None when the user has no home community. A user whose account was never opened
    has earned nothing yet: 0.
    """
    import ledger

    if user.community_id is None:
        return None
    account_id = ledger.find_account(session, user.community_id, f"user:{user.id}")
    if account_id is None:
        return PointsSummary(0, 0)
    return PointsSummary(ledger.balance(session, account_id), ledger.available(session, account_id))
