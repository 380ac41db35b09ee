"""Expiry of 福分 (community setting ``expiry_months``; NULL = off, the default).

Rule (FIFO: the oldest points are spent first):

* the cutoff is the first instant (Asia/Shanghai) of the month ``expiry_months`` months
  before the current month — e.g. 12 months, run any day in 2025-07 → cutoff 2024-07-01;
* members are the community's residents (home community); their account there is checked;
* ``expirable = max(0, credits before the cutoff − all debits so far (except expiries)
  − points already expired)``, capped at what is spendable now (balance − held), so
  points reserved for a pending redemption are never taken;
* the expirable points move by one ledger transaction of kind ``expire`` from the user's
  account to the community's ``expired`` system account, with the key
  ``expire:<community>:<user>:<cutoff YYYY-MM>`` — running the job twice in a month does
  nothing the second time (idempotent per user and cutoff month), and because already
  expired points are subtracted a later month never expires the same points twice;
* a warning notice goes out ``days`` (30) days before the next cutoff moves, once per user
  and cutoff month (``notify`` dedupe key).

``flask --app app points expire [--dry-run]`` and ``flask --app app points warn-expiry``
(cron, daily). Both take the clock as a parameter so tests inject it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from portal.exchange.points import _aware, all_lines
from portal.exchange.services import LOCAL_TZ
from portal.notifications.services import notify
from portal.people.models import User
from portal.reasons import code as reason_code
from portal.settings.models import CommunitySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expiry:
    community_id: int
    user_id: int
    amount: int
    cutoff: dt.datetime
    tx_id: int | None = None


def add_months(day: dt.date, months: int) -> dt.date:
    idx = day.year * 12 + (day.month - 1) + months
    return dt.date(idx // 12, idx % 12 + 1, 1)


def _month_start(now: dt.datetime) -> dt.date:
    return now.astimezone(LOCAL_TZ).date().replace(day=1)


def _instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def cutoff_for(now: dt.datetime, months: int) -> dt.datetime:
    return _instant(add_months(_month_start(now), -months))


def expirable(session: Session, account_id: int, cutoff: dt.datetime) -> int:
    """Points credited before ``cutoff`` that have been neither spent nor expired (FIFO).
    Read through ``ledger.statement`` (the ledger's public read API)."""
    credits = debits = expired = 0
    for line in all_lines(session, account_id):
        if line.amount > 0:
            if _aware(line.created_at) < cutoff:
                credits += line.amount
        elif line.kind == "expire":
            expired += -line.amount
        else:
            debits += -line.amount
    return max(0, credits - debits - expired)


def _policies(session: Session, community_id: int | None) -> list[tuple[int, int]]:
    q = select(CommunitySettings.community_id, CommunitySettings.expiry_months).where(
        CommunitySettings.expiry_months.is_not(None)
    )
    if community_id is not None:
        q = q.where(CommunitySettings.community_id == community_id)
    return [(cid, int(m)) for cid, m in session.execute(q.order_by(CommunitySettings.community_id))]


def _user_accounts(session: Session, community_id: int) -> list[tuple[int, int, int]]:
    """(account id, user id, spendable) of the community's residents with points."""
    out = []
    for user_id in session.scalars(
        select(User.id).where(User.community_id == community_id).order_by(User.id)
    ):
        account_id = ledger.find_account(session, community_id, f"user:{user_id}")
        if account_id is None:
            continue
        info = ledger.get_account(session, account_id)
        if info.closed_at is None and info.balance > 0:
            out.append((account_id, user_id, info.balance - info.held))
    return out


def due(session: Session, now: dt.datetime, community_id: int | None = None) -> list[Expiry]:
    """What would expire now (nothing is written)."""
    out: list[Expiry] = []
    for cid, months in _policies(session, community_id):
        cutoff = cutoff_for(now, months)
        for account_id, user_id, spendable in _user_accounts(session, cid):
            amount = min(expirable(session, account_id, cutoff), spendable)
            if amount > 0:
                out.append(Expiry(cid, user_id, amount, cutoff))
    return out


def run_expiry(
    session: Session, now: dt.datetime, *, dry_run: bool = False, community_id: int | None = None
) -> list[Expiry]:
    """Expire what is due; flushes, never commits. Returns what expired (or would)."""
    todo = due(session, now, community_id)
    if dry_run:
        return todo
    done: list[Expiry] = []
    actor = ledger.Actor.system("points expiry")
    for item in todo:
        month = item.cutoff.astimezone(LOCAL_TZ).strftime("%Y-%m")
        try:
            res = ledger.transfer(
                session,
                key=f"expire:{item.community_id}:{item.user_id}:{month}",
                from_account=ledger.user_account(session, item.community_id, item.user_id),
                to_account=ledger.system_account(session, item.community_id, "expired"),
                amount=item.amount,
                actor=actor,
                kind="expire",
                ref_type="expiry",
                reason=reason_code("expiry", month=month),
            )
        except ledger.LedgerError as err:  # e.g. spent meanwhile; next run recomputes
            log.warning(
                "expiry skipped for user %s in community %s: %s", item.user_id, item.community_id, err.code
            )
            continue
        if res.replayed:
            continue
        notify(
            session,
            item.user_id,
            "points.expired",
            _l("%(n)d 福分 expired", n=item.amount),
            _l("Points earned before %(month)s expire under your community's policy.", month=month),
            link="/points",
            dedupe_key=f"points.expired:{item.community_id}:{item.user_id}:{month}",
        )
        done.append(Expiry(item.community_id, item.user_id, item.amount, item.cutoff, res.tx_id))
    return done


def warn_expiry(
    session: Session, now: dt.datetime, *, days: int = 30, community_id: int | None = None
) -> list[Expiry]:
    """Warn members whose points will expire when the cutoff next moves (at the start of
    next month), if that is at most ``days`` away. Once per user and cutoff month."""
    next_month = add_months(_month_start(now), 1)
    if _instant(next_month) - now > dt.timedelta(days=days):
        return []
    warned: list[Expiry] = []
    for cid, months in _policies(session, community_id):
        cutoff = _instant(add_months(next_month, -months))
        month = cutoff.astimezone(LOCAL_TZ).strftime("%Y-%m")
        for account_id, user_id, spendable in _user_accounts(session, cid):
            amount = min(expirable(session, account_id, cutoff), spendable)
            if amount <= 0:
                continue
            notify(
                session,
                user_id,
                "points.expiry_warning",
                _l("%(n)d 福分 will expire on %(day)s", n=amount, day=next_month.isoformat()),
                str(
                    _l(
                        "Points earned before %(month)s expire then. Use or give them before that day.",
                        month=month,
                    )
                ),
                link="/points",
                dedupe_key=f"points.expiry-warning:{cid}:{user_id}:{month}",
            )
            warned.append(Expiry(cid, user_id, amount, cutoff))
    return warned
