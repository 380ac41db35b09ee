"""Demo rewards (``flask --app app seed-demo``): the demo merchant 惠民便利超市 lists shop
discounts, 幸福里社区's staff list household-help and culture rewards, and the demo resident
吴小燕 holds one used and one open voucher. Idempotent: rewards are looked up by owner and
title, vouchers by their fixed form keys (a replayed redemption returns the same voucher)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.people.models import Role, User
from portal.places.models import Organisation
from portal.rewards import services as svc
from portal.rewards.models import Reward, VoucherStatus

MERCHANT_PHONE = "13900000031"  # 黄志明, 惠民便利超市（幸福里店）
STAFF_PHONE = "13900000011"  # 李秀梅, staff of 幸福里社区
RESIDENT_PHONE = "13900000302"  # 吴小燕, resident of 幸福里社区

SHOP = [
    ("鸡蛋一盒（10枚）", "discount", 15, 30, 2, "凭券到店领取新鲜鸡蛋一盒，每人每月限2次。"),
    ("粮油9折券", "discount", 20, 50, 1, "购买米面粮油享9折，单次最高优惠20元。"),
    ("洗衣液一瓶", "discount", 30, 20, 1, "2kg装洗衣液一瓶，到店领取。"),
]
COMMUNITY = [
    ("家政保洁1小时", "housekeeping", 40, 10, 1, "社区家政互助队上门保洁1小时，需提前一天预约。"),
    ("便民理发一次", "service", 10, 40, 2, "每周三上午社区服务站便民理发。"),
    ("社区电影夜门票", "culture", 5, 60, 2, "周五晚社区广场露天电影，凭券领取座位。"),
]


def _ensure(
    session: Session,
    actor: User,
    community_id: int,
    org_id: int | None,
    spec: tuple[str, str, int, int, int, str],
) -> Reward:
    title, category, price, stock, limit, description = spec
    q = select(Reward).where(Reward.community_id == community_id, Reward.title == title)
    q = q.where(Reward.organisation_id == org_id) if org_id else q.where(Reward.organisation_id.is_(None))
    reward = session.scalar(q)
    if reward is None:
        reward = svc.create_reward(
            session,
            actor,
            community_id,
            org_id,
            svc.RewardData(
                title=title,
                category=category,
                price=price,
                stock=stock,
                monthly_limit=limit,
                description=description,
            ),
        )
    return reward


def seed(session: Session) -> None:
    merchant = session.scalar(select(User).where(User.phone == MERCHANT_PHONE))
    staff = session.scalar(select(User).where(User.phone == STAFF_PHONE))
    resident = session.scalar(select(User).where(User.phone == RESIDENT_PHONE))
    if merchant is None or staff is None or resident is None or staff.community_id is None:
        return
    scope = next((r for r in merchant.roles if r.role == Role.MERCHANT), None)
    if (
        scope is None
        or scope.community_id is None
        or session.get(Organisation, scope.organisation_id) is None
    ):
        return
    shop = [_ensure(session, merchant, scope.community_id, scope.organisation_id, s) for s in SHOP]
    for s in COMMUNITY:
        _ensure(session, staff, staff.community_id, None, s)
    if resident.community_id != scope.community_id:
        return
    # One used voucher (eggs) and one open one (9折券), if the resident can afford them.
    plan = [(shop[0], "demo-voucher-eggs", True), (shop[1], "demo-voucher-grain", False)]
    for reward, key, use in plan:
        existing = [v for v in svc.my_vouchers(session, resident.id) if v.idem_key == key]
        if existing:
            continue
        if svc.spendable(session, reward.community_id, resident.id) < reward.price:
            return
        voucher = svc.redeem(session, resident, reward.id, key, now=utcnow()).voucher
        if use and voucher.status == VoucherStatus.OPEN:
            svc.fulfil(session, merchant, voucher.code)
