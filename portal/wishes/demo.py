"""Demo micro-wishes in 幸福里社区, one or more in each state. Idempotent by title."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import LOCAL_TZ
from core.db import utcnow
from portal.people.models import User
from portal.volunteering.wishes import Wish
from portal.wishes import services as svc

SUN = "13900000301"  # 孙桂兰, resident
WU = "13900000302"  # 吴小燕, resident
WANG = "13900000101"  # 王建华, volunteer
LIU = "13900000103"  # 刘洋, volunteer
STAFF = "13900000011"  # 李秀梅


def _user(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def seed(session: Session) -> None:
    sun, wu, wang, liu, staff = (_user(session, p) for p in (SUN, WU, WANG, LIU, STAFF))
    if not all((sun, wu, wang, liu, staff)) or sun.community_id is None:  # type: ignore[union-attr]
        return
    assert sun and wu and wang and liu and staff
    cid = sun.community_id
    now = utcnow()

    def wish(
        requester: User, title: str, category: str, description: str, by: User | None = None
    ) -> Wish | None:
        if session.scalar(select(Wish.id).where(Wish.community_id == cid, Wish.title == title)) is not None:
            return None
        return svc.create_wish(
            session,
            by or requester,
            community_id=cid,
            title=title,
            description=description,
            category=category,
            requester_id=requester.id,
        )

    wish(sun, "帮忙更换厨房灯泡", "生活帮扶", "厨房的灯坏了，自己够不着。")
    wish(wu, "孩子需要几本课外读物", "学习用品", "三年级，喜欢科普类的书。")
    w = wish(sun, "周四陪同去医院复查", "陪伴就医", "市第一医院，上午9点。", by=staff)
    if w is not None:
        svc.claim_wish(session, wang, w.id, now=now - dt.timedelta(days=1))
    w = wish(wu, "修理卫生间漏水的水龙头", "维修", "水龙头一直滴水。")
    if w is not None:
        svc.claim_wish(session, liu, w.id, now=now - dt.timedelta(days=3))
        day = (now.astimezone(LOCAL_TZ) - dt.timedelta(days=2)).date()
        start = dt.datetime.combine(day, dt.time(16), tzinfo=LOCAL_TZ).astimezone(dt.UTC)
        svc.fulfil_wish(
            session,
            liu,
            w.id,
            started_at=start,
            ended_at=start + dt.timedelta(minutes=45),
            note="换了新的阀芯",
            now=now,
        )
    w = wish(sun, "帮忙在手机上预约挂号", "生活帮扶", "不会用手机挂号。")
    if w is not None:
        svc.claim_wish(session, wang, w.id, now=now - dt.timedelta(days=6))
        day = (now.astimezone(LOCAL_TZ) - dt.timedelta(days=5)).date()
        start = dt.datetime.combine(day, dt.time(10), tzinfo=LOCAL_TZ).astimezone(dt.UTC)
        svc.fulfil_wish(
            session,
            wang,
            w.id,
            started_at=start,
            ended_at=start + dt.timedelta(minutes=30),
            note="教会了阿姨用小程序挂号",
            now=now,
        )
        svc.confirm_wish(session, sun, w.id, rating=5, comment="小王很耐心，谢谢！", now=now)
    w = wish(wu, "搬一个旧衣柜下楼", "生活帮扶", "已经找到人帮忙了。")
    if w is not None:
        svc.withdraw_wish(session, wu, w.id, now=now)
