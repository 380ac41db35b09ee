"""Issue 11, part 1 over HTTP (SQLite and PostgreSQL): a street admin sets up communities
(pages and the ``places`` CLI), the inbox bell, what waits on staff / street / merchant
home pages, and paying wish helpers on the resident's confirmation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import ledger
from core.db import utcnow
from portal.audit.models import AuditEvent
from portal.notifications.services import notify
from portal.people.models import Role
from portal.people.reports import PartyReport
from portal.places.models import Building, Community, Grid
from portal.settings.services import update_settings
from portal.volunteering.hours import HourLog, HourStatus
from portal.volunteering.wishes import Wish, WishStatus
from tests.factories import login, make_community, make_street, make_user


@pytest.fixture()
def w(session, client, app):
    app.config["WTF_CSRF_ENABLED"] = False
    client.set_cookie("fufen_lang", "en")
    street = make_street(session, name="城关街道")
    other = make_street(session)
    a = make_community(session, street=street, name="幸福里社区")
    far = make_community(session, street=other, name="远方社区")
    return {
        "street": street,
        "other": other,
        "a": a,
        "far": far,
        "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
        "far_admin": make_user(session, roles=((Role.STREET_ADMIN, other),)),
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "resident": make_user(session, community=a),
        "helper": make_user(session, community=a),
        "merchant": make_user(session, community=a, roles=(Role.MERCHANT,)),
    }


def _refused(session, actor, action):
    session.expire_all()
    return session.scalars(
        select(AuditEvent).where(
            AuditEvent.actor_id == actor.id, AuditEvent.outcome == "refused", AuditEvent.action == action
        )
    ).all()


# --- communities -----------------------------------------------------------------------------


def test_street_admin_creates_and_edits_a_community(client, session, w):
    login(client, w["admin"])
    page = client.get(f"/street/{w['street'].id}")
    assert f"/street/{w['street'].id}/communities/new".encode() in page.data
    assert client.get(f"/street/{w['street'].id}/communities/new").status_code == 200
    resp = client.post(
        f"/street/{w['street'].id}/communities/new",
        data={"name": " 和平 路社区 ", "address": "和平路1号", "is_open": "y"},
    )
    assert resp.status_code == 302
    made = session.scalar(select(Community).where(Community.name == "和平 路社区"))
    assert made is not None and made.street_id == w["street"].id and made.is_open
    assert (
        session.scalar(select(AuditEvent).where(AuditEvent.action == "community.create")).actor_id
        == w["admin"].id
    )
    # Duplicate name in the same street: a clear message, nothing added.
    again = client.post(f"/street/{w['street'].id}/communities/new", data={"name": "幸福里社区"})
    assert again.status_code == 409 and b"already exists" in again.data
    # Edit: rename and close to new residents (unchecked box = closed).
    assert client.get(f"/community/{made.id}/edit").status_code == 200
    resp = client.post(f"/community/{made.id}/edit", data={"name": "和平路社区", "address": ""})
    assert resp.status_code == 302
    session.expire_all()
    assert made.name == "和平路社区" and made.is_open is False
    # Bad input: empty or huge names.
    assert client.post(f"/community/{made.id}/edit", data={"name": ""}).status_code == 400
    assert client.post(f"/community/{made.id}/edit", data={"name": "长" * 5000}).status_code == 400


@pytest.mark.parametrize("who", ["far_admin", "staff", "resident"])
def test_only_the_streets_admin_sets_up_communities(client, session, w, who):
    login(client, w[who])
    sid, cid = w["street"].id, w["a"].id
    assert client.get(f"/street/{sid}/communities/new").status_code == 403
    assert client.post(f"/street/{sid}/communities/new", data={"name": "偷建社区"}).status_code == 403
    assert client.post(f"/community/{cid}/edit", data={"name": "改名"}).status_code == 403
    session.expire_all()
    assert session.scalar(select(Community).where(Community.name.in_(["偷建社区", "改名"]))) is None
    assert _refused(session, w[who], "authz.community.create")
    assert client.get("/street/99999999/communities/new").status_code == 404


def test_places_cli(app, runner, session):
    ok = runner.invoke(args=["places", "street", "新街道", "--district", "城区"])
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(args=["places", "community", "新社区", "--street", "新街道"])
    assert ok.exit_code == 0, ok.output
    community = session.scalar(select(Community).where(Community.name == "新社区"))
    ok = runner.invoke(args=["places", "grid", "一网格", "--community-id", str(community.id)])
    assert ok.exit_code == 0, ok.output
    grid = session.scalar(select(Grid).where(Grid.community_id == community.id))
    ok = runner.invoke(args=["places", "building", "1号楼", "--grid-id", str(grid.id)])
    assert ok.exit_code == 0, ok.output
    assert session.scalar(select(Building).where(Building.grid_id == grid.id)).name == "1号楼"
    dup = runner.invoke(args=["places", "community", "新社区", "--street", "新街道"])
    assert dup.exit_code != 0 and "同名社区" in dup.output  # the console speaks the default language
    assert runner.invoke(args=["places", "community", "x", "--street", "没有"]).exit_code != 0
    user = make_user(session)
    ok = runner.invoke(args=["places", "admin", user.phone, "--street", "新街道"])
    assert ok.exit_code == 0, ok.output
    session.expire_all()
    assert any(r.role == Role.STREET_ADMIN for r in user.roles)
    listing = runner.invoke(args=["places", "list"])
    assert "新社区" in listing.output and "1号楼" in listing.output


# --- the bell and the home pages ----------------------------------------------------------------


def test_inbox_bell_shows_unread_count(client, session, w):
    login(client, w["resident"])
    page = client.get("/").data.decode()
    assert 'href="/inbox/"' in page and "bell-count" not in page
    for i in range(3):
        notify(session, w["resident"].id, "test", f"消息{i}")
    session.flush()
    page = client.get("/").data.decode()
    assert '<span class="bell-count" aria-hidden="true">3</span>' in page
    assert "3 unread messages" in page
    client.post("/inbox/read")
    assert "bell-count" not in client.get("/").data.decode()


def test_staff_home_counts_what_waits(client, session, w):
    a = w["a"]
    session.add(PartyReport(user_id=w["resident"].id, community_id=a.id, work_unit="单位", party_org="支部"))
    old = utcnow() - dt.timedelta(days=5)
    session.add(
        Wish(
            community_id=a.id,
            requester_id=w["resident"].id,
            created_by_id=w["resident"].id,
            title="旧心愿",
            category="其他",
            created_at=old,
        )
    )
    session.add(
        Wish(
            community_id=a.id,
            requester_id=w["resident"].id,
            created_by_id=w["resident"].id,
            title="新心愿",
            category="其他",
        )
    )
    start = utcnow() - dt.timedelta(days=1)
    for user in (w["helper"], w["staff"]):  # the staff member's own log is not theirs to approve
        session.add(
            HourLog(
                community_id=a.id,
                user_id=user.id,
                source="other",
                started_at=start,
                ended_at=start + dt.timedelta(hours=1),
                minutes=60,
                reported_by_id=user.id,
            )
        )
    session.flush()
    login(client, w["staff"])
    page = client.get("/").data.decode()
    assert "Reports (报到) to confirm" in page and f"/community/{a.id}/manage/reports" in page
    assert f"/community/{a.id}/manage" in page
    from portal.main.waiting import waiting_for

    (counts,) = waiting_for(session, w["staff"], [a])
    assert (counts.reports, counts.hours, counts.wishes) == (1, 1, 1)


def test_street_admin_and_merchant_home(client, session, w):
    login(client, w["admin"])
    page = client.get("/").data.decode()
    assert "Street: 城关街道" in page and "幸福里社区" in page and "远方社区" not in page
    assert f"/street/{w['street'].id}/communities/new" in page
    client.get("/accounts/logout")
    login(client, w["merchant"])
    page = client.get("/").data.decode()
    assert "/merchant/" in page and "Merchant portal" in page


# --- wish payment ---------------------------------------------------------------------------------


def _fulfilled_wish(client, session, w, minutes):
    login(client, w["resident"])
    client.post("/wishes/new", data={"title": "陪我去医院", "category": "陪伴就医"})
    wish = session.scalar(select(Wish).where(Wish.requester_id == w["resident"].id))
    client.get("/accounts/logout")
    login(client, w["helper"])
    assert client.post(f"/wishes/{wish.id}/claim").status_code == 302
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    end = f"{9 + minutes // 60:02d}:{minutes % 60:02d}"
    resp = client.post(f"/wishes/{wish.id}/fulfil", data={"day": day, "start": "09:00", "end": end})
    assert resp.status_code == 302
    client.get("/accounts/logout")
    login(client, w["resident"])
    page = client.get(f"/wishes/{wish.id}").data.decode()
    assert 'class="stars-input"' in page and 'type="radio"' in page
    return wish


def _balance(session, community, user):
    acc = ledger.find_account(session, community.id, f"user:{user.id}")
    return 0 if acc is None else ledger.balance(session, acc)


@pytest.mark.parametrize(
    ("pay_on_confirm", "minutes", "paid"), [(True, 60, True), (True, 180, False), (False, 60, False)]
)
def test_wish_pays_on_confirmation_within_the_limit(app, client, session, w, pay_on_confirm, minutes, paid):
    with app.test_request_context():
        update_settings(
            session,
            w["staff"],
            w["a"].id,
            {"wish_pay_on_confirm": pay_on_confirm, "wish_auto_pay_max_minutes": 120},
        )
    wish = _fulfilled_wish(client, session, w, minutes)
    assert (
        client.post(f"/wishes/{wish.id}/confirm", data={"rating": "5", "comment": "很好"}).status_code == 302
    )
    session.expire_all()
    log = session.scalar(select(HourLog).where(HourLog.wish_id == wish.id))
    assert wish.status == WishStatus.CONFIRMED and wish.rating == 5
    if paid:
        assert log.status == HourStatus.APPROVED and log.reviewed_by_id == w["resident"].id
        assert _balance(session, w["a"], w["helper"]) == 10 * minutes // 60
    else:
        assert log.status == HourStatus.PENDING and _balance(session, w["a"], w["helper"]) == 0


def test_settings_page_offers_wish_payment(client, session, w):
    login(client, w["staff"])
    page = client.get(f"/settings/?community_id={w['a'].id}").data.decode()
    assert "When the resident confirms" in page
    form = {
        "community_id": w["a"].id,
        "gift_daily_limit": 200,
        "exchange_points_per_hour": 10,
        "points_per_hour": 10,
        "daily_minutes_cap": 480,
        "hours_rounding_minutes": 15,
        "post_claim_cap": 2,
        "team_cap": 2,
        "party_activity_goal": 4,
        "wish_claim_days": 7,
        "wish_pay_on_confirm": "confirm",
        "wish_auto_pay_max_minutes": 90,
    }
    assert client.post("/settings/", data=form).status_code == 302
    from portal.settings.services import get_settings

    session.expire_all()
    s = get_settings(session, w["a"].id)
    assert s.wish_pay_on_confirm is True and s.wish_auto_pay_max_minutes == 90
    form["wish_auto_pay_max_minutes"] = 100000
    assert client.post("/settings/", data=form).status_code == 400
