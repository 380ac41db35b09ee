"""积分超市: rewards, redemption (ledger hold + stock), fulfilment, cancel/expiry, monthly
settlement. Services take plain values, a Session and the acting User; they flush, never
commit. Refusals raise ``ServiceError`` subclasses with translated messages and are audited
with ``record_refusal``. See docs/rewards.md.

Lock order (no deadlocks between these flows): user row → voucher row → reward row →
the ledger's community head → ledger accounts. Every flow takes a prefix of it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import ledger
from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.audit.services import record, refused
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.exports import safe_cell
from portal.ledger_messages import ledger_error_message
from portal.notifications.services import notify
from portal.people import masking
from portal.people.carers import dependent_for, is_carer
from portal.people.masking import mask_phone
from portal.people.models import Role, User
from portal.places.models import Community, Organisation, OrgKind
from portal.policy import is_member, is_staff, is_street_admin
from portal.reasons import code as reason_code
from portal.rewards.models import (
    LIVE_VOUCHER_STATUSES,
    MAX_MONTHLY_LIMIT,
    MAX_PRICE,
    MAX_STOCK,
    Reward,
    RewardCategory,
    Settlement,
    Voucher,
    VoucherStatus,
)

VOUCHER_DAYS = 14
# No 0/O, 1/I/L: easy to read aloud and to type on a phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
_IDEM_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TITLE_MAX = 80
DESCRIPTION_MAX = 2000

CATEGORY_LABELS = {
    RewardCategory.DISCOUNT: _l("Shop discounts"),
    RewardCategory.HOUSEKEEPING: _l("Household help"),
    RewardCategory.SERVICE: _l("Everyday services"),
    RewardCategory.CULTURE: _l("Culture and activities"),
    RewardCategory.OTHER: _l("Other"),
}
STATUS_LABELS = {
    VoucherStatus.OPEN: _l("Ready to use"),
    VoucherStatus.FULFILLED: _l("Used"),
    VoucherStatus.CANCELLED: _l("Cancelled"),
    VoucherStatus.EXPIRED: _l("Expired"),
}


def _refuse(
    session: Session, actor: User | None, action: str, err: ServiceError, **where: Any
) -> ServiceError:
    return refused(session, err, f"rewards.{action}", actor=actor, **where)


# --- time helpers -------------------------------------------------------------------------


def local_today(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


def month_of(when: dt.datetime) -> str:
    return when.astimezone(LOCAL_TZ).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    m = _MONTH_RE.match(month or "")
    if m is None:
        raise ServiceError(_l("This month is not valid."), code="bad_month")
    year, mon = int(m.group(1)), int(m.group(2))
    start = dt.datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _end_of_local_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def mask_name(name: str | None) -> str:
    """Merchants see no more than the first character (``王**``)."""
    return masking.mask_name(name, keep_last=False)


# --- who may run a catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose rewards: a merchant organisation in a community, or the community itself."""

    community_id: int
    organisation_id: int | None
    name: str

    @property
    def org_key(self) -> int:
        return self.organisation_id or 0


def is_merchant_of(user: User, community_id: int, organisation_id: int) -> bool:
    return user.is_active and any(
        r.role == Role.MERCHANT and r.community_id == community_id and r.organisation_id == organisation_id
        for r in user.roles
    )


def can_manage(session: Session, user: User, community_id: int, organisation_id: int | None) -> bool:
    if organisation_id is not None:
        return is_merchant_of(user, community_id, organisation_id)
    community = session.get(Community, community_id)
    return community is not None and is_staff(user, community)


def scopes_for(session: Session, user: User) -> list[Scope]:
    """The catalogues ``user`` runs: their merchants' and (staff) their communities'."""
    out: list[Scope] = []
    for r in user.roles:
        if r.role == Role.MERCHANT and r.community_id is not None and r.organisation_id is not None:
            org = session.get(Organisation, r.organisation_id)
            if org is not None:
                out.append(Scope(r.community_id, org.id, org.name))
    from portal.policy import staff_communities

    for c in staff_communities(session, user):
        out.append(Scope(c.id, None, c.name))
    return out


def scope_for(session: Session, user: User, community_id: int, org_key: int, action: str) -> Scope:
    organisation_id = org_key or None
    community = session.get(Community, community_id)
    if community is None or not can_manage(session, user, community_id, organisation_id):
        raise _refuse(
            session,
            user,
            action,
            Forbidden(_l("You cannot manage rewards here."), code="not_owner"),
            community_id=community_id,
            organisation_id=organisation_id,
        )
    if organisation_id is None:
        return Scope(community_id, None, community.name)
    org = session.get(Organisation, organisation_id)
    return Scope(community_id, organisation_id, org.name if org else "")


def owner_name(session: Session, reward: Reward) -> str:
    return owner_names(session, [reward])[reward.id]


def owner_names(session: Session, rewards: Sequence[Reward]) -> dict[int, str]:
    """Who offers each reward (its organisation, else its community): two queries for any
    number of rewards (the store lists up to 500)."""
    org_ids = {r.organisation_id for r in rewards if r.organisation_id is not None}
    community_ids = {r.community_id for r in rewards if r.organisation_id is None}
    orgs: dict[int, str] = {}
    if org_ids:
        rows = session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids)))
        orgs = {i: n for i, n in rows}
    places: dict[int, str] = {}
    if community_ids:
        rows = session.execute(select(Community.id, Community.name).where(Community.id.in_(community_ids)))
        places = {i: n for i, n in rows}
    return {
        r.id: (orgs if r.organisation_id is not None else places).get(
            r.organisation_id if r.organisation_id is not None else r.community_id, ""
        )
        for r in rewards
    }


# --- the catalogue ---------------------------------------------------------------------------


@dataclass
class RewardData:
    title: str
    category: str
    price: Any
    stock: Any
    monthly_limit: Any = 1
    description: str = ""
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    is_active: bool = True
    picture_path: str | None = None  # None = keep the current picture


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate(data: RewardData) -> RewardCategory:
    title = (data.title or "").strip()
    if not title:
        raise ServiceError(_l("Give the reward a title."), code="title_required", field="title")
    if len(title) > TITLE_MAX:
        raise ServiceError(
            _l("The title is too long (at most %(n)d characters).", n=TITLE_MAX),
            code="title_too_long",
            field="title",
        )
    if len(data.description or "") > DESCRIPTION_MAX:
        raise ServiceError(
            _l("The description is too long (at most %(n)d characters).", n=DESCRIPTION_MAX),
            code="description_too_long",
            field="description",
        )
    try:
        category = RewardCategory(data.category)
    except ValueError:
        raise ServiceError(_l("Choose a category."), code="bad_category", field="category") from None
    if not _is_int(data.price) or not 0 < data.price <= MAX_PRICE:
        raise ServiceError(
            _l("The price must be a whole number of 福分 from 1 to %(n)d.", n=MAX_PRICE),
            code="bad_price",
            field="price",
        )
    if not _is_int(data.stock) or not 0 <= data.stock <= MAX_STOCK:
        raise ServiceError(
            _l("The stock must be a whole number from 0 to %(n)d.", n=MAX_STOCK),
            code="bad_stock",
            field="stock",
        )
    if not _is_int(data.monthly_limit) or not 1 <= data.monthly_limit <= MAX_MONTHLY_LIMIT:
        raise ServiceError(
            _l("The limit per person must be a whole number from 1 to %(n)d.", n=MAX_MONTHLY_LIMIT),
            code="bad_limit",
            field="monthly_limit",
        )
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        raise ServiceError(
            _l("The end date must not be before the start date."), code="bad_dates", field="valid_until"
        )
    return category


def create_reward(
    session: Session,
    actor: User,
    community_id: int,
    organisation_id: int | None,
    data: RewardData,
    *,
    now: dt.datetime | None = None,
) -> Reward:
    now = now or utcnow()
    if not can_manage(session, actor, community_id, organisation_id):
        raise _refuse(
            session,
            actor,
            "create",
            Forbidden(_l("You cannot manage rewards here."), code="not_owner"),
            community_id=community_id,
            organisation_id=organisation_id,
        )
    if organisation_id is not None:
        org = session.get(Organisation, organisation_id)
        if org is None or org.kind != OrgKind.MERCHANT:
            raise ServiceError(_l("Only merchants can list rewards."), code="not_merchant")
    try:
        category = _validate(data)
    except ServiceError as err:
        raise _refuse(session, actor, "create", err, community_id=community_id) from None
    reward = Reward(
        community_id=community_id,
        organisation_id=organisation_id,
        title=data.title.strip(),
        description=(data.description or "").strip(),
        category=category,
        price=data.price,
        stock=data.stock,
        monthly_limit=data.monthly_limit,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        picture_path=data.picture_path,
        is_active=data.is_active,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(reward)
    session.flush()
    record(
        session,
        "rewards.create",
        actor_id=actor.id,
        community_id=community_id,
        target=("reward", reward.id),
        price=reward.price,
        stock=reward.stock,
        organisation_id=organisation_id,
    )
    return reward


def reward_for_owner(session: Session, actor: User, reward_id: int, action: str) -> Reward:
    reward = session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(_l("This reward does not exist."), code="not_found")
    if not can_manage(session, actor, reward.community_id, reward.organisation_id):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("You cannot manage this reward."), code="not_owner"),
            community_id=reward.community_id,
            target=("reward", reward.id),
        )
    return reward


def update_reward(
    session: Session, actor: User, reward_id: int, data: RewardData, *, now: dt.datetime | None = None
) -> Reward:
    reward = reward_for_owner(session, actor, reward_id, "update")
    try:
        category = _validate(data)
    except ServiceError as err:
        raise _refuse(
            session, actor, "update", err, community_id=reward.community_id, target=("reward", reward.id)
        ) from None
    reward.title = data.title.strip()
    reward.description = (data.description or "").strip()
    reward.category = category
    reward.price = data.price  # open vouchers keep the price they were redeemed at
    reward.stock = data.stock
    reward.monthly_limit = data.monthly_limit
    reward.valid_from, reward.valid_until = data.valid_from, data.valid_until
    reward.is_active = data.is_active
    if data.picture_path is not None:
        reward.picture_path = data.picture_path
    reward.updated_at = now or utcnow()
    session.flush()
    record(
        session,
        "rewards.update",
        actor_id=actor.id,
        community_id=reward.community_id,
        target=("reward", reward.id),
        price=reward.price,
        stock=reward.stock,
        active=reward.is_active,
    )
    return reward


def set_active(session: Session, actor: User, reward_id: int, active: bool) -> Reward:
    reward = reward_for_owner(session, actor, reward_id, "deactivate")
    reward.is_active = active
    reward.updated_at = utcnow()
    session.flush()
    record(
        session,
        "rewards.activate" if active else "rewards.deactivate",
        actor_id=actor.id,
        community_id=reward.community_id,
        target=("reward", reward.id),
    )
    return reward


def rewards_of(session: Session, scope: Scope) -> list[Reward]:
    q = select(Reward).where(Reward.community_id == scope.community_id)
    q = (
        q.where(Reward.organisation_id == scope.organisation_id)
        if scope.organisation_id
        else q.where(Reward.organisation_id.is_(None))
    )
    return list(session.scalars(q.order_by(Reward.is_active.desc(), Reward.id.desc())))


# --- the store ---------------------------------------------------------------------------------


def member_community_ids(user: User) -> set[int]:
    ids = {r.community_id for r in user.roles if r.community_id is not None}
    if user.community_id is not None:
        ids.add(user.community_id)
    return ids


def spendable(session: Session, community_id: int, user_id: int) -> int:
    """The user's spendable 福分 in a community (0 without an account; opens none)."""
    account = ledger.find_account(session, community_id, f"user:{user_id}")
    return ledger.available(session, account) if account is not None else 0


def is_available(reward: Reward, today: dt.date) -> bool:
    return (
        reward.is_active
        and (reward.valid_from is None or reward.valid_from <= today)
        and (reward.valid_until is None or today <= reward.valid_until)
    )


@dataclass
class StoreItem:
    reward: Reward
    owner: str
    affordable: bool


@dataclass
class StorePage:
    items: list[StoreItem]
    balances: dict[int, int] = field(default_factory=dict)


def store(
    session: Session,
    user: User,
    *,
    category: str | None = None,
    affordable_only: bool = False,
    now: dt.datetime | None = None,
) -> StorePage:
    today = local_today(now)
    ids = member_community_ids(user)
    if not ids:
        return StorePage([])
    q = select(Reward).where(
        Reward.community_id.in_(ids),
        Reward.is_active.is_(True),
        (Reward.valid_from.is_(None)) | (Reward.valid_from <= today),
        (Reward.valid_until.is_(None)) | (Reward.valid_until >= today),
    )
    if category:
        try:
            q = q.where(Reward.category == RewardCategory(category))
        except ValueError:
            pass
    rewards = list(session.scalars(q.order_by(Reward.price, Reward.id).limit(500)))
    balances = {cid: spendable(session, cid, user.id) for cid in ids}
    owners = owner_names(session, rewards)
    items = []
    for r in rewards:
        ok = r.stock > 0 and r.price <= balances.get(r.community_id, 0)
        if affordable_only and not ok:
            continue
        items.append(StoreItem(r, owners[r.id], ok))
    return StorePage(items, balances)


def reward_for_member(session: Session, user: User, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id)
    community = session.get(Community, reward.community_id) if reward else None
    if reward is None or community is None or not is_member(user, community):
        raise _refuse(
            session,
            user,
            "view",
            NotFound(_l("This reward does not exist."), code="not_found"),
            reward_id=reward_id,
        )
    return reward


def used_this_month(session: Session, user_id: int, reward_id: int, now: dt.datetime) -> int:
    start, _end = month_bounds(month_of(now))
    return (
        session.scalar(
            select(func.count())
            .select_from(Voucher)
            .where(
                Voucher.user_id == user_id,
                Voucher.reward_id == reward_id,
                Voucher.status.in_(LIVE_VOUCHER_STATUSES),
                Voucher.created_at >= start,
            )
        )
        or 0
    )


# --- redemption -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redemption:
    voucher: Voucher
    replayed: bool


def _new_code(session: Session) -> str:
    for _attempt in range(8):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Voucher.id).where(Voucher.code == code)) is None:
            return code
    raise Conflict(_l("Please try again."), code="code_collision")  # pragma: no cover


def normalise_code(raw: str | None) -> str:
    return re.sub(r"[\s-]", "", (raw or "")).upper()[:32]


def redeem(
    session: Session,
    actor: User,
    reward_id: int,
    idem_key: str,
    *,
    now: dt.datetime | None = None,
    for_user_id: int | None = None,
) -> Redemption:
    """Hold the price on the actor's account, take one unit of stock and issue a voucher.

    ``idem_key`` comes from the form (uuid4 made when it was rendered): submitting the same
    form again returns the same voucher. Concurrency: the actor's user row is locked (one
    redemption per person at a time, so the monthly limit and the replay check are exact);
    the stock is taken by a conditional UPDATE (never below zero, CHECK as backstop); the
    ledger hold re-checks the balance under the community's ledger lock.
    """
    now = now or utcnow()
    action = "redeem"
    if not isinstance(idem_key, str) or not _IDEM_RE.match(idem_key):
        raise _refuse(
            session,
            actor,
            action,
            ServiceError(_l("This form is not valid. Reload the page and try again."), code="bad_idem_key"),
            reward_id=reward_id,
        )
    # 代办: a relative linked by staff (or by enrolling them) redeems from the points of a
    # person without a phone. The holder's account pays; the relative is the ledger actor.
    holder = actor
    if for_user_id is not None and for_user_id != actor.id:
        try:
            holder = dependent_for(session, actor, for_user_id)
        except Forbidden as exc:
            raise _refuse(session, actor, action, exc, reward_id=reward_id, for_user_id=for_user_id) from None
    session.scalar(select(User.id).where(User.id == holder.id).with_for_update(key_share=True))
    earlier = session.scalar(
        select(Voucher).where(Voucher.user_id == holder.id, Voucher.idem_key == idem_key)
    )
    if earlier is not None:
        if earlier.reward_id != reward_id:
            raise _refuse(
                session,
                actor,
                action,
                Conflict(
                    _l("This form was already used for another reward. Reload the page and try again."),
                    code="idem_conflict",
                ),
                community_id=earlier.community_id,
                target=("voucher", earlier.id),
            )
        return Redemption(earlier, True)
    reward = reward_for_member(session, holder, reward_id)
    cid = reward.community_id
    today = local_today(now)
    if not is_available(reward, today):
        raise _refuse(
            session,
            actor,
            action,
            Conflict(_l("This reward is not available at the moment."), code="unavailable"),
            community_id=cid,
            target=("reward", reward.id),
        )
    if reward.organisation_id is not None and (
        is_merchant_of(actor, cid, reward.organisation_id)
        or is_merchant_of(holder, cid, reward.organisation_id)
    ):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("You cannot redeem your own shop's rewards."), code="own_reward"),
            community_id=cid,
            target=("reward", reward.id),
        )
    used = used_this_month(session, holder.id, reward.id, now)
    if used >= reward.monthly_limit:
        raise _refuse(
            session,
            actor,
            action,
            Conflict(
                _l(
                    "You have reached the limit for this reward this month (%(n)d per person).",
                    n=reward.monthly_limit,
                ),
                code="monthly_limit",
            ),
            community_id=cid,
            target=("reward", reward.id),
            used=used,
        )
    account = ledger.user_account(session, cid, holder.id)
    have = ledger.available(session, account)
    if have < reward.price:
        raise _refuse(
            session,
            actor,
            action,
            Conflict(
                _l(
                    "Not enough 福分: this reward costs %(price)d, you have %(have)d to spend.",
                    price=reward.price,
                    have=have,
                ),
                code="insufficient_funds",
            ),
            community_id=cid,
            target=("reward", reward.id),
            price=reward.price,
            available=have,
        )
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0, Reward.is_active.is_(True))
        .values(stock=Reward.stock - 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise _refuse(
            session,
            actor,
            action,
            Conflict(_l("Sorry, this reward is sold out."), code="sold_out"),
            community_id=cid,
            target=("reward", reward.id),
        )
    expires_at = now + dt.timedelta(days=VOUCHER_DAYS)
    if reward.valid_until is not None:
        expires_at = min(expires_at, _end_of_local_day(reward.valid_until))
    try:
        held = ledger.hold(
            session,
            key=f"redeem:{holder.id}:{idem_key}",
            account_id=account,
            amount=reward.price,
            actor=ledger.Actor.user(actor.id),
            reason=reason_code("reward.redeemed", reward=reward.id, title=reward.title[:150]),
            expires_at=expires_at,
            ref_type="reward",
            ref_id=reward.id,
        )
    except ledger.LedgerError as err:
        # Give the unit back in this transaction too, so nothing changed even if the
        # caller went on to commit.
        session.execute(
            update(Reward)
            .where(Reward.id == reward.id)
            .values(stock=Reward.stock + 1)
            .execution_options(synchronize_session=False)
        )
        raise _refuse(
            session,
            actor,
            action,
            Conflict(ledger_error_message(err), code=err.code),
            community_id=cid,
            target=("reward", reward.id),
        ) from None
    voucher = Voucher(
        reward_id=reward.id,
        community_id=cid,
        organisation_id=reward.organisation_id,
        user_id=holder.id,
        code=_new_code(session),
        idem_key=idem_key,
        price=reward.price,
        hold_id=held.hold_id,
        status=VoucherStatus.OPEN,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(voucher)
    session.flush()
    session.refresh(reward, ["stock"])
    record(
        session,
        "rewards.redeem",
        actor_id=actor.id,
        community_id=cid,
        target=("voucher", voucher.id),
        reward_id=reward.id,
        price=reward.price,
        hold_id=held.hold_id,
        for_user_id=holder.id if holder is not actor else None,
    )
    return Redemption(voucher, False)


def my_vouchers(session: Session, user_id: int, limit: int = 100) -> list[Voucher]:
    return list(
        session.scalars(
            select(Voucher).where(Voucher.user_id == user_id).order_by(Voucher.id.desc()).limit(limit)
        )
    )


def voucher_for_owner(
    session: Session, actor: User, voucher_id: int, action: str = "voucher.view"
) -> Voucher:
    voucher = session.get(Voucher, voucher_id)
    if voucher is None or (voucher.user_id != actor.id and not is_carer(session, actor, voucher.user_id)):
        raise _refuse(
            session,
            actor,
            action,
            NotFound(_l("This voucher does not exist."), code="not_found"),
            voucher_id=voucher_id,
        )
    return voucher


def _lock_voucher(session: Session, voucher_id: int) -> Voucher | None:
    return session.scalar(
        select(Voucher)
        .where(Voucher.id == voucher_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def _not_open_message(voucher: Voucher) -> Any:
    return {
        VoucherStatus.FULFILLED: _l("This voucher has already been used."),
        VoucherStatus.CANCELLED: _l("This voucher was cancelled."),
        VoucherStatus.EXPIRED: _l("This voucher has expired."),
    }.get(voucher.status, _l("This voucher cannot be used."))


def _give_back(
    session: Session,
    voucher: Voucher,
    *,
    key: str,
    actor: ledger.Actor,
    reason: str,
    tolerate_released: bool = False,
) -> None:
    """Stock +1, then release the hold (this order keeps the lock order)."""
    session.execute(
        update(Reward)
        .where(Reward.id == voucher.reward_id)
        .values(stock=Reward.stock + 1)
        .execution_options(synchronize_session=False)
    )
    try:
        ledger.void(session, key=key, hold_id=voucher.hold_id, actor=actor, reason=reason)
    except ledger.LedgerError as err:
        if tolerate_released and err.code == "hold_not_pending":
            return  # the ledger's own expiry job released it already
        session.execute(
            update(Reward)
            .where(Reward.id == voucher.reward_id)
            .values(stock=Reward.stock - 1)
            .execution_options(synchronize_session=False)
        )
        raise


def cancel(session: Session, actor: User, voucher_id: int, *, now: dt.datetime | None = None) -> Voucher:
    """The resident cancels an unused voucher: the points are released, the unit returns."""
    now = now or utcnow()
    voucher_for_owner(session, actor, voucher_id, "cancel")
    voucher = _lock_voucher(session, voucher_id)
    assert voucher is not None
    if voucher.status != VoucherStatus.OPEN or voucher.expires_at <= now:
        msg = (
            _not_open_message(voucher)
            if voucher.status != VoucherStatus.OPEN
            else _l("This voucher has expired.")
        )
        raise _refuse(
            session,
            actor,
            "cancel",
            Conflict(msg, code=f"voucher_{voucher.status.value}"),
            community_id=voucher.community_id,
            target=("voucher", voucher.id),
        )
    try:
        _give_back(
            session,
            voucher,
            key=f"rewards:voucher:{voucher.id}:cancel",
            actor=ledger.Actor.user(actor.id),
            reason=reason_code("voucher.cancelled", voucher=voucher.id),
        )
    except ledger.LedgerError as err:
        raise _refuse(
            session,
            actor,
            "cancel",
            Conflict(ledger_error_message(err), code=err.code),
            community_id=voucher.community_id,
            target=("voucher", voucher.id),
        ) from None
    voucher.status = VoucherStatus.CANCELLED
    voucher.closed_at = now
    session.flush()
    record(
        session,
        "rewards.cancel",
        actor_id=actor.id,
        community_id=voucher.community_id,
        target=("voucher", voucher.id),
    )
    return voucher


def expire_due(session: Session, *, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Expire open vouchers past their deadline (stock back, hold released), then let the
    ledger release any other overdue holds. Safe to run while people use vouchers."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Voucher.id)
            .where(Voucher.status == VoucherStatus.OPEN, Voucher.expires_at <= now)
            .order_by(Voucher.id)
            .limit(limit)
        )
    )
    done = 0
    actor = ledger.Actor.system("voucher expiry")
    for vid in due:
        voucher = _lock_voucher(session, vid)
        if voucher is None or voucher.status != VoucherStatus.OPEN or voucher.expires_at > now:
            continue
        _give_back(
            session,
            voucher,
            key=f"rewards:voucher:{voucher.id}:expire",
            actor=actor,
            reason=reason_code("voucher.expired", voucher=voucher.id),
            tolerate_released=True,
        )
        voucher.status = VoucherStatus.EXPIRED
        voucher.closed_at = now
        session.flush()
        notify(
            session,
            voucher.user_id,
            "rewards.expired",
            _l("A reward voucher expired"),
            _l("Your 福分 are available again."),
            link="/rewards/vouchers",
            dedupe_key=f"rewards.expired:{voucher.id}",
        )
        done += 1
    ledger.expire_holds(session, now=now)
    return done


# --- fulfilment (merchant / community staff) -----------------------------------------------------


def voucher_for_fulfil(
    session: Session, actor: User, code: str, *, action: str = "verify", lock: bool = False
) -> Voucher:
    code = normalise_code(code)
    if not code:
        raise ServiceError(_l("Enter the voucher code."), code="code_required", field="code")
    q = select(Voucher).where(Voucher.code == code)
    if lock:
        q = q.with_for_update(key_share=True).execution_options(populate_existing=True)
    voucher = session.scalar(q) if len(code) == CODE_LENGTH else None
    # One neutral answer for "no such code" and "another shop's code": a merchant cannot
    # probe which codes exist elsewhere. The audit keeps the difference.
    neutral = NotFound(
        _l("No voucher you can accept has this code. Check the code and try again."), code="unknown_code"
    )
    if voucher is None:
        raise _refuse(session, actor, action, neutral, reason="no_such_code")
    if not can_manage(session, actor, voucher.community_id, voucher.organisation_id):
        raise _refuse(
            session,
            actor,
            action,
            neutral,
            community_id=voucher.community_id,
            target=("voucher", voucher.id),
            reason="not_your_voucher",
        )
    return voucher


def fulfil(session: Session, actor: User, code: str, *, now: dt.datetime | None = None) -> Voucher:
    """Accept a voucher: capture the held points to the merchant's account (a community
    reward: back to the community fund). At most once, only by the reward's owner."""
    now = now or utcnow()
    voucher = voucher_for_fulfil(session, actor, code, action="fulfil", lock=True)
    cid = voucher.community_id
    if voucher.status != VoucherStatus.OPEN:
        raise _refuse(
            session,
            actor,
            "fulfil",
            Conflict(_not_open_message(voucher), code=f"voucher_{voucher.status.value}"),
            community_id=cid,
            target=("voucher", voucher.id),
        )
    if voucher.expires_at <= now:
        raise _refuse(
            session,
            actor,
            "fulfil",
            Conflict(_l("This voucher has expired."), code="voucher_expired"),
            community_id=cid,
            target=("voucher", voucher.id),
        )
    if voucher.user_id == actor.id:
        raise _refuse(
            session,
            actor,
            "fulfil",
            Forbidden(_l("You cannot accept your own voucher."), code="own_voucher"),
            community_id=cid,
            target=("voucher", voucher.id),
        )
    to_account = (
        ledger.merchant_account(session, cid, voucher.organisation_id)
        if voucher.organisation_id is not None
        else ledger.community_fund(session, cid)
    )
    try:
        res = ledger.capture(
            session,
            key=f"rewards:voucher:{voucher.id}:fulfil",
            hold_id=voucher.hold_id,
            to_account=to_account,
            actor=ledger.Actor.user(actor.id),
            reason=reason_code("voucher.used", voucher=voucher.id),
            kind="redeem",
        )
    except ledger.LedgerError as err:
        raise _refuse(
            session,
            actor,
            "fulfil",
            Conflict(ledger_error_message(err), code=err.code),
            community_id=cid,
            target=("voucher", voucher.id),
        ) from None
    voucher.status = VoucherStatus.FULFILLED
    voucher.fulfilled_at = now
    voucher.fulfilled_by_id = actor.id
    voucher.capture_tx_id = res.tx_id
    session.flush()
    record(
        session,
        "rewards.fulfil",
        actor_id=actor.id,
        community_id=cid,
        target=("voucher", voucher.id),
        points=voucher.price,
        tx_id=res.tx_id,
    )
    notify(
        session,
        voucher.user_id,
        "rewards.fulfilled",
        _l("Your reward voucher was used"),
        _l("%(n)d 福分 were spent.", n=voucher.price),
        link=f"/rewards/vouchers/{voucher.id}",
        dedupe_key=f"rewards.fulfilled:{voucher.id}",
    )
    return voucher


@dataclass
class VoucherView:
    """What a merchant may see of a voucher (PIPL Art. 23): code, reward, masked name/phone."""

    id: int
    code: str
    reward_title: str
    price: int
    status: VoucherStatus
    expires_at: dt.datetime
    created_at: dt.datetime
    fulfilled_at: dt.datetime | None
    resident: str
    phone: str


def merchant_view(session: Session, voucher: Voucher) -> VoucherView:
    user = session.get(User, voucher.user_id)
    return VoucherView(
        voucher.id,
        voucher.code,
        voucher.reward.title,
        voucher.price,
        voucher.status,
        voucher.expires_at,
        voucher.created_at,
        voucher.fulfilled_at,
        mask_name(user.display_name if user else ""),
        mask_phone(user.phone if user else ""),
    )


def _scope_vouchers(scope: Scope) -> Any:
    q = select(Voucher).where(Voucher.community_id == scope.community_id)
    return (
        q.where(Voucher.organisation_id == scope.organisation_id)
        if scope.organisation_id
        else q.where(Voucher.organisation_id.is_(None))
    )


def open_vouchers(session: Session, scope: Scope, now: dt.datetime | None = None) -> list[VoucherView]:
    now = now or utcnow()
    rows = session.scalars(
        _scope_vouchers(scope)
        .where(Voucher.status == VoucherStatus.OPEN, Voucher.expires_at > now)
        .order_by(Voucher.expires_at)
        .limit(200)
    )
    return [merchant_view(session, v) for v in rows]


def history(session: Session, scope: Scope, limit: int = 200) -> list[VoucherView]:
    rows = session.scalars(
        _scope_vouchers(scope)
        .where(Voucher.status == VoucherStatus.FULFILLED)
        .order_by(Voucher.fulfilled_at.desc())
        .limit(limit)
    )
    return [merchant_view(session, v) for v in rows]


# --- monthly statements and settlement -------------------------------------------------------------


@dataclass
class Statement:
    organisation_id: int
    community_id: int
    month: str
    points: int
    count: int
    per_reward: list[tuple[str, int, int]]  # title, vouchers, points
    settlement: Settlement | None
    vouchers: list[Voucher] = field(default_factory=list)


def _fulfilled_in(session: Session, organisation_id: int, community_id: int, month: str) -> list[Voucher]:
    start, end = month_bounds(month)
    return list(
        session.scalars(
            select(Voucher)
            .where(
                Voucher.organisation_id == organisation_id,
                Voucher.community_id == community_id,
                Voucher.status == VoucherStatus.FULFILLED,
                Voucher.fulfilled_at >= start,
                Voucher.fulfilled_at < end,
            )
            .order_by(Voucher.fulfilled_at, Voucher.id)
        )
    )


def statement(session: Session, organisation_id: int, community_id: int, month: str) -> Statement:
    vouchers = _fulfilled_in(session, organisation_id, community_id, month)
    per: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    titles: dict[int, str] = {}
    for v in vouchers:
        per[v.reward_id][0] += 1
        per[v.reward_id][1] += v.price
        titles[v.reward_id] = v.reward.title
    settled = session.scalar(
        select(Settlement).where(
            Settlement.organisation_id == organisation_id,
            Settlement.community_id == community_id,
            Settlement.month == month,
        )
    )
    return Statement(
        organisation_id,
        community_id,
        month,
        sum(v.price for v in vouchers),
        len(vouchers),
        [(titles[rid], c, p) for rid, (c, p) in sorted(per.items())],
        settled,
        vouchers,
    )


def statement_for(
    session: Session,
    actor: User,
    organisation_id: int,
    community_id: int,
    month: str,
    action: str = "statement",
) -> Statement:
    """A merchant's own statement, or any statement of the street admin's communities."""
    community = session.get(Community, community_id)
    if community is None or not (
        is_merchant_of(actor, community_id, organisation_id) or is_street_admin(actor, community.street_id)
    ):
        raise _refuse(
            session,
            actor,
            action,
            Forbidden(_l("You cannot see this statement."), code="not_allowed"),
            community_id=community_id,
            organisation_id=organisation_id,
        )
    return statement(session, organisation_id, community_id, month)


def monthly_totals(
    session: Session, scope: Scope, months: int = 12, now: dt.datetime | None = None
) -> list[Statement]:
    """Months with fulfilled vouchers (newest first), with their settlement if any."""
    if scope.organisation_id is None:
        return []
    now = now or utcnow()
    since = now - dt.timedelta(days=31 * months)
    rows = session.scalars(
        _scope_vouchers(scope).where(Voucher.status == VoucherStatus.FULFILLED, Voucher.fulfilled_at >= since)
    )
    seen = sorted({month_of(v.fulfilled_at) for v in rows if v.fulfilled_at}, reverse=True)
    return [statement(session, scope.organisation_id, scope.community_id, m) for m in seen]


def admin_communities(session: Session, actor: User) -> list[Community]:
    if not actor.is_active or not any(r.role in (Role.STREET_ADMIN, Role.SYSADMIN) for r in actor.roles):
        return []
    return [
        c
        for c in session.scalars(select(Community).order_by(Community.id))
        if is_street_admin(actor, c.street_id)
    ]


def settlements_to_confirm(session: Session, actor: User, now: dt.datetime | None = None) -> list[Statement]:
    """Unsettled statements of finished months in the street admin's communities."""
    now = now or utcnow()
    ids = [c.id for c in admin_communities(session, actor)]
    if not ids:
        return []
    this_month_start, _end = month_bounds(month_of(now))
    keys = {
        (v.organisation_id, v.community_id, month_of(v.fulfilled_at))
        for v in session.scalars(
            select(Voucher).where(
                Voucher.community_id.in_(ids),
                Voucher.organisation_id.is_not(None),
                Voucher.status == VoucherStatus.FULFILLED,
                Voucher.fulfilled_at < this_month_start,
            )
        )
        if v.fulfilled_at is not None and v.organisation_id is not None
    }
    out = [statement(session, org, cid, m) for org, cid, m in sorted(keys, key=lambda k: (k[2], k[0], k[1]))]
    return [s for s in out if s.settlement is None]


def confirm_settlement(
    session: Session,
    actor: User,
    organisation_id: int,
    community_id: int,
    month: str,
    *,
    now: dt.datetime | None = None,
) -> Settlement:
    """The street admin confirms a merchant's statement for a finished month: the points
    received move from the merchant's account to the community's ``settlement`` account
    (kind ``settle``). Idempotent per (merchant, community, month)."""
    now = now or utcnow()
    community = session.get(Community, community_id)
    if community is None or not is_street_admin(actor, community.street_id):
        raise _refuse(
            session,
            actor,
            "settle",
            Forbidden(_l("Only the street administrator can confirm settlements."), code="not_street_admin"),
            community_id=community_id,
            organisation_id=organisation_id,
        )
    try:
        start, _end = month_bounds(month)
    except ServiceError as err:
        raise _refuse(session, actor, "settle", err, community_id=community_id) from None
    if start >= month_bounds(month_of(now))[0]:
        raise _refuse(
            session,
            actor,
            "settle",
            Conflict(_l("A month can be settled only after it has ended."), code="month_not_over"),
            community_id=community_id,
            month=month,
        )
    st = statement(session, organisation_id, community_id, month)
    if st.settlement is not None:
        return st.settlement
    if st.points <= 0:
        raise _refuse(
            session,
            actor,
            "settle",
            Conflict(_l("Nothing to settle for this month."), code="nothing_to_settle"),
            community_id=community_id,
            month=month,
            organisation_id=organisation_id,
        )
    try:
        res = ledger.transfer(
            session,
            key=f"settle:{organisation_id}:{community_id}:{month}",
            from_account=ledger.merchant_account(session, community_id, organisation_id),
            to_account=ledger.system_account(session, community_id, "settlement"),
            amount=st.points,
            actor=ledger.Actor.user(actor.id),
            reason=reason_code("settlement", month=month, merchant=organisation_id),
            kind="settle",
            ref_type="organisation",
            ref_id=organisation_id,
        )
    except ledger.LedgerError as err:
        raise _refuse(
            session,
            actor,
            "settle",
            Conflict(ledger_error_message(err), code=err.code),
            community_id=community_id,
            month=month,
        ) from None
    settlement = Settlement(
        organisation_id=organisation_id,
        community_id=community_id,
        month=month,
        points=st.points,
        voucher_count=st.count,
        ledger_tx_id=res.tx_id,
        confirmed_by_id=actor.id,
        confirmed_at=now,
    )
    session.add(settlement)
    session.flush()
    record(
        session,
        "rewards.settle",
        actor_id=actor.id,
        community_id=community_id,
        target=("reward_settlement", settlement.id),
        organisation_id=organisation_id,
        month=month,
        points=st.points,
        tx_id=res.tx_id,
    )
    return settlement


def _safe(value: Any) -> Any:
    return safe_cell(value)


def export_statement_xlsx(
    session: Session, actor: User, organisation_id: int, community_id: int, month: str
) -> bytes:
    from openpyxl import Workbook

    st = statement_for(session, actor, organisation_id, community_id, month, action="export")
    org = session.get(Organisation, organisation_id)
    wb = Workbook()
    ws = wb.active
    ws.title = month
    ws.append([_safe(org.name if org else ""), month])
    ws.append([str(_l("Points received")), st.points, str(_l("Vouchers")), st.count])
    ws.append([str(_l("Settled")) if st.settlement else str(_l("Not settled yet"))])
    ws.append([])
    ws.append([str(_l("Reward")), str(_l("Vouchers")), str(_l("Points"))])
    for title, count, points in st.per_reward:
        ws.append([_safe(title), count, points])
    ws.append([])
    ws.append(
        [
            str(_l("Used at")),
            str(_l("Voucher code")),
            str(_l("Reward")),
            str(_l("Points")),
            str(_l("Resident")),
        ]
    )
    for v in st.vouchers:
        mv = merchant_view(session, v)
        used = v.fulfilled_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if v.fulfilled_at else ""
        ws.append([used, mv.code, _safe(mv.reward_title), mv.price, _safe(mv.resident)])
    buf = BytesIO()
    wb.save(buf)
    record(
        session,
        "rewards.statement_export",
        actor_id=actor.id,
        community_id=community_id,
        organisation_id=organisation_id,
        month=month,
        rows=st.count,
    )
    return buf.getvalue()


def org_and_community_names(session: Session, statements: list[Statement]) -> dict[tuple[str, int], str]:
    names: dict[tuple[str, int], str] = {}
    for st in statements:
        if ("org", st.organisation_id) not in names:
            org = session.get(Organisation, st.organisation_id)
            names[("org", st.organisation_id)] = org.name if org else ""
        if ("community", st.community_id) not in names:
            c = session.get(Community, st.community_id)
            names[("community", st.community_id)] = c.name if c else ""
    return names
