"""Gifts, grants, the time exchange and expiry through the services (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

import ledger
from core import clock as app_clock
from portal.audit.models import AuditEvent
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.exchange import expiry
from portal.exchange import services as svc
from portal.exchange.models import AgreementStatus, Gift, Grant
from portal.notifications.models import Notification
from portal.people.models import Role
from portal.settings.services import settings_for_update
from portal.volunteering.activities import ActivitySignup, Attendance
from tests.factories import make_activity, make_community, make_street, make_team, make_user

UTC = dt.UTC


def key() -> str:
    return uuid.uuid4().hex


def verify_ok(session) -> bool:
    ok = ledger.verify(session).ok
    session.connection().execution_options(stream_results=False, yield_per=None)
    return ok


def bal(session, community, user) -> int:
    acc = ledger.find_account(session, community.id, f"user:{user.id}")
    return 0 if acc is None else ledger.balance(session, acc)


def fund(session, community, user, amount):
    ledger.issue(
        session,
        key=f"test:{key()}",
        fund_account=ledger.community_fund(session, community.id),
        to_account=ledger.user_account(session, community.id, user.id),
        amount=amount,
        actor=ledger.Actor.system("test"),
        reason="test funds",
    )


def set_setting(session, community, **values):
    settings = settings_for_update(session, community.id)
    for k, v in values.items():
        setattr(settings, k, v)
    session.flush()


def refusals(session, action):
    return session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.outcome == "refused")
    )


@pytest.fixture()
def w(session, app):
    with app.app_context():
        street = make_street(session)
        a = make_community(session, street=street)
        b = make_community(session, street=make_street(session))
        data = {
            "a": a,
            "b": b,
            "street": street,
            "staff": make_user(session, community=a, roles=(Role.STAFF,)),
            "staff2": make_user(session, community=a, roles=(Role.STAFF,)),
            "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
            "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
            "giver": make_user(session, community=a, display_name="王建华"),
            "elder": make_user(session, community=a, display_name="孙桂兰"),
            "outsider": make_user(session, community=b),
        }
        fund(session, a, data["giver"], 500)
        yield data


# --- gifts ---------------------------------------------------------------------------------


def test_gift_moves_points_notifies_both_and_replays(session, w):
    g, e = w["giver"], w["elder"]
    k = key()
    gift = svc.give(session, g, e.phone, 50, "给孙阿姨", k)
    assert bal(session, w["a"], g) == 450 and bal(session, w["a"], e) == 50
    again = svc.give(session, g, e.phone, 50, "给孙阿姨", k)
    assert again.id == gift.id and bal(session, w["a"], g) == 450
    with pytest.raises(Conflict):
        svc.give(session, g, e.phone, 60, "", k)
    kinds = set(session.scalars(select(Notification.kind).where(Notification.user_id.in_([g.id, e.id]))))
    assert {"exchange.gift_received", "exchange.gift_sent"} <= kinds
    assert verify_ok(session)


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True])
def test_gift_refuses_bad_amounts(session, w, amount):
    with pytest.raises(ServiceError) as exc:
        svc.give(session, w["giver"], w["elder"].phone, amount, "", key())
    assert exc.value.code == "invalid_amount"
    assert bal(session, w["a"], w["giver"]) == 500
    assert refusals(session, "exchange.gift") >= 1


def test_gift_refuses_self_other_community_and_unknown(session, w):
    g = w["giver"]
    with pytest.raises(ServiceError) as exc:
        svc.give(session, g, g.phone, 10, "", key())
    assert exc.value.code == "self_gift"
    with pytest.raises(ServiceError) as exc:
        svc.give(session, g, w["outsider"].phone, 10, "", key())
    assert exc.value.code == "recipient_not_found"
    with pytest.raises(ServiceError):
        svc.give(session, g, "13800000000", 10, "", key())
    assert session.scalar(select(func.count()).select_from(Gift)) == 0


def test_gift_daily_limit_and_overdraft(session, w):
    set_setting(session, w["a"], gift_daily_limit=100)
    now = dt.datetime(2024, 6, 12, 15, 0, tzinfo=UTC)  # 23:00 Shanghai
    svc.give(session, w["giver"], w["elder"].phone, 60, "", key(), now=now)
    with pytest.raises(ServiceError) as exc:
        svc.give(session, w["giver"], w["elder"].phone, 41, "", key(), now=now + dt.timedelta(minutes=30))
    assert exc.value.code == "over_daily_limit"
    # 16:30 UTC is the next day in Shanghai: the limit starts again.
    svc.give(
        session, w["giver"], w["elder"].phone, 100, "", key(), now=now + dt.timedelta(hours=1, minutes=30)
    )
    set_setting(session, w["a"], gift_daily_limit=100000)
    with pytest.raises(ServiceError) as exc:
        svc.give(session, w["giver"], w["elder"].phone, 400, "", key())
    assert exc.value.code == "insufficient_funds"
    assert bal(session, w["a"], w["giver"]) == 340


# --- grants --------------------------------------------------------------------------------


def test_grant_to_person_and_reverse(session, w):
    batch = svc.grant(
        session,
        w["staff"],
        w["a"].id,
        target="person",
        phone=w["elder"].phone,
        amount=30,
        category="mediation",
        reason="调解邻里纠纷",
        idem_key=(k := key()),
    )
    assert bal(session, w["a"], w["elder"]) == 30
    assert (
        svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["elder"].phone,
            amount=30,
            category="mediation",
            reason="调解邻里纠纷",
            idem_key=k,
        ).id
        == batch.id
    )
    assert bal(session, w["a"], w["elder"]) == 30
    g = batch.grants[0]
    svc.reverse_grant(session, w["staff2"], g.id, "发错人了", key())
    assert bal(session, w["a"], w["elder"]) == 0 and g.reversed_at is not None
    with pytest.raises(Conflict):
        svc.reverse_grant(session, w["staff2"], g.id, "again", key())
    assert verify_ok(session)


def test_grant_rules(session, w):
    with pytest.raises(Forbidden):
        svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["staff"].phone,
            amount=10,
            category="civic",
            reason="",
            idem_key=key(),
        )
    with pytest.raises(Forbidden):
        svc.grant(
            session,
            w["staff_b"],
            w["a"].id,
            target="person",
            phone=w["elder"].phone,
            amount=10,
            category="civic",
            reason="",
            idem_key=key(),
        )
    with pytest.raises(ServiceError) as exc:
        svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["outsider"].phone,
            amount=10,
            category="civic",
            reason="",
            idem_key=key(),
        )
    assert exc.value.code == "recipient_not_found"
    with pytest.raises(ServiceError) as exc:
        svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["elder"].phone,
            amount=10,
            category="other",
            reason=" ",
            idem_key=key(),
        )
    assert exc.value.code == "reason_required"
    with pytest.raises(ServiceError) as exc:
        svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["elder"].phone,
            amount=-1,
            category="civic",
            reason="",
            idem_key=key(),
        )
    assert exc.value.code == "invalid_amount"
    assert session.scalar(select(func.count()).select_from(Grant)) == 0
    assert refusals(session, "exchange.grant") >= 4


def test_grant_to_activity_and_team_in_one_transaction(session, w):
    a = w["a"]
    vols = [make_user(session, community=a) for _ in range(3)]
    act = make_activity(session, a, w["staff"])
    for i, v in enumerate(vols + [w["staff"]]):
        session.add(
            ActivitySignup(
                activity_id=act.id,
                user_id=v.id,
                community_id=a.id,
                attendance=Attendance.PRESENT if i != 2 else Attendance.NO_SHOW,
            )
        )
    session.flush()
    batch = svc.grant(
        session,
        w["staff"],
        a.id,
        target="activity",
        target_id=act.id,
        amount=5,
        category="civic",
        reason="",
        idem_key=key(),
    )
    assert sorted(g.recipient_id for g in batch.grants) == sorted(
        [vols[0].id, vols[1].id]
    )  # not self, not no-show
    team = make_team(session, a, leader=w["staff"], members=vols)
    batch = svc.grant(
        session,
        w["staff"],
        a.id,
        target="team",
        target_id=team.id,
        amount=7,
        category="hardship",
        reason="",
        idem_key=key(),
    )
    assert len(batch.grants) == 3
    assert [bal(session, a, v) for v in vols] == [12, 12, 7]
    other_team = make_team(session, w["b"], members=[w["outsider"]])
    with pytest.raises(NotFound):
        svc.grant(
            session,
            w["staff"],
            a.id,
            target="team",
            target_id=other_team.id,
            amount=7,
            category="hardship",
            reason="",
            idem_key=key(),
        )
    assert verify_ok(session)


def test_reverse_after_spending_needs_street_admin_force(session, w):
    batch = svc.grant(
        session,
        w["staff"],
        w["a"].id,
        target="person",
        phone=w["elder"].phone,
        amount=30,
        category="hardship",
        reason="",
        idem_key=key(),
    )
    svc.give(session, w["elder"], w["giver"].phone, 25, "", key())
    g = batch.grants[0]
    with pytest.raises(ServiceError) as exc:
        svc.reverse_grant(session, w["staff"], g.id, "错误", key())
    assert exc.value.code == "insufficient_funds"
    with pytest.raises(Forbidden):
        svc.reverse_grant(session, w["staff"], g.id, "错误", key(), force=True)
    svc.reverse_grant(session, w["admin"], g.id, "错误", key(), force=True)
    assert bal(session, w["a"], w["elder"]) == -25 and g.forced
    assert verify_ok(session)


# --- time exchange -------------------------------------------------------------------------


def test_request_taken_done_paid_once(session, w):
    e, g = w["elder"], w["giver"]
    fund(session, w["a"], e, 100)
    req = svc.create_listing(session, e, "request", "遛狗", "每周两次", 120)
    with pytest.raises(ServiceError) as exc:
        svc.respond(session, e, req.id)
    assert exc.value.code == "own_listing"
    with pytest.raises(NotFound):
        svc.respond(session, w["outsider"], req.id)
    ag = svc.respond(session, g, req.id)
    assert ag.receiver_id == e.id and ag.provider_id == g.id
    with pytest.raises(Conflict):
        svc.respond(session, w["staff"], req.id)
    with pytest.raises(Conflict):
        svc.approve_and_pay(session, e, ag.id)  # nothing reported yet
    svc.mark_done(session, g, ag.id, 90)
    with pytest.raises(Forbidden):
        svc.approve_and_pay(session, g, ag.id)  # the provider cannot pay himself
    svc.approve_and_pay(session, e, ag.id)
    assert ag.status == AgreementStatus.PAID and ag.points == 15  # 1.5 h x 10/h
    assert bal(session, w["a"], e) == 85 and bal(session, w["a"], g) == 515
    with pytest.raises(Conflict):
        svc.approve_and_pay(session, e, ag.id)
    assert bal(session, w["a"], e) == 85
    assert verify_ok(session)


def test_offer_dispute_resolved_by_staff(session, w):
    e, g = w["elder"], w["giver"]
    fund(session, w["a"], e, 100)
    offer = svc.create_listing(session, g, "offer", "教书法", "", 60)
    ag = svc.respond(session, e, offer.id)
    with pytest.raises(Conflict):
        svc.respond(session, e, offer.id)
    assert ag.receiver_id == e.id and ag.provider_id == g.id
    svc.mark_done(session, g, ag.id, 300)
    svc.dispute(session, e, ag.id, "只上了一小时课")
    with pytest.raises(Forbidden):
        svc.resolve(session, w["staff_b"], ag.id, minutes=60, note="x")
    svc.resolve(session, w["staff"], ag.id, minutes=60, note="按一小时计")
    assert ag.status == AgreementStatus.RESOLVED and ag.points == 10
    assert bal(session, w["a"], e) == 90
    with pytest.raises(Conflict):
        svc.resolve(session, w["staff"], ag.id, minutes=None, note="again")
    ag2 = svc.respond(session, e, offer.id)
    svc.mark_done(session, g, ag2.id, 60)
    svc.dispute(session, e, ag2.id, "没来")
    svc.resolve(session, w["staff"], ag2.id, minutes=None, note="取消")
    assert ag2.status == AgreementStatus.CANCELLED and bal(session, w["a"], e) == 90
    assert verify_ok(session)


def test_pay_without_funds_is_refused(session, w):
    e, g = w["elder"], w["giver"]
    req = svc.create_listing(session, e, "request", "修灯", "", 60)
    ag = svc.respond(session, g, req.id)
    svc.mark_done(session, g, ag.id, 60)
    with pytest.raises(ServiceError) as exc:
        svc.approve_and_pay(session, e, ag.id)
    assert exc.value.code == "insufficient_funds"


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_fifo_idempotent_and_warning(session, w):
    a, e = w["a"], w["elder"]
    set_setting(session, a, expiry_months=12)
    fund(session, a, e, 100)  # credited "now" (real clock); the injected clock is a year later
    later = app_clock.now() + dt.timedelta(days=400)
    svc.give(session, e, w["giver"].phone, 30, "", key())  # spent 30 of the old points
    assert [
        (x.user_id, x.amount) for x in expiry.run_expiry(session, later, dry_run=True) if x.user_id == e.id
    ] == [(e.id, 70)]
    done = [x for x in expiry.run_expiry(session, later) if x.user_id == e.id]
    assert [x.amount for x in done] == [70]
    assert bal(session, a, e) == 0
    assert not [x for x in expiry.run_expiry(session, later) if x.user_id == e.id]  # idempotent
    expired_acc = ledger.system_account(session, a.id, "expired")
    assert ledger.balance(session, expired_acc) >= 70
    assert verify_ok(session)


def test_expiry_warning_once(session, w):
    a, e = w["a"], w["elder"]
    set_setting(session, a, expiry_months=1)
    fund(session, a, e, 40)
    now = app_clock.now()
    # Late next month (Shanghai): the cutoff moves within 30 days and covers today's credits.
    nxt = expiry.add_months(now.astimezone(svc.LOCAL_TZ).date().replace(day=1), 2)
    clock = dt.datetime.combine(nxt - dt.timedelta(days=5), dt.time(12), tzinfo=svc.LOCAL_TZ)
    warned = [x for x in expiry.warn_expiry(session, clock) if x.user_id == e.id]
    assert [x.amount for x in warned] == [40]
    expiry.warn_expiry(session, clock)
    assert (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == e.id, Notification.kind == "points.expiry_warning")
        )
        == 1
    )
    early = dt.datetime.combine(nxt - dt.timedelta(days=40), dt.time(12), tzinfo=svc.LOCAL_TZ)
    assert expiry.warn_expiry(session, early) == []


def test_expirable_formula(session, w):
    a, e = w["a"], w["elder"]
    fund(session, a, e, 50)
    acc = ledger.user_account(session, a.id, e.id)
    future = app_clock.now() + dt.timedelta(days=1)
    past = app_clock.now() - dt.timedelta(days=1)
    assert expiry.expirable(session, acc, future) == 50
    assert expiry.expirable(session, acc, past) == 0
    svc.give(session, e, w["giver"].phone, 20, "", key())
    assert expiry.expirable(session, acc, future) == 30


def test_demo_seed_is_idempotent(session, app):
    from portal.demo import seed_demo
    from portal.exchange.models import GrantBatch, Listing

    with app.app_context():
        seed_demo(session)
        counts = [session.scalar(select(func.count()).select_from(m)) for m in (Gift, GrantBatch, Listing)]
        assert counts[0] >= 1 and counts[1] >= 1 and counts[2] >= 3
        seed_demo(session)
        assert [
            session.scalar(select(func.count()).select_from(m)) for m in (Gift, GrantBatch, Listing)
        ] == counts
        assert (
            session.scalar(
                select(func.count())
                .select_from(svc.Agreement)
                .where(svc.Agreement.status == AgreementStatus.PAID)
            )
            >= 1
        )
        assert verify_ok(session)
