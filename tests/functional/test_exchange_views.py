"""Gifts, grants, mutual help, My 福分 and the settings page through the test client
(SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

import ledger
from portal.audit.models import AuditEvent
from portal.exchange.models import Agreement, AgreementStatus, Gift, Grant
from portal.people.models import Role
from portal.settings.models import CommunitySettings
from tests.factories import login, make_community, make_street, make_user


def bal(session, community, user) -> int:
    acc = ledger.find_account(session, community.id, f"user:{user.id}")
    return 0 if acc is None else ledger.balance(session, acc)


def fund(session, community, user, amount):
    ledger.issue(
        session,
        key=f"test:{uuid.uuid4().hex}",
        fund_account=ledger.community_fund(session, community.id),
        to_account=ledger.user_account(session, community.id, user.id),
        amount=amount,
        actor=ledger.Actor.system("test"),
        reason="test funds",
    )


def verify_ok(session) -> bool:
    ok = ledger.verify(session).ok
    session.connection().execution_options(stream_results=False, yield_per=None)
    return ok


@pytest.fixture()
def w(app, session, client):
    app.config["WTF_CSRF_ENABLED"] = False
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=make_street(session))
    data = {
        "a": a,
        "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "giver": make_user(session, community=a, display_name="王建华"),
        "elder": make_user(session, community=a, display_name="孙桂兰"),
        "outsider": make_user(session, community=b),
    }
    fund(session, a, data["giver"], 300)
    return data


def test_gift_two_steps_and_replay(client, session, w):
    login(client, w["giver"])
    page = client.get("/exchange/gift")
    assert page.status_code == 200
    key = re.search(rb'name="idem_key" type="hidden" value="([0-9a-f]+)"', page.data) or re.search(
        rb'name="idem_key"[^>]*value="([0-9a-f]+)"', page.data
    )
    assert key
    form = {"phone": w["elder"].phone, "amount": "40", "note": "买水果", "idem_key": key.group(1).decode()}
    confirm = client.post("/exchange/gift", data=form)
    assert confirm.status_code == 200 and "孙*兰".encode() in confirm.data
    assert bal(session, w["a"], w["elder"]) == 0  # nothing moved before the confirmation
    done = client.post("/exchange/gift/confirm", data=form)
    assert done.status_code == 302
    replay = client.post("/exchange/gift/confirm", data=form)
    assert replay.status_code == 302
    assert session.scalar(select(func.count()).select_from(Gift)) == 1
    assert bal(session, w["a"], w["elder"]) == 40 and bal(session, w["a"], w["giver"]) == 260
    assert verify_ok(session)


@pytest.mark.parametrize(
    "phone_key,amount,status,text",
    [
        ("giver", "10", 400, b"yourself"),
        ("outsider", "10", 404, b"No member of your community"),  # the neutral answer (issue 9 #8)
        ("elder", "-5", 400, b"whole number"),
        ("elder", "1.5", 400, b""),
        ("elder", "999", 409, b"daily gift limit"),
    ],
)
def test_gift_refusals(client, session, w, phone_key, amount, status, text):
    login(client, w["giver"])
    resp = client.post(
        "/exchange/gift/confirm",
        data={"phone": w[phone_key].phone, "amount": amount, "idem_key": uuid.uuid4().hex},
    )
    assert resp.status_code == status
    assert text in resp.data
    assert session.scalar(select(func.count()).select_from(Gift)) == 0
    assert bal(session, w["a"], w["giver"]) == 300


def test_gift_over_daily_limit_is_refused_and_audited(client, session, w):
    session.add(CommunitySettings(community_id=w["a"].id, gift_daily_limit=50))
    session.flush()
    login(client, w["giver"])
    ok = client.post(
        "/exchange/gift/confirm",
        data={"phone": w["elder"].phone, "amount": "50", "idem_key": uuid.uuid4().hex},
    )
    assert ok.status_code == 302
    over = client.post(
        "/exchange/gift/confirm",
        data={"phone": w["elder"].phone, "amount": "1", "idem_key": uuid.uuid4().hex},
    )
    assert over.status_code == 409 and b"daily gift limit" in over.data
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "exchange.gift", AuditEvent.outcome == "refused")
        )
        >= 1
    )


def test_staff_grant_and_reverse_pages(client, session, w):
    login(client, w["staff"])
    assert client.get("/exchange/staff/grants").status_code == 200
    resp = client.post(
        "/exchange/staff/grants",
        data={
            "community_id": w["a"].id,
            "target": "person",
            "phone": w["elder"].phone,
            "amount": "20",
            "category": "mediation",
            "reason": "调解",
            "idem_key": uuid.uuid4().hex,
        },
    )
    assert resp.status_code == 302
    assert bal(session, w["a"], w["elder"]) == 20
    # self-grant, other community, Other without a reason
    bad = client.post(
        "/exchange/staff/grants",
        data={
            "community_id": w["a"].id,
            "target": "person",
            "phone": w["staff"].phone,
            "amount": "20",
            "category": "civic",
            "idem_key": uuid.uuid4().hex,
        },
    )
    assert bad.status_code == 403
    assert (
        client.post(
            "/exchange/staff/grants",
            data={
                "community_id": w["b"].id,
                "target": "person",
                "phone": w["outsider"].phone,
                "amount": "20",
                "category": "civic",
                "idem_key": uuid.uuid4().hex,
            },
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/exchange/staff/grants",
            data={
                "community_id": w["a"].id,
                "target": "person",
                "phone": w["elder"].phone,
                "amount": "20",
                "category": "other",
                "reason": "",
                "idem_key": uuid.uuid4().hex,
            },
        ).status_code
        == 400
    )
    g = session.scalar(select(Grant))
    page = client.get("/exchange/staff/grants")
    assert "孙桂兰".encode() in page.data
    rev = client.post(
        f"/exchange/staff/grants/{g.id}/reverse",
        data={"community_id": w["a"].id, "reason": "发错了", "idem_key": uuid.uuid4().hex},
    )
    assert rev.status_code == 302
    assert bal(session, w["a"], w["elder"]) == 0
    again = client.post(
        f"/exchange/staff/grants/{g.id}/reverse",
        data={"community_id": w["a"].id, "reason": "再来", "idem_key": uuid.uuid4().hex},
    )
    assert again.status_code == 409
    assert verify_ok(session)


def test_staff_of_other_community_cannot_reverse_or_see(client, session, w):
    from portal.exchange import services as svc

    with client.application.app_context():
        batch = svc.grant(
            session,
            w["staff"],
            w["a"].id,
            target="person",
            phone=w["elder"].phone,
            amount=5,
            category="civic",
            reason="",
            idem_key=uuid.uuid4().hex,
        )
    login(client, w["staff_b"])
    assert client.get(f"/exchange/staff/grants?community_id={w['a'].id}").status_code == 403
    resp = client.post(
        f"/exchange/staff/grants/{batch.grants[0].id}/reverse",
        data={"community_id": w["b"].id, "reason": "x", "idem_key": uuid.uuid4().hex},
    )
    assert resp.status_code == 403
    assert bal(session, w["a"], w["elder"]) == 5
    login(client, w["giver"])
    assert client.get("/exchange/staff/grants").status_code == 403


def test_mutual_help_flow_through_pages(client, session, w):
    fund(session, w["a"], w["elder"], 50)
    login(client, w["elder"])
    resp = client.post(
        "/exchange/listings/new",
        data={"kind": "request", "title": "遛狗", "description": "", "est_hours": "1"},
    )
    assert resp.status_code == 302
    listing_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    assert client.post(f"/exchange/listings/{listing_id}/respond").status_code == 403  # own listing
    login(client, w["giver"])
    resp = client.post(f"/exchange/listings/{listing_id}/respond")
    assert resp.status_code == 302
    ag = session.scalar(select(Agreement))
    assert client.post(f"/exchange/agreements/{ag.id}/done", data={"hours": "0.7"}).status_code == 400
    assert client.post(f"/exchange/agreements/{ag.id}/done", data={"hours": "2"}).status_code == 302
    assert client.post(f"/exchange/agreements/{ag.id}/pay").status_code == 403  # not the receiver
    login(client, w["outsider"])
    assert client.get(f"/exchange/agreements/{ag.id}").status_code == 404
    assert client.post(f"/exchange/agreements/{ag.id}/pay").status_code == 404  # not even shown
    login(client, w["elder"])
    assert client.get(f"/exchange/agreements/{ag.id}").status_code == 200
    assert client.post(f"/exchange/agreements/{ag.id}/pay").status_code == 302
    assert client.post(f"/exchange/agreements/{ag.id}/pay").status_code == 409
    session.refresh(ag)
    assert ag.status == AgreementStatus.PAID and ag.points == 20
    assert bal(session, w["a"], w["elder"]) == 30
    assert client.post("/exchange/agreements/999999/pay").status_code == 404
    assert verify_ok(session)


def test_points_page_statement_chart_and_paging(client, session, w):
    for _ in range(35):
        fund(session, w["a"], w["giver"], 1)
    login(client, w["giver"])
    page = client.get("/points")
    assert page.status_code == 200
    assert b"<svg" in page.data and b"Statement" in page.data and b"335" in page.data
    m = re.search(rb'href="/points\?before=(\d+)"', page.data)
    assert m
    older = client.get(f"/points?before={m.group(1).decode()}")
    assert older.status_code == 200 and b"test funds" in older.data
    assert client.get("/points?before=abc").status_code == 200
    assert b"style=" not in page.data


def test_settings_page(client, session, w):
    login(client, w["staff"])
    assert client.get("/settings/").status_code == 200
    data = {
        "community_id": w["a"].id,
        "gift_daily_limit": "80",
        "exchange_points_per_hour": "12",
        "expiry_months": "",
        "points_per_hour": "10",
        "daily_minutes_cap": "480",
        "hours_rounding_minutes": "15",
        "post_claim_cap": "2",
        "team_cap": "2",
        "party_activity_goal": "4",
        "wish_claim_days": "7",
        "wish_auto_pay_max_minutes": "120",
    }
    assert client.post("/settings/", data=data).status_code == 302
    s = session.get(CommunitySettings, w["a"].id)
    session.refresh(s)
    assert s.gift_daily_limit == 80 and s.exchange_points_per_hour == 12 and s.expiry_months is None
    assert client.post("/settings/", data=dict(data, exchange_points_per_hour="0")).status_code == 400
    assert client.post("/settings/", data=dict(data, hours_rounding_minutes="7")).status_code == 400
    assert client.post("/settings/", data=dict(data, community_id=w["b"].id)).status_code == 403
    login(client, w["giver"])
    assert client.get("/settings/").status_code == 403
