"""Hours, wishes, compliance and home pages through the test client (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

import ledger
from core.db import utcnow
from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.hours.models import HourLog, HourSource, HourStatus
from portal.wishes import services as wish_svc
from portal.wishes.models import Wish, WishStatus
from tests.factories import login, make_community, make_street, make_user

EN = {"BABEL_DEFAULT_LOCALE": "en"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture()
def w(session, client):
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=make_street(session))
    return {
        "a": a, "b": b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "vol": make_user(session, community=a),
        "vol2": make_user(session, community=a),
        "party": make_user(session, community=a, roles=(Role.PARTY_MEMBER,), phone="13912345678"),
    }


def _log(session, user, community, start, minutes=60, status=HourStatus.PENDING, reporter=None):
    log = HourLog(community_id=community.id, user_id=user.id, source=HourSource.OTHER,
                  started_at=start, ended_at=start + dt.timedelta(minutes=minutes), minutes=minutes,
                  description="巡楼", reported_by_id=(reporter or user).id, status=status)
    session.add(log)
    return log


def _balance(session, community, user):
    acc = ledger.find_account(session, community.id, f"user:{user.id}")
    return 0 if acc is None else ledger.balance(session, acc)


def _verify_ok(session):
    ok = ledger.verify(session).ok
    session.connection().execution_options(stream_results=False, yield_per=None)
    return ok


def _csrf_off(app):
    app.config["WTF_CSRF_ENABLED"] = False


def test_approve_500_in_one_request(app, client, session, w):
    _csrf_off(app)
    vols = [make_user(session, community=w["a"]) for _ in range(50)]
    base = utcnow() - dt.timedelta(days=30)
    for i in range(10):
        for v in vols:
            _log(session, v, w["a"], base + dt.timedelta(days=i))
    session.flush()
    login(client, w["staff"])
    resp = client.post("/hours/review/approve", data={"all_matching": "1", "community_id": w["a"].id,
                                                      "status": "pending"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(HourLog).where(
        HourLog.status == HourStatus.APPROVED)) == 500
    assert all(_balance(session, w["a"], v) == 100 for v in vols)
    fund = ledger.community_fund(session, w["a"].id)
    assert ledger.balance(session, fund) == -5000
    assert _verify_ok(session)
    # The same form again changes nothing.
    resp = client.post("/hours/review/approve", data={"all_matching": "1", "community_id": w["a"].id})
    assert resp.status_code == 302
    assert ledger.balance(session, fund) == -5000


def test_double_submitted_approve_pays_once(app, client, session, w):
    _csrf_off(app)
    log = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=1))
    session.flush()
    login(client, w["staff"])
    for _ in range(2):
        resp = client.post("/hours/review/approve", data={"log_id": [log.id], "community_id": w["a"].id})
        assert resp.status_code == 302
    session.expire_all()
    assert _balance(session, w["a"], w["vol"]) == 10
    page = client.get(f"/hours/review?community_id={w['a'].id}&status=approved")
    assert page.status_code == 200 and b"Reverse" in page.data


def test_approve_refusals(app, client, session, w):
    _csrf_off(app)
    own = _log(session, w["staff"], w["a"], utcnow() - dt.timedelta(days=1))
    other = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=2))
    session.flush()
    login(client, w["staff"])
    resp = client.post("/hours/review/approve", data={"log_id": [own.id, other.id], "community_id": w["a"].id})
    assert resp.status_code == 403 and b"own hours" in resp.data
    assert client.post("/hours/review/approve", data={"log_id": ["abc"]}).status_code == 400
    assert client.post("/hours/review/approve", data={"log_id": [999999999]}).status_code == 404
    resp = client.post("/hours/review/reject", data={"log_id": [other.id], "reason": "", "community_id": w["a"].id})
    assert resp.status_code == 400 and b"Give a reason" in resp.data
    session.expire_all()
    assert own.status == other.status == HourStatus.PENDING
    client.get("/accounts/logout")
    login(client, w["staff_b"])
    assert client.post("/hours/review/approve", data={"log_id": [other.id]}).status_code == 403
    assert client.get(f"/hours/review?community_id={w['a'].id}").status_code == 403
    session.expire_all()
    assert other.status == HourStatus.PENDING
    refused = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                       AuditEvent.action.like("hours.%"))).all()
    assert {e.action for e in refused} >= {"hours.approve", "hours.reject"}


def test_reject_and_reverse_through_pages(app, client, session, w):
    _csrf_off(app)
    a = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=1))
    b = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=2))
    session.flush()
    login(client, w["staff"])
    resp = client.post("/hours/review/reject", data={"log_id": [a.id], "reason": "照片不清楚",
                                                     "community_id": w["a"].id})
    assert resp.status_code == 302
    client.post("/hours/review/approve", data={"log_id": [b.id], "community_id": w["a"].id})
    assert client.post(f"/hours/{b.id}/reverse", data={"reason": ""}).status_code == 400
    assert client.post(f"/hours/{b.id}/reverse", data={"reason": "登记错了"}).status_code == 302
    session.expire_all()
    assert a.status == HourStatus.REJECTED and b.status == HourStatus.REVERSED
    assert _balance(session, w["a"], w["vol"]) == 0
    client.get("/accounts/logout")
    login(client, w["vol"])
    mine = client.get("/hours/")
    assert "照片不清楚".encode() in mine.data


def test_report_hours_for_a_post_with_photo(app, client, session, w, tmp_path):
    from portal.posts.models import ClaimStatus, PostClaim, ServicePost, PostStatus

    _csrf_off(app)
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    post = ServicePost(community_id=w["a"].id, title="楼栋长", places=2, points_per_hour=12,
                       status=PostStatus.OPEN, created_by_id=w["staff"].id)
    session.add(post)
    session.flush()
    session.add(PostClaim(post_id=post.id, user_id=w["vol"].id, community_id=w["a"].id, status=ClaimStatus.ACTIVE))
    session.flush()
    login(client, w["vol"])
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    form = {"source": f"post:{post.id}", "day": day, "start": "09:00", "end": "10:30", "description": "巡查楼道"}
    bad = client.post("/hours/report", data={**form, "photo": (io.BytesIO(b"GIF89a" + b"0" * 64), "x.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and b"JPEG or PNG" in bad.data
    future = (utcnow() + dt.timedelta(days=2)).date().isoformat()
    assert client.post("/hours/report", data={**form, "day": future}).status_code == 400
    resp = client.post("/hours/report", data={**form, "photo": (io.BytesIO(PNG), "我的.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    log = session.scalar(select(HourLog).where(HourLog.user_id == w["vol"].id))
    assert log.post_id == post.id and log.minutes == 90 and log.points_per_hour == 12
    assert log.photo_path and log.photo_path.endswith(".png") and "我的" not in log.photo_path
    assert client.get(f"/hours/{log.id}/photo").data == PNG
    overlap = client.post("/hours/report", data=form)
    assert overlap.status_code == 409
    forged = client.post("/hours/report", data={**form, "source": "post:999999", "start": "13:00", "end": "14:00"})
    assert forged.status_code == 404
    client.get("/accounts/logout")
    login(client, w["vol2"])
    assert client.get(f"/hours/{log.id}/photo").status_code == 404
    client.get("/accounts/logout")
    login(client, w["staff"])
    assert client.get(f"/hours/{log.id}/photo").status_code == 200
    assert client.get(f"/hours/review?community_id={w['a'].id}").status_code == 200


def test_wish_journey(app, client, session, w):
    _csrf_off(app)
    login(client, w["vol"])
    resp = client.post("/wishes/new", data={"title": "帮忙换灯泡", "category": "生活帮扶", "description": "厨房灯坏了"})
    assert resp.status_code == 302
    wish = session.scalar(select(Wish).where(Wish.requester_id == w["vol"].id))
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 403  # own wish
    client.get("/accounts/logout")
    login(client, w["vol2"])
    assert b"\xe5\xb8\xae" in client.get("/").data  # the wish shows on the home page
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 302
    assert client.post(f"/wishes/{wish.id}/confirm", data={"rating": 5}).status_code == 403
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    assert client.post(f"/wishes/{wish.id}/fulfil", data={"day": day, "start": "10:00", "end": "11:00",
                                                          "note": "换好了"}).status_code == 302
    session.expire_all()
    log = session.scalar(select(HourLog).where(HourLog.wish_id == wish.id))
    assert log.status == HourStatus.PENDING and log.user_id == w["vol2"].id
    # Staff cannot approve it before the requester confirms.
    from portal.hours import services as hsvc
    with app.test_request_context():
        assert hsvc.approve(session, w["staff"], [log.id]).approved == []
        assert hsvc.pending_count(session, w["staff"], w["a"].id) == 0
    client.get("/accounts/logout")
    login(client, w["vol"])
    assert client.post(f"/wishes/{wish.id}/confirm", data={"rating": 6}).status_code == 400
    assert client.post(f"/wishes/{wish.id}/confirm", data={"rating": 4, "comment": "谢谢"}).status_code == 302
    session.expire_all()
    assert wish.status == WishStatus.CONFIRMED and wish.rating == 4
    client.get("/accounts/logout")
    login(client, w["staff"])
    assert client.post("/hours/review/approve", data={"log_id": [log.id]}).status_code == 302
    session.expire_all()
    assert _balance(session, w["a"], w["vol2"]) == 10
    assert client.post(f"/wishes/{wish.id}/withdraw").status_code == 409
    assert client.get("/wishes/999999").status_code == 404


def test_wish_withdraw_and_other_community(app, client, session, w):
    _csrf_off(app)
    wish = Wish(community_id=w["a"].id, requester_id=w["vol"].id, created_by_id=w["vol"].id,
                title="陪伴就医", category="陪伴就医")
    session.add(wish)
    session.flush()
    login(client, w["staff_b"])
    assert client.get(f"/wishes/{wish.id}").status_code == 404
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 404
    client.get("/accounts/logout")
    login(client, w["vol2"])
    assert client.post(f"/wishes/{wish.id}/withdraw").status_code == 403
    client.get("/accounts/logout")
    login(client, w["vol"])
    assert client.post(f"/wishes/{wish.id}/withdraw").status_code == 302
    session.expire_all()
    assert wish.status == WishStatus.WITHDRAWN


def test_release_stale_claims(app, session, w):
    wish = Wish(community_id=w["a"].id, requester_id=w["vol"].id, created_by_id=w["vol"].id,
                title="辅导作业", category="学习用品")
    session.add(wish)
    session.flush()
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    wish_svc.claim_wish(session, w["vol2"], wish.id, now=t0)
    assert wish_svc.release_stale(session, now=t0 + dt.timedelta(days=6)) == []
    assert wish_svc.release_stale(session, now=t0 + dt.timedelta(days=7, minutes=1)) == [wish.id]
    assert wish.status == WishStatus.OPEN and wish.claimed_by_id is None


def test_release_stale_cli(app, session, w):
    result = app.test_cli_runner().invoke(args=["wishes", "release-stale"])
    assert result.exit_code == 0 and "released" in result.output


def test_db_refuses_self_claim(session, w):
    from sqlalchemy.exc import IntegrityError

    wish = Wish(community_id=w["a"].id, requester_id=w["vol"].id, created_by_id=w["vol"].id,
                title="x", category="其他")
    session.add(wish)
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(update(Wish).where(Wish.id == wish.id).values(
            claimed_by_id=Wish.requester_id, status="claimed"))


def test_compliance_list_export_and_card(app, client, session, w):
    _csrf_off(app)
    log = _log(session, w["party"], w["a"], utcnow() - dt.timedelta(hours=30), status=HourStatus.APPROVED)
    log.reviewed_by_id, log.points = w["staff"].id, 10
    session.flush()
    login(client, w["staff"])
    page = client.get(f"/compliance/?community_id={w['a'].id}&behind=1")
    assert page.status_code == 200 and b"139****5678" in page.data and b"13912345678" not in page.data
    resp = client.post("/compliance/export", data={"community_id": w["a"].id})
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][1] == "13912345678" and rows[1][7] == 10
    session.expire_all()
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "compliance.export"))
    client.get("/accounts/logout")
    login(client, w["staff_b"])
    assert client.post("/compliance/export", data={"community_id": w["a"].id}).status_code == 403
    client.get("/accounts/logout")
    login(client, w["party"])
    assert client.get("/compliance/me").status_code == 200
    home = client.get("/")
    assert home.status_code == 200 and b"party member" in home.data


def test_staff_home_shows_queue(app, client, session, w):
    _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=1))
    session.flush()
    login(client, w["staff"])
    home = client.get("/")
    assert home.status_code == 200 and b"waiting for approval: 1" in home.data
