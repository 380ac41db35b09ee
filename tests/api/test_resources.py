"""Every other API resource through the HTTP client, both backends: the happy path, the
refusals across communities for each role, and bad input → 4xx with nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import ledger
from core.db import utcnow
from portal.people.models import Role
from portal.posts import services as posts
from portal.rewards.models import Voucher
from portal.volunteering.hours import HourLog, HourStatus
from tests.api.conftest import assert_error
from tests.factories import (
    give_points,
    make_community,
    make_post,
    make_reward,
    make_street,
    make_team,
    make_user,
)


@pytest.fixture()
def w(session):
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=make_street(session))
    return {
        "a": a,
        "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "vol": make_user(session, community=a),
        "vol2": make_user(session, community=a),
        "outsider": make_user(session, community=b),
        "merchant": make_user(session, community=a, roles=(Role.MERCHANT,)),
        "merchant_b": make_user(session, community=b, roles=(Role.MERCHANT,)),
        "admin_b": make_user(session, community=b, roles=((Role.STREET_ADMIN, b.street_id),)),
    }


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_communities_posts_teams(session, api, w):
    post = make_post(session, w["a"], places=1)
    team = make_team(session, w["a"])
    vol = api(w["vol"])
    listed = vol.get("/api/v1/communities").get_json()["items"]
    assert [c["id"] for c in listed] == [w["a"].id] and listed[0]["home"] and not listed[0]["staff"]
    assert vol.get(f"/api/v1/communities/{w['a'].id}").get_json()["name"] == w["a"].name
    posts_ = vol.get(f"/api/v1/communities/{w['a'].id}/posts").get_json()["items"]
    assert [p["id"] for p in posts_] == [post.id] and posts_[0]["places_left"] == 1
    claim = vol.post(f"/api/v1/posts/{post.id}/claim")
    assert claim.status_code == 201 and claim.get_json()["status"] in ("pending", "active")
    assert_error(vol.post(f"/api/v1/posts/{post.id}/claim"), 409, "already_claimed")
    assert [c["id"] for c in vol.get("/api/v1/posts/claims/mine").get_json()["items"]] == [
        claim.get_json()["id"]
    ]
    released = vol.post(f"/api/v1/posts/claims/{claim.get_json()['id']}/release")
    assert released.status_code == 200 and released.get_json()["status"] not in ("pending", "active")
    teams_ = vol.get(f"/api/v1/communities/{w['a'].id}/teams").get_json()["items"]
    assert [t["id"] for t in teams_] == [team.id]
    joined = vol.post(f"/api/v1/teams/{team.id}/join")
    assert joined.status_code == 201 and joined.get_json()["team_id"] == team.id
    assert vol.post(f"/api/v1/teams/{team.id}/leave").status_code == 200
    # Another community, for each role that is not there.
    for who in ("outsider", "staff_b", "merchant_b"):
        other = api(w[who])
        assert_error(other.get(f"/api/v1/communities/{w['a'].id}"), 403, "not_member")
        assert other.get(f"/api/v1/communities/{w['a'].id}/posts").status_code == 403
        assert other.get(f"/api/v1/communities/{w['a'].id}/teams").status_code == 403
        assert other.post(f"/api/v1/posts/{post.id}/claim").status_code == 403
        assert other.post(f"/api/v1/teams/{team.id}/join").status_code == 403
    assert_error(api(w["outsider"]).post(f"/api/v1/posts/claims/{claim.get_json()['id']}/release"), 404)
    assert_error(vol.get("/api/v1/communities/987654321"), 404, "community_not_found")


def _held_post(session, w):
    post = make_post(session, w["a"], points_per_hour=10)
    claim = posts.claim_post(session, w["vol"], post.id)
    if claim.status.value == "pending":
        posts.approve_claim(session, w["staff"], claim.id)
    return post


def test_hours_report_queue_approve_reject(session, api, w):
    post = _held_post(session, w)
    vol = api(w["vol"])
    now = utcnow().replace(microsecond=0)
    body = {
        "source": "post",
        "source_id": post.id,
        "started_at": (now - dt.timedelta(hours=3)).isoformat(),
        "ended_at": (now - dt.timedelta(hours=1)).isoformat(),
        "description": "楼道清扫",
    }
    made = vol.post("/api/v1/hours", json=body)
    assert made.status_code == 201, made.get_json()
    log_id = made.get_json()["id"]
    assert made.get_json()["status"] == "pending" and made.get_json()["minutes"] == 120
    assert_error(vol.post("/api/v1/hours", json=body), 409, "overlap")  # the same rule as the page
    for bad in (
        {**body, "started_at": "2024-01-01T09:00:00"},  # no timezone
        {**body, "source": "other"},
        {**body, "source_id": "1"},
        {**body, "source_id": 2**70},
        {**body, "description": ""},
        {**body, "extra": 1},
    ):
        assert_error(vol.post("/api/v1/hours", json=bad), 422, "invalid_input")
    assert [x["id"] for x in vol.get("/api/v1/hours/mine").get_json()["items"]] == [log_id]
    # Residents and other communities' staff cannot see or decide the queue.
    for who in ("vol2", "staff_b", "merchant", "outsider"):
        other = api(w[who])
        assert other.get("/api/v1/hours/queue", query_string={"community_id": w["a"].id}).status_code == 403
        assert other.post("/api/v1/hours/approve", json={"ids": [log_id]}).status_code in (403, 404)
    assert _count(session, HourLog, HourLog.status == HourStatus.PENDING) == 1
    # The volunteer cannot approve their own hours even as staff elsewhere.
    staff = api(w["staff"])
    queue = staff.get("/api/v1/hours/queue", query_string={"community_id": w["a"].id}).get_json()
    assert [x["id"] for x in queue["items"]] == [log_id]
    key = {"Idempotency-Key": "approve-1"}
    first = staff.post("/api/v1/hours/approve", json={"ids": [log_id]}, headers=key)
    assert (
        first.status_code == 200
        and first.get_json()["approved"] == [log_id]
        and first.get_json()["points"] == 20
    )
    again = staff.post("/api/v1/hours/approve", json={"ids": [log_id]}, headers=key)
    assert again.get_json() == first.get_json() and again.headers.get("Idempotent-Replayed") == "true"
    assert_error(staff.post("/api/v1/hours/approve", json={"ids": [log_id, 1]}, headers=key), 422)
    plain = staff.post("/api/v1/hours/approve", json={"ids": [log_id]})
    assert plain.get_json()["skipped"] == [log_id] and plain.get_json()["approved"] == []
    statement = vol.get("/api/v1/points/statement").get_json()
    assert statement["balance"] == 20
    # The line's reason is a code rendered in the request's language, not stored text.
    line = statement["items"][0]
    assert line["reason_code"] == "hours.approved" and line["note"] is None
    assert f"#{log_id}" in line["reason"] and not line["reason"].startswith("@")
    assert_error(staff.post("/api/v1/hours/reject", json={"ids": [log_id], "reason": ""}), 422)
    for bad in ({"ids": []}, {"ids": ["1"]}, {"ids": [0]}, {"ids": list(range(1, 1002))}, {"ids": 5}):
        assert_error(staff.post("/api/v1/hours/approve", json=bad), 422, "invalid_input")
    bad_q = staff.get("/api/v1/hours/queue", query_string={"community_id": w["a"].id, "post_id": 99999})
    assert_error(bad_q, 400, "bad_filter")


def test_wish_journey_and_refusals(session, api, w):
    asker, helper = api(w["vol"]), api(w["vol2"])
    made = asker.post("/api/v1/wishes", json={"title": "帮忙买药", "category": "生活帮扶"})
    assert made.status_code == 201, made.get_json()
    wish_id = made.get_json()["id"]
    assert wish_id in [x["id"] for x in helper.get("/api/v1/wishes").get_json()["items"]]
    # Another community's wish is answered like a missing one.
    assert_error(api(w["outsider"]).get(f"/api/v1/wishes/{wish_id}"), 404)
    assert_error(api(w["staff_b"]).post(f"/api/v1/wishes/{wish_id}/claim", json={}), 404)
    claimed = helper.post(f"/api/v1/wishes/{wish_id}/claim", json={})
    assert claimed.status_code == 200 and claimed.get_json()["status"] == "claimed"
    now = utcnow().replace(microsecond=0)
    done = helper.post(
        f"/api/v1/wishes/{wish_id}/fulfil",
        json={
            "started_at": (now - dt.timedelta(hours=2)).isoformat(),
            "ended_at": (now - dt.timedelta(hours=1)).isoformat(),
            "note": "已送到",
        },
    )
    assert done.status_code == 200, done.get_json()
    assert_error(helper.post(f"/api/v1/wishes/{wish_id}/confirm", json={"rating": 5}), 403)
    assert_error(asker.post(f"/api/v1/wishes/{wish_id}/confirm", json={"rating": 6}), 422)
    ok = asker.post(f"/api/v1/wishes/{wish_id}/confirm", json={"rating": 5, "comment": "谢谢"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "confirmed"
    mine = asker.get("/api/v1/wishes/mine").get_json()
    assert [x["id"] for x in mine["made"]] == [wish_id]
    second = asker.post("/api/v1/wishes", json={"title": "修水管", "category": "维修"}).get_json()["id"]
    assert asker.post(f"/api/v1/wishes/{second}/withdraw").get_json()["status"] == "withdrawn"
    assert_error(asker.post("/api/v1/wishes", json={"title": "x", "category": "不存在"}), 422)


def test_rewards_redeem_vouchers_fulfil(session, api, w):
    reward = make_reward(session, w["a"], w["merchant"], price=10, stock=2)
    give_points(session, w["a"], w["vol"], 25)
    vol = api(w["vol"])
    store = vol.get("/api/v1/rewards").get_json()["items"]
    assert [r["id"] for r in store] == [reward.id] and store[0]["affordable"]
    assert api(w["outsider"]).get("/api/v1/rewards").get_json()["items"] == []
    assert_error(api(w["outsider"]).post(f"/api/v1/rewards/{reward.id}/redeem"), 404)
    key = {"Idempotency-Key": "redeem-abc-1"}
    first = vol.post(f"/api/v1/rewards/{reward.id}/redeem", headers=key)
    assert first.status_code == 201, first.get_json()
    again = vol.post(f"/api/v1/rewards/{reward.id}/redeem", headers=key)
    assert again.get_json() == first.get_json()
    assert _count(session, Voucher, Voucher.user_id == w["vol"].id) == 1
    statement = vol.get("/api/v1/points/statement").get_json()
    assert (statement["balance"], statement["held"], statement["available"]) == (25, 10, 15)
    me = vol.get("/api/v1/me").get_json()["points"]
    assert (me["balance"], me["held"], me["available"]) == (25, 10, 15)
    code = first.get_json()["code"]
    assert [v["id"] for v in vol.get("/api/v1/vouchers").get_json()["items"]] == [first.get_json()["id"]]
    # Only a merchant of this community (or its staff) can fulfil it.
    for who in ("vol2", "merchant_b", "staff_b", "outsider"):
        resp = api(w[who]).post("/api/v1/vouchers/fulfil", json={"code": code})
        assert resp.status_code in (403, 404), (who, resp.status_code)
    done = api(w["merchant"]).post("/api/v1/vouchers/fulfil", json={"code": code})
    assert done.status_code == 200 and done.get_json()["status"] == "fulfilled"
    assert vol.get("/api/v1/points/statement").get_json()["balance"] == 15
    second = vol.post(f"/api/v1/rewards/{reward.id}/redeem").get_json()
    cancelled = vol.post(f"/api/v1/vouchers/{second['id']}/cancel")
    assert cancelled.get_json()["status"] == "cancelled"
    assert_error(api(w["vol2"]).post(f"/api/v1/vouchers/{second['id']}/cancel"), 404)
    poor = api(w["vol2"]).post(f"/api/v1/rewards/{reward.id}/redeem")
    assert poor.status_code == 409, poor.get_json()
    assert ledger.verify(session).ok


def test_redeem_is_rate_limited_per_person(db_url, engine, connection, session, w):
    from tests.api.conftest import ApiClient, device_token
    from tests.conftest import make_test_app

    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, REDEEM_LIMIT="2 per minute"
    )
    reward = make_reward(session, w["a"], w["merchant"], price=1, stock=10, monthly_limit=10)
    give_points(session, w["a"], w["vol"], 10)
    client = app.test_client()
    codes = []
    for _ in range(3):
        # A new token each time: the budget is the person's, not the token's.
        caller = ApiClient(client, device_token(session, w["vol"]))
        codes.append(caller.post(f"/api/v1/rewards/{reward.id}/redeem").status_code)
    assert codes == [201, 201, 429]
    assert _count(session, Voucher, Voucher.user_id == w["vol"].id) == 2


def test_gifts_and_replayed_keys_with_other_bodies(session, api, w):
    give_points(session, w["a"], w["vol"], 50)
    vol = api(w["vol"])
    key = {"Idempotency-Key": "gift-0001"}
    body = {"mobile": w["vol2"].phone, "amount": 5, "note": "生日快乐"}
    first = vol.post("/api/v1/gifts", json=body, headers=key)
    assert first.status_code == 201, first.get_json()
    assert vol.post("/api/v1/gifts", json=body, headers=key).get_json() == first.get_json()
    assert_error(
        vol.post("/api/v1/gifts", json={**body, "amount": 6}, headers=key), 422, "idempotency_key_reused"
    )
    assert vol.get("/api/v1/points/statement").get_json()["balance"] == 45
    received = api(w["vol2"]).get("/api/v1/gifts").get_json()["items"]
    assert received[0]["direction"] == "in" and received[0]["amount"] == 5
    outsider = api(w["outsider"])
    assert outsider.post("/api/v1/gifts", json={"mobile": w["vol2"].phone, "amount": 1}).status_code in (
        403,
        404,
        422,
        409,
    )
    for bad in (
        {**body, "amount": -1},
        {**body, "amount": 10**30},
        {**body, "amount": "5"},
        {**body, "amount": 1.5},
    ):
        assert_error(vol.post("/api/v1/gifts", json=bad), 422, "invalid_input")
    assert vol.get("/api/v1/points/statement").get_json()["balance"] == 45


def test_exchange_listing_agreement_payment(session, api, w):
    give_points(session, w["a"], w["vol"], 100)
    asker, helper = api(w["vol"]), api(w["vol2"])
    listing = asker.post(
        "/api/v1/exchange/listings", json={"kind": "request", "title": "接孩子", "est_minutes": 60}
    )
    assert listing.status_code == 201, listing.get_json()
    lid = listing.get_json()["id"]
    assert lid in [x["id"] for x in helper.get("/api/v1/exchange/listings").get_json()["items"]]
    assert api(w["outsider"]).post(f"/api/v1/exchange/listings/{lid}/respond").status_code in (403, 404)
    agreement = helper.post(f"/api/v1/exchange/listings/{lid}/respond")
    assert agreement.status_code == 201, agreement.get_json()
    aid = agreement.get_json()["id"]
    assert helper.post(f"/api/v1/exchange/agreements/{aid}/done", json={"minutes": 60}).status_code == 200
    paid = asker.post(f"/api/v1/exchange/agreements/{aid}/pay", headers={"Idempotency-Key": "pay-1"})
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "paid" or paid.get_json()["points"] is not None
    assert [x["id"] for x in asker.get("/api/v1/exchange/agreements").get_json()["items"]] == [aid]
    assert ledger.verify(session).ok


def test_statement_pages_and_fund_for_staff_only(session, api, w):
    for _ in range(5):
        give_points(session, w["a"], w["vol"], 1)
    vol = api(w["vol"])
    first = vol.get("/api/v1/points/statement", query_string={"limit": 2}).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = vol.get("/api/v1/points/statement", query_string={"limit": 10, "cursor": first["next_cursor"]})
    assert len(rest.get_json()["items"]) == 3 and rest.get_json()["next_cursor"] is None
    # Someone else's cursor (another account) is refused.
    give_points(session, w["a"], w["vol2"], 1)
    give_points(session, w["a"], w["vol2"], 1)
    assert_error(
        api(w["vol2"]).get("/api/v1/points/statement", query_string={"cursor": first["next_cursor"]}),
        400,
        "bad_cursor",
    )
    fund = api(w["staff"]).get("/api/v1/points/fund", query_string={"community_id": w["a"].id})
    assert fund.status_code == 200 and fund.get_json()["balance"] == -7
    for who in ("vol", "merchant", "staff_b", "outsider"):
        resp = api(w[who]).get("/api/v1/points/fund", query_string={"community_id": w["a"].id})
        assert_error(resp, 403, "not_staff")
    assert (
        api(w["admin_b"]).get("/api/v1/points/fund", query_string={"community_id": w["b"].id}).status_code
        == 200
    )


def test_notifications(session, api, w):
    from portal.notifications.services import notify

    for i in range(3):
        notify(session, w["vol"].id, "test.kind", f"消息{i}")
    vol = api(w["vol"])
    assert vol.get("/api/v1/notifications/unread").get_json() == {"unread": 3}
    page = vol.get("/api/v1/notifications", query_string={"limit": 2}).get_json()
    assert [n["title"] for n in page["items"]] == ["消息2", "消息1"]
    assert (
        vol.get("/api/v1/notifications", query_string={"cursor": page["next_cursor"]}).get_json()["items"][0][
            "title"
        ]
        == "消息0"
    )
    assert vol.post("/api/v1/notifications/read").get_json() == {"marked": 3}
    assert vol.get("/api/v1/notifications/unread").get_json() == {"unread": 0}
    assert api(w["vol2"]).get("/api/v1/notifications").get_json()["items"] == []
    assert_error(api(w["vol"], scopes=["me:read"]).post("/api/v1/notifications/read"), 403, "scope_missing")


def test_statement_reasons_and_notifications_follow_accept_language(session, api, w):
    give_points(session, w["a"], w["vol"], 50)
    zh, en = api(w["vol"], lang="zh-CN"), api(w["vol"], lang="en")
    gift = zh.post("/api/v1/gifts", json={"mobile": w["vol2"].phone, "amount": 5, "note": "买水果"})
    assert gift.status_code == 201
    zh_line = zh.get("/api/v1/points/statement").get_json()["items"][0]
    en_line = en.get("/api/v1/points/statement").get_json()["items"][0]
    # The code is rendered per reader; the giver's note stays as written.
    assert zh_line["note"] == en_line["note"] == "买水果"
    assert zh_line["reason"] and en_line["reason"] and zh_line["reason"] != en_line["reason"]
    assert not zh_line["reason"].startswith("@") and not en_line["reason"].startswith("@")
    zh_n = zh.get("/api/v1/notifications").get_json()["items"][0]["title"]
    en_n = en.get("/api/v1/notifications").get_json()["items"][0]["title"]
    assert en_n.startswith("You gave 5") and zh_n != en_n


def test_reject_cancel_and_scope_list(session, api, w, client):
    post = _held_post(session, w)
    now = utcnow().replace(microsecond=0)
    vol, staff = api(w["vol"]), api(w["staff"])
    log_id = vol.post(
        "/api/v1/hours",
        json={
            "source": "post",
            "source_id": post.id,
            "started_at": (now - dt.timedelta(hours=5)).isoformat(),
            "ended_at": (now - dt.timedelta(hours=4)).isoformat(),
            "description": "值班",
        },
    ).get_json()["id"]
    assert_error(
        api(w["staff_b"]).post("/api/v1/hours/reject", json={"ids": [log_id], "reason": "不对"}), 403
    )
    rejected = staff.post("/api/v1/hours/reject", json={"ids": [log_id], "reason": "时间不对"})
    assert rejected.status_code == 200 and rejected.get_json()["approved"] == [log_id]
    mine = vol.get("/api/v1/hours/mine", query_string={"status": "rejected"}).get_json()["items"]
    assert [(x["id"], x["reject_reason"]) for x in mine] == [(log_id, "时间不对")]
    # Time exchange: either party may cancel before payment; outsiders may not.
    listing = vol.post(
        "/api/v1/exchange/listings", json={"kind": "offer", "title": "教手机", "est_minutes": 30}
    )
    aid = (
        api(w["vol2"]).post(f"/api/v1/exchange/listings/{listing.get_json()['id']}/respond").get_json()["id"]
    )
    assert api(w["outsider"]).post(f"/api/v1/exchange/agreements/{aid}/cancel").status_code in (403, 404)
    assert vol.post(f"/api/v1/exchange/agreements/{aid}/cancel").get_json()["status"] == "cancelled"
    scopes = client.get("/api/v1/auth/scopes", headers={"Accept-Language": "en"}).get_json()["items"]
    assert {s["name"] for s in scopes} >= {"me:read", "points:write", "staff:write"}
