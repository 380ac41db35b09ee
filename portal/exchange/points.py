"""Read-only data for the My 福分 page: balance, held, available, the statement (keyset
pages through ``ledger.statement``) and earned vs spent per month. Only the user's own
account is ever read here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

import ledger
from portal.exchange.services import LOCAL_TZ


def all_lines(session: Session, account_id: int, *, since: dt.datetime | None = None) -> Iterator[Any]:
    """Every statement line of the account, newest first (stops at ``since``), read in
    keyset pages through ``ledger.statement``."""
    before = None
    while True:
        page = ledger.statement(session, account_id, limit=500, before=before)
        for line in page.lines:
            if since is not None and _aware(line.created_at) < since:
                return
            yield line
        if page.next_before is None:
            return
        before = page.next_before


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass
class Month:
    label: str  # "2024-06"
    earned: int
    spent: int
    earned_pct: int = 0  # bar width bucket 0..100 (multiples of 5), relative to the busiest month
    spent_pct: int = 0


@dataclass
class MyPoints:
    balance: int
    held: int
    available: int
    lines: list[Any]
    next_before: int | None
    months: list[Month] = field(default_factory=list)


def month_starts(now: dt.datetime, count: int = 12) -> list[dt.date]:
    """First days (Shanghai) of the last ``count`` months, oldest first, ending with this month."""
    local = now.astimezone(LOCAL_TZ).date().replace(day=1)
    out = []
    y, m = local.year, local.month
    for _ in range(count):
        out.append(dt.date(y, m, 1))
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return list(reversed(out))


def _bucket(value: int, top: int) -> int:
    if top <= 0 or value <= 0:
        return 0
    return max(5, min(100, round(value * 100 / top / 5) * 5))


def monthly(session: Session, account_id: int, now: dt.datetime) -> list[Month]:
    """Earned (credits) and spent (debits) per Shanghai month for the last 12 months.
    Reversals count on the side they move points (a reversed grant shows as spent)."""
    starts = month_starts(now)
    first = dt.datetime.combine(starts[0], dt.time.min, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    by_month = {d.strftime("%Y-%m"): Month(d.strftime("%Y-%m"), 0, 0) for d in starts}
    for line in all_lines(session, account_id, since=first):
        amount = line.amount
        key = _aware(line.created_at).astimezone(LOCAL_TZ).strftime("%Y-%m")
        if key in by_month:
            if amount > 0:
                by_month[key].earned += amount
            else:
                by_month[key].spent += -amount
    months = list(by_month.values())
    top = max([m.earned for m in months] + [m.spent for m in months] + [0])
    for m in months:
        m.earned_pct = _bucket(m.earned, top)
        m.spent_pct = _bucket(m.spent, top)
    return months


@dataclass(frozen=True)
class Summary:
    account_id: int | None
    balance: int
    held: int
    available: int


def summary(session: Session, user_id: int, community_id: int) -> Summary:
    """Balance, held (reserved by pending redemptions) and available of one person's
    account in one community; zeros when no account was opened yet."""
    account_id = ledger.find_account(session, community_id, f"user:{user_id}")
    if account_id is None:
        return Summary(None, 0, 0, 0)
    info = ledger.get_account(session, account_id)
    return Summary(account_id, info.balance, info.held, info.balance - info.held)


def my_points(
    session: Session,
    user_id: int,
    community_id: int,
    *,
    before: int | None = None,
    now: dt.datetime,
    page_size: int = 30,
) -> MyPoints:
    points = summary(session, user_id, community_id)
    account_id = points.account_id
    if account_id is None:
        return MyPoints(0, 0, 0, [], None, monthly_empty(now))
    page = ledger.statement(session, account_id, limit=page_size, before=before)
    return MyPoints(
        points.balance,
        points.held,
        points.available,
        list(page.lines),
        page.next_before,
        monthly(session, account_id, now),
    )


def monthly_empty(now: dt.datetime) -> list[Month]:
    return [Month(d.strftime("%Y-%m"), 0, 0) for d in month_starts(now)]
