"""Demo 福分 giving for 幸福里社区: a gift, a grant for mediation, an open request and a
completed exchange. Idempotent: fixed idem keys and a marker listing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.exchange import services as svc
from portal.exchange.models import Gift, GrantBatch, Listing
from portal.people.models import User

STAFF = "13900000011"  # 李秀梅, staff
WANG = "13900000101"  # 王建华
ZHANG = "13900000102"  # 张丽娟
SUN = "13900000301"  # 孙桂兰 (elderly)
WU = "13900000302"  # 吴小燕


def _user(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def seed(session: Session) -> None:
    staff, wang, zhang, sun, wu = (_user(session, p) for p in (STAFF, WANG, ZHANG, SUN, WU))
    if not all((staff, wang, zhang, sun, wu)) or staff.community_id is None:  # type: ignore[union-attr]
        return
    cid = staff.community_id  # type: ignore[union-attr]
    if (
        session.scalar(
            select(GrantBatch.id).where(
                GrantBatch.staff_id == staff.id,  # type: ignore[union-attr]
                GrantBatch.idem_key == "demo-grant-mediation",
            )
        )
        is None
    ):
        svc.grant(
            session,
            staff,
            cid,
            target="person",
            phone=WU,
            amount=30,
            category="mediation",  # type: ignore[arg-type]
            reason="调解3号楼邻里噪音纠纷",
            idem_key="demo-grant-mediation",
        )
        svc.grant(
            session,
            staff,
            cid,
            target="person",
            phone=SUN,
            amount=20,
            category="hardship",  # type: ignore[arg-type]
            reason="",
            idem_key="demo-grant-hardship",
        )
    if session.scalar(select(Gift.id).where(Gift.giver_id == wu.id, Gift.idem_key == "demo-gift-1")) is None:  # type: ignore[union-attr]
        svc.give(session, wu, SUN, 10, "孙阿姨，天冷了买点水果", "demo-gift-1")  # type: ignore[arg-type]
    if session.scalar(select(Listing.id).where(Listing.owner_id == sun.id)) is None:  # type: ignore[union-attr]
        svc.create_listing(
            session, sun, "request", "每周两次帮忙遛狗", "小狗叫豆豆，很乖，傍晚遛半小时即可。", 60
        )  # type: ignore[arg-type]
        done = svc.create_listing(session, sun, "request", "帮忙换厨房灯泡", "灯泡已买好，需要爬梯子。", 60)  # type: ignore[arg-type]
        ag = svc.respond(session, wang, done.id)  # type: ignore[arg-type]
        svc.mark_done(session, wang, ag.id, 30)  # type: ignore[arg-type]
        svc.approve_and_pay(session, sun, ag.id)  # type: ignore[arg-type]
        svc.create_listing(
            session, zhang, "offer", "教书法（楷书入门）", "周六上午在社区活动室，自带毛笔。", 120
        )  # type: ignore[arg-type]
