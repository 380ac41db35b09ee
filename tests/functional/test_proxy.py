"""代办 over HTTP (SQLite and PostgreSQL): staff and family enrol people without a phone,
staff record their hours and sign them up, relatives redeem for them; nobody else can."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import ledger
from core.db import utcnow
from portal.audit.models import AuditEvent
from portal.people.carers import Carer
from portal.people.models import Role, User
from portal.places.models import Building, Grid
from portal.rewards.models import Voucher
from portal.volunteering.hours import HourLog, HourStatus
from tests.factories import (
    give_points,
    login,
    make_activity,
    make_community,
    make_reward,
    make_street,
    make_user,
)


@pytest.fixture()
def w(session, client, app):
    app.config["WTF_CSRF_ENABLED"] = False
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=street)
    grid = Grid(community_id=a.id, name="一网格")
    grid_b = Grid(community_id=b.id, name="二网格")
    session.add_all([grid, grid_b])
    session.flush()
    building = Building(grid_id=grid.id, community_id=a.id, name="3号楼")
    building_b = Building(grid_id=grid_b.id, community_id=b.id, name="9号楼")
    session.add_all([building, building_b])
    session.flush()
    return {
        "a": a,
        "b": b,
        "building": building,
        "building_b": building_b,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff2": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "son": make_user(session, community=a, display_name="王小明"),
        "stranger": make_user(session, community=a),
    }


def _enrol(client, w, **extra):
    data = {"name": "孙桂兰", "building_id": w["building"].id, "landline": "0592-1234567", **extra}
    return client.post(f"/community/{w['a'].id}/manage/enrol", data=data)


def test_staff_enrol_link_record_and_relative_redeems(app, client, session, w):
    login(client, w["staff"])
    assert client.get(f"/community/{w['a'].id}/manage/enrol").status_code == 200
    resp = _enrol(client, w, carer_phone=w["son"].phone, relation="儿子")
    assert resp.status_code == 302
    person = session.scalar(select(User).where(User.display_name == "孙桂兰"))
    assert person.phone is None and person.landline == "0592-1234567" and person.is_proxy
    assert person.building_id == w["building"].id and person.community_id == w["a"].id
    assert session.scalar(select(Carer).where(Carer.dependent_id == person.id)).carer_id == w["son"].id
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200 and "王小明" in page.data.decode()
    assert "孙桂兰" in client.get(f"/community/{w['a'].id}/manage/proxies").data.decode()
    # Staff record an hour for her; another staff member approves it.
    day = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    resp = client.post(
        f"/community/{w['a'].id}/manage/people/{person.id}/hours",
        data={"day": day, "start": "09:00", "end": "10:00", "description": "楼道值守"},
    )
    assert resp.status_code == 302
    log = session.scalar(select(HourLog).where(HourLog.user_id == person.id))
    assert log.status == HourStatus.PENDING and log.reported_by_id == w["staff"].id
    client.get("/accounts/logout")
    login(client, w["staff2"])
    assert client.post("/hours/review/approve", data={"log_id": [log.id]}).status_code == 302
    session.expire_all()
    assert log.status == HourStatus.APPROVED
    # The son redeems from her points; the voucher is hers, he can show it.
    reward = make_reward(session, w["a"], w["staff"], merchant=False, price=5)
    client.get("/accounts/logout")
    login(client, w["son"])
    family = client.get("/family/").data.decode()
    assert "孙桂兰" in family and f"for={person.id}" in family
    page = client.get(f"/rewards/{reward.id}/redeem?for={person.id}")
    assert page.status_code == 200 and "redeeming for 孙桂兰" in page.data.decode()
    resp = client.post(f"/rewards/{reward.id}/redeem?for={person.id}", data={"idem_key": "a" * 32})
    assert resp.status_code == 302, resp.data[:500]
    voucher = session.scalar(select(Voucher).where(Voucher.reward_id == reward.id))
    assert voucher.user_id == person.id
    assert client.get(f"/rewards/vouchers/{voucher.id}").status_code == 200
    acc = ledger.find_account(session, w["a"].id, f"user:{person.id}")
    assert ledger.available(session, acc) == 10 - 5
    assert ledger.find_account(session, w["a"].id, f"user:{w['son'].id}") is None  # he paid nothing


def test_family_member_enrols_and_signs_up(app, client, session, w):
    login(client, w["son"])
    assert client.get("/family/").status_code == 200
    resp = client.post(
        "/family/enrol", data={"name": "王奶奶", "building_id": w["building"].id, "relation": "奶奶"}
    )
    assert resp.status_code == 302
    person = session.scalar(select(User).where(User.display_name == "王奶奶"))
    assert person.enrolled_by_id == w["son"].id
    activity = make_activity(session, w["a"], w["staff"])
    assert client.post(f"/family/{person.id}/signup", data={"activity_id": activity.id}).status_code == 302
    from portal.volunteering.activities import ActivitySignup

    assert session.scalar(select(ActivitySignup).where(ActivitySignup.user_id == person.id)) is not None
    # A building of another community is refused with a message, nothing enrolled.
    resp = client.post("/family/enrol", data={"name": "外人", "building_id": w["building_b"].id})
    assert resp.status_code in (400, 422) and b"building" in resp.data
    assert session.scalar(select(User).where(User.display_name == "外人")) is None


def test_no_login_without_a_phone(client, session, w):
    login(client, w["staff"])
    _enrol(client, w)
    client.get("/accounts/logout")
    resp = client.post("/accounts/login", data={"phone": "", "password": "!proxy"})
    assert resp.status_code in (400, 401, 422)


def test_strangers_and_other_communities_are_refused(client, session, w):
    login(client, w["staff"])
    _enrol(client, w)
    person = session.scalar(select(User).where(User.display_name == "孙桂兰"))
    reward = make_reward(session, w["a"], w["staff"], merchant=False, price=1)
    give_points(session, w["a"], person, 10)
    client.get("/accounts/logout")
    # A resident who is not her carer.
    login(client, w["stranger"])
    assert client.get(f"/rewards/{reward.id}/redeem?for={person.id}").status_code == 403
    assert (
        client.post(f"/rewards/{reward.id}/redeem?for={person.id}", data={"idem_key": "b" * 32}).status_code
        == 403
    )
    assert client.post(f"/family/{person.id}/signup", data={"activity_id": 1}).status_code == 403
    assert client.get(f"/community/{w['a'].id}/manage/people/{person.id}/care").status_code == 403
    assert session.scalar(select(Voucher).where(Voucher.reward_id == reward.id)) is None
    client.get("/accounts/logout")
    # Staff of another community: not their person (403 for the community, 404 by id).
    login(client, w["staff_b"])
    assert client.get(f"/community/{w['a'].id}/manage/people/{person.id}/care").status_code == 403
    assert client.get(f"/community/{w['b'].id}/manage/people/{person.id}/care").status_code == 404
    resp = client.post(
        f"/community/{w['b'].id}/manage/people/{person.id}/carers", data={"phone": w["stranger"].phone}
    )
    assert resp.status_code == 404
    session.expire_all()
    refused = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.outcome == "refused", AuditEvent.actor_id == w["stranger"].id
        )
    ).all()
    assert "authz.rewards.redeem_for" in refused


@pytest.mark.parametrize(
    ("field", "value"), [("name", ""), ("name", "长" * 500), ("landline", "abc"), ("building_id", "999999")]
)
def test_bad_enrolment_input(client, session, w, field, value):
    login(client, w["staff"])
    resp = _enrol(client, w, **{field: value})
    assert resp.status_code in (400, 422)
    assert session.scalar(select(User).where(User.phone.is_(None))) is None


def test_link_carer_errors(client, session, w):
    login(client, w["staff"])
    _enrol(client, w)
    person = session.scalar(select(User).where(User.display_name == "孙桂兰"))
    url = f"/community/{w['a'].id}/manage/people/{person.id}/carers"
    assert client.post(url, data={"phone": "13800000000"}).status_code == 404
    assert client.post(url, data={"phone": w["son"].phone}).status_code == 302
    dup = client.post(url, data={"phone": w["son"].phone})
    assert dup.status_code == 409 and b"already" in dup.data
    link = session.scalar(select(Carer).where(Carer.dependent_id == person.id))
    assert client.post(f"{url}/{link.id}/remove").status_code == 302
    assert session.scalar(select(Carer).where(Carer.dependent_id == person.id)) is None
