"""Hours, wishes, compliance and home pages through the test client (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

import ledger
from core.db import utcnow
from portal.audit.models import AuditEvent
from portal.people.models import Role
from portal.volunteering.hours import HourLog, HourSource, HourStatus
from portal.volunteering.wishes import Wish, WishStatus
from portal.wishes import services as wish_svc
from tests.factories import login, make_activity, make_community, make_post, make_street, make_team, make_user
from tests.image_samples import FAKE_JPEG, assert_clean, huge_png, phone_jpeg, png

EN = {"BABEL_DEFAULT_LOCALE": "en"}
PNG = png()


@pytest.fixture()
def w(session, client):
    client.set_cookie("fufen_lang", "en")
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
        "party": make_user(session, community=a, roles=(Role.PARTY_MEMBER,), phone="13912345678"),
    }


def _log(session, user, community, start, minutes=60, status=HourStatus.PENDING, reporter=None):
    log = HourLog(
        community_id=community.id,
        user_id=user.id,
        source=HourSource.OTHER,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=minutes),
        minutes=minutes,
        description="巡楼",
        reported_by_id=(reporter or user).id,
        status=status,
    )
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
    resp = client.post(
        "/hours/review/approve", data={"all_matching": "1", "community_id": w["a"].id, "status": "pending"}
    )
    assert resp.status_code == 302
    session.expire_all()
    assert (
        session.scalar(select(func.count()).select_from(HourLog).where(HourLog.status == HourStatus.APPROVED))
        == 500
    )
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
    resp = client.post(
        "/hours/review/approve", data={"log_id": [own.id, other.id], "community_id": w["a"].id}
    )
    assert resp.status_code == 403 and b"own hours" in resp.data
    assert client.post("/hours/review/approve", data={"log_id": ["abc"]}).status_code == 400
    assert client.post("/hours/review/approve", data={"log_id": [999999999]}).status_code == 404
    resp = client.post(
        "/hours/review/reject", data={"log_id": [other.id], "reason": "", "community_id": w["a"].id}
    )
    assert resp.status_code == 400 and b"Give a reason" in resp.data
    session.expire_all()
    assert own.status == other.status == HourStatus.PENDING
    client.get("/accounts/logout")
    login(client, w["staff_b"])
    assert client.post("/hours/review/approve", data={"log_id": [other.id]}).status_code == 403
    assert client.get(f"/hours/review?community_id={w['a'].id}").status_code == 403
    session.expire_all()
    assert other.status == HourStatus.PENDING
    refused = session.scalars(
        select(AuditEvent).where(AuditEvent.outcome == "refused", AuditEvent.action.like("hours.%"))
    ).all()
    assert {e.action for e in refused} >= {"hours.approve", "hours.reject"}


@pytest.fixture()
def scoped(session, w):
    """A post, an activity and a team in each community, and a pending log for each filter."""
    post_a, post_b = make_post(session, w["a"], title="A岗位"), make_post(session, w["b"], title="B岗位")
    week_ago, long_ago = utcnow() - dt.timedelta(days=10), utcnow() - dt.timedelta(days=200)
    act_a = make_activity(session, w["a"], w["staff"], title="A活动", now=week_ago)
    act_b = make_activity(session, w["b"], w["staff_b"], title="B活动", now=week_ago)
    old_act = make_activity(session, w["a"], w["staff"], title="A旧活动", now=long_ago)
    team_a = make_team(session, w["a"], name="A队", members=[w["vol2"]])
    team_b = make_team(session, w["b"], name="B队", members=[w["staff_b"]])
    day = utcnow() - dt.timedelta(days=1)
    by_post = _log(session, w["vol"], w["a"], day)
    by_post.source, by_post.post_id = HourSource.POST, post_a.id
    by_act = _log(session, w["vol"], w["a"], day - dt.timedelta(hours=3))
    by_act.source, by_act.activity_id = HourSource.ACTIVITY, act_a.id
    by_team = _log(session, w["vol2"], w["a"], day - dt.timedelta(hours=6))
    other_vol = make_user(session, community=w["b"])
    in_b = _log(session, other_vol, w["b"], day)
    in_b.source, in_b.post_id, in_b.description = HourSource.POST, post_b.id, "B社区秘密"
    session.flush()
    return {
        "post_a": post_a,
        "post_b": post_b,
        "act_a": act_a,
        "act_b": act_b,
        "old_act": old_act,
        "team_a": team_a,
        "team_b": team_b,
        "by_post": by_post,
        "by_act": by_act,
        "by_team": by_team,
        "in_b": in_b,
    }


def _listed(page, *logs):
    return {log.id for log in logs if f'id="log-{log.id}"'.encode() in page.data}


def test_queue_filter_dropdowns_narrow_and_keep_selection(app, client, session, w, scoped):
    _csrf_off(app)
    s = scoped
    everything = (s["by_post"], s["by_act"], s["by_team"], s["in_b"])
    login(client, w["staff"])
    base = f"/hours/review?community_id={w['a'].id}"
    page = client.get(base)
    assert page.status_code == 200
    html = page.data.decode()
    # Only this community's items; activities of the recent/upcoming window only.
    assert 'name="post_id"' in html and 'name="activity_id"' in html and 'name="team_id"' in html
    assert "A岗位" in html and "A活动" in html and "A队" in html
    assert "B岗位" not in html and "B活动" not in html and "B队" not in html and "A旧活动" not in html
    assert _listed(page, *everything) == {s["by_post"].id, s["by_act"].id, s["by_team"].id}

    for name, obj, expected in (
        ("post_id", s["post_a"], s["by_post"]),
        ("activity_id", s["act_a"], s["by_act"]),
        ("team_id", s["team_a"], s["by_team"]),
    ):
        page = client.get(f"{base}&{name}={obj.id}")
        assert page.status_code == 200
        assert _listed(page, *everything) == {expected.id}, name
        html = page.data.decode()
        assert f'<option value="{obj.id}" selected>' in html  # kept across submits
        assert f'name="{name}" value="{obj.id}"' in html  # carried by the approve / reject forms
    # A selected activity outside the window is still shown as selected.
    page = client.get(f"{base}&activity_id={s['old_act'].id}")
    assert page.status_code == 200 and "A旧活动" in page.data.decode() and not _listed(page, *everything)

    # Approve selected: the redirect keeps the filter.
    resp = client.post(
        "/hours/review/approve",
        data={
            "log_id": [s["by_post"].id],
            "community_id": w["a"].id,
            "status": "pending",
            "post_id": s["post_a"].id,
        },
    )
    assert resp.status_code == 302 and f"post_id={s['post_a'].id}" in resp.headers["Location"]
    # Approve all matching the team filter: only the team member's log.
    resp = client.post(
        "/hours/review/approve",
        data={"all_matching": "1", "community_id": w["a"].id, "status": "pending", "team_id": s["team_a"].id},
    )
    assert resp.status_code == 302 and f"team_id={s['team_a'].id}" in resp.headers["Location"]
    # Reject keeps the activity filter.
    resp = client.post(
        "/hours/review/reject",
        data={
            "all_matching": "1",
            "community_id": w["a"].id,
            "reason": "时间不对",
            "activity_id": s["act_a"].id,
        },
    )
    assert resp.status_code == 302 and f"activity_id={s['act_a'].id}" in resp.headers["Location"]
    session.expire_all()
    assert s["by_post"].status == s["by_team"].status == HourStatus.APPROVED
    assert s["by_act"].status == HourStatus.REJECTED
    assert s["in_b"].status == HourStatus.PENDING


def test_queue_filter_from_another_community_is_refused(app, client, session, w, scoped):
    _csrf_off(app)
    s = scoped
    login(client, w["staff"])
    a = w["a"].id
    for name, obj in (("post_id", s["post_b"]), ("activity_id", s["act_b"]), ("team_id", s["team_b"])):
        page = client.get(f"/hours/review?community_id={a}&{name}={obj.id}")
        assert page.status_code == 400, name
        html = page.data.decode()
        assert "does not belong to this community" in html
        assert "B社区秘密" not in html and f'id="log-{s["in_b"].id}"' not in html
    # A nonexistent id gets the same answer (nothing to learn from it).
    assert client.get(f"/hours/review?community_id={a}&post_id=987654321").status_code == 400
    # Actions with a forged filter change nothing, even with explicitly selected ids.
    forged = [
        ("/hours/review/approve", {"all_matching": "1", "activity_id": s["act_b"].id}),
        ("/hours/review/approve", {"log_id": [s["by_post"].id], "team_id": s["team_b"].id}),
        ("/hours/review/reject", {"log_id": [s["by_act"].id], "reason": "x", "post_id": s["post_b"].id}),
    ]
    for url, data in forged:
        resp = client.post(url, data={"community_id": a, "status": "pending", **data})
        assert resp.status_code == 400 and b"does not belong to this community" in resp.data, (url, data)
        assert "B社区秘密".encode() not in resp.data
    approved = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=3))
    session.flush()
    assert (
        client.post("/hours/review/approve", data={"log_id": [approved.id], "community_id": a}).status_code
        == 302
    )
    resp = client.post(
        f"/hours/{approved.id}/reverse",
        data={"reason": "错", "community_id": a, "status": "approved", "team_id": s["team_b"].id},
    )
    assert resp.status_code == 400
    session.expire_all()
    assert {x.status for x in (s["by_post"], s["by_act"], s["by_team"], s["in_b"])} == {HourStatus.PENDING}
    assert approved.status == HourStatus.APPROVED
    refused = session.scalars(
        select(AuditEvent).where(AuditEvent.outcome == "refused", AuditEvent.action == "hours.queue")
    ).all()
    assert refused


def test_reject_and_reverse_through_pages(app, client, session, w):
    _csrf_off(app)
    a = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=1))
    b = _log(session, w["vol"], w["a"], utcnow() - dt.timedelta(days=2))
    session.flush()
    login(client, w["staff"])
    resp = client.post(
        "/hours/review/reject", data={"log_id": [a.id], "reason": "照片不清楚", "community_id": w["a"].id}
    )
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
    from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost

    _csrf_off(app)
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    post = ServicePost(
        community_id=w["a"].id,
        title="楼栋长",
        places=2,
        points_per_hour=12,
        status=PostStatus.OPEN,
        created_by_id=w["staff"].id,
    )
    session.add(post)
    session.flush()
    session.add(
        PostClaim(post_id=post.id, user_id=w["vol"].id, community_id=w["a"].id, status=ClaimStatus.ACTIVE)
    )
    session.flush()
    login(client, w["vol"])
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    form = {
        "source": f"post:{post.id}",
        "day": day,
        "start": "09:00",
        "end": "10:30",
        "description": "巡查楼道",
    }
    bad = client.post(
        "/hours/report",
        data={**form, "photo": (io.BytesIO(b"GIF89a" + b"0" * 64), "x.png")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and b"JPEG or PNG" in bad.data
    future = (utcnow() + dt.timedelta(days=2)).date().isoformat()
    assert client.post("/hours/report", data={**form, "day": future}).status_code == 400
    resp = client.post(
        "/hours/report",
        data={**form, "photo": (io.BytesIO(PNG), "我的.png")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    log = session.scalar(select(HourLog).where(HourLog.user_id == w["vol"].id))
    assert log.post_id == post.id and log.minutes == 90 and log.points_per_hour == 12
    assert log.photo_path and log.photo_path.endswith(".png") and "我的" not in log.photo_path
    assert assert_clean(client.get(f"/hours/{log.id}/photo").data, "PNG").size == (16, 8)  # re-encoded
    overlap = client.post("/hours/report", data=form)
    assert overlap.status_code == 409
    forged = client.post(
        "/hours/report", data={**form, "source": "post:999999", "start": "13:00", "end": "14:00"}
    )
    assert forged.status_code == 404
    client.get("/accounts/logout")
    login(client, w["vol2"])
    assert client.get(f"/hours/{log.id}/photo").status_code == 404
    client.get("/accounts/logout")
    login(client, w["staff"])
    assert client.get(f"/hours/{log.id}/photo").status_code == 200
    assert client.get(f"/hours/review?community_id={w['a'].id}").status_code == 200


def test_report_photo_is_decoded_and_stripped_of_metadata(app, client, session, w, tmp_path):
    """A phone photo loses EXIF (GPS) but keeps its orientation; fake or huge pictures are refused."""
    from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost

    _csrf_off(app)
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    post = ServicePost(
        community_id=w["a"].id,
        title="保洁",
        places=2,
        points_per_hour=10,
        status=PostStatus.OPEN,
        created_by_id=w["staff"].id,
    )
    session.add(post)
    session.flush()
    session.add(
        PostClaim(post_id=post.id, user_id=w["vol"].id, community_id=w["a"].id, status=ClaimStatus.ACTIVE)
    )
    session.flush()
    login(client, w["vol"])
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    form = {
        "source": f"post:{post.id}",
        "day": day,
        "start": "09:00",
        "end": "10:00",
        "description": "打扫楼道",
    }

    def report(data, name="p.jpg"):
        return client.post(
            "/hours/report",
            data={**form, "photo": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    fake = report(FAKE_JPEG)
    assert fake.status_code == 400 and b"The photo must be a JPEG or PNG picture." in fake.data
    huge = report(huge_png(), "huge.png")
    assert huge.status_code == 400 and b"too many pixels" in huge.data
    assert (
        session.scalar(select(func.count()).select_from(HourLog).where(HourLog.user_id == w["vol"].id)) == 0
    )
    assert list(tmp_path.iterdir()) == []
    assert report(phone_jpeg((40, 20), orientation=6)).status_code == 302
    log = session.scalar(select(HourLog).where(HourLog.user_id == w["vol"].id))
    assert log.photo_path.endswith(".jpg")
    stored = (tmp_path / log.photo_path).read_bytes()
    im = assert_clean(stored, "JPEG")
    assert im.size == (20, 40) and im.getpixel((10, 5))[0] > 200  # turned upright: red on top
    assert client.get(f"/hours/{log.id}/photo").data == stored


def test_wish_journey(app, client, session, w):
    _csrf_off(app)
    login(client, w["vol"])
    resp = client.post(
        "/wishes/new", data={"title": "帮忙换灯泡", "category": "生活帮扶", "description": "厨房灯坏了"}
    )
    assert resp.status_code == 302
    wish = session.scalar(select(Wish).where(Wish.requester_id == w["vol"].id))
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 403  # own wish
    client.get("/accounts/logout")
    login(client, w["vol2"])
    assert b"\xe5\xb8\xae" in client.get("/").data  # the wish shows on the home page
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 302
    assert client.post(f"/wishes/{wish.id}/confirm", data={"rating": 5}).status_code == 403
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    assert (
        client.post(
            f"/wishes/{wish.id}/fulfil", data={"day": day, "start": "10:00", "end": "11:00", "note": "换好了"}
        ).status_code
        == 302
    )
    session.expire_all()
    log = session.scalar(select(HourLog).where(HourLog.wish_id == wish.id))
    assert log.status == HourStatus.PENDING and log.user_id == w["vol2"].id
    # Staff cannot approve it before the requester confirms.
    from portal.volunteering import hour_logs as hsvc

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
    wish = Wish(
        community_id=w["a"].id,
        requester_id=w["vol"].id,
        created_by_id=w["vol"].id,
        title="陪伴就医",
        category="陪伴就医",
    )
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
    wish = Wish(
        community_id=w["a"].id,
        requester_id=w["vol"].id,
        created_by_id=w["vol"].id,
        title="辅导作业",
        category="学习用品",
    )
    session.add(wish)
    session.flush()
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    wish_svc.claim_wish(session, w["vol2"], wish.id, now=t0)
    assert wish_svc.release_stale(session, now=t0 + dt.timedelta(days=6)) == []
    assert wish_svc.release_stale(session, now=t0 + dt.timedelta(days=7, minutes=1)) == [wish.id]
    assert wish.status == WishStatus.OPEN and wish.claimed_by_id is None


def test_release_stale_cli(app, session, w):
    result = app.test_cli_runner().invoke(args=["wishes", "release-stale"])
    assert result.exit_code == 0 and "released" in result.output


def test_db_refuses_self_claim(session, w):
    from sqlalchemy.exc import IntegrityError

    wish = Wish(
        community_id=w["a"].id,
        requester_id=w["vol"].id,
        created_by_id=w["vol"].id,
        title="x",
        category="其他",
    )
    session.add(wish)
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            update(Wish).where(Wish.id == wish.id).values(claimed_by_id=Wish.requester_id, status="claimed")
        )


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
    assert home.status_code == 200 and b"Hours waiting for approval" in home.data
    assert b'<span class="badge badge-warn">1</span>' in home.data
