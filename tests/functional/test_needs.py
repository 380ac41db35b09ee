"""居民点单 · 社区下单 · 单位接单 over HTTP (SQLite and PostgreSQL): a resident's need becomes a
project carried by a partner unit, which accepts, reports and finishes; the resident
confirms and rates; staff lists and the units' record; refusals and bad input."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.needs.models import Need, NeedStatus, Project, ProjectStatus, Resource
from portal.needs.services import local_today
from portal.people.models import Role, RoleAssignment
from portal.places.models import OrgKind
from tests.factories import login, make_community, make_organisation, make_street, make_user
from tests.image_samples import FAKE_JPEG, png


@pytest.fixture()
def w(session, client, app, tmp_path):
    app.config["WTF_CSRF_ENABLED"] = False
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    client.set_cookie("fufen_lang", "en")
    street = make_street(session)
    a = make_community(session, street=street)
    b = make_community(session, street=make_street(session))
    unit = make_organisation(session, a, kind=OrgKind.PARTNER, name="城关区人民医院")
    unit.community_id = None  # serves the whole street
    other_unit = make_organisation(session, b, kind=OrgKind.PARTNER, name="远方单位")
    contact = make_user(session, community=a)
    session.add(
        RoleAssignment(user_id=contact.id, role=Role.MERCHANT, community_id=a.id, organisation_id=unit.id)
    )
    outsider = make_user(session, community=b)
    session.add(
        RoleAssignment(
            user_id=outsider.id, role=Role.MERCHANT, community_id=b.id, organisation_id=other_unit.id
        )
    )
    session.flush()
    session.expire_all()
    return {
        "a": a,
        "b": b,
        "street": street,
        "unit": unit,
        "contact": contact,
        "outsider": outsider,
        "staff": make_user(session, community=a, roles=(Role.STAFF,)),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
        "resident": make_user(session, community=a),
        "neighbour": make_user(session, community=a),
    }


def _post_need(client, **extra):
    data = {
        "category": "health",
        "title": "想请医生上门量血压",
        "description": "行动不便",
        "urgency": "high",
        **extra,
    }
    return client.post("/needs/new", data=data, content_type="multipart/form-data")


def test_need_to_project_to_rating(client, session, w):
    # The unit publishes a resource.
    login(client, w["contact"])
    resp = client.post(
        f"/units/{w['unit'].id}/resources/new",
        data={"kind": "clinic", "title": "义诊", "capacity": 20, "hours": "每周六 9:00–11:30"},
    )
    assert resp.status_code == 302
    resource = session.scalar(select(Resource))
    client.get("/accounts/logout")
    # 居民点单
    login(client, w["resident"])
    resp = _post_need(client, photo=(io.BytesIO(png()), "bp.png"))
    assert resp.status_code == 302
    need = session.scalar(select(Need))
    assert need.status == NeedStatus.OPEN and need.photo_path
    photo = client.get(f"/needs/{need.id}/photo")
    assert photo.status_code == 200 and photo.data.startswith(b"\x89PNG")
    photo.close()
    client.get("/accounts/logout")
    # 社区下单
    login(client, w["staff"])
    page = client.get(f"/community/{w['a'].id}/needs").data.decode()
    assert "想请医生上门量血压" in page
    assert f"resource:{resource.id}" in client.get(f"/needs/{need.id}").data.decode()
    deadline = (local_today() + dt.timedelta(days=3)).isoformat()
    resp = client.post(
        f"/needs/{need.id}/match",
        data={"carrier": f"resource:{resource.id}", "owner_id": w["staff"].id, "deadline": deadline},
    )
    assert resp.status_code == 302
    project = session.scalar(select(Project))
    assert project.organisation_id == w["unit"].id and project.status == ProjectStatus.DISPATCHED
    # Matching twice is refused.
    again = client.post(
        f"/needs/{need.id}/match",
        data={"carrier": f"resource:{resource.id}", "owner_id": w["staff"].id, "deadline": deadline},
    )
    assert again.status_code in (400, 409)
    client.get("/accounts/logout")
    # 单位接单
    login(client, w["contact"])
    assert "想请医生上门量血压" in client.get("/units/").data.decode()
    assert client.post(f"/needs/{need.id}/done", data={"note": "x"}).status_code == 409  # not accepted yet
    assert client.post(f"/needs/{need.id}/accept").status_code == 302
    assert client.post(f"/needs/{need.id}/progress", data={"note": "已联系家属"}).status_code == 302
    assert client.post(f"/needs/{need.id}/done", data={"note": "已上门"}).status_code == 302
    session.expire_all()
    assert project.status == ProjectStatus.DONE and need.status == NeedStatus.DONE
    client.get("/accounts/logout")
    # 居民评价
    login(client, w["resident"])
    assert client.post(f"/needs/{need.id}/confirm", data={"rating": "9"}).status_code == 400
    assert (
        client.post(f"/needs/{need.id}/confirm", data={"rating": "4", "comment": "很及时"}).status_code == 302
    )
    session.expire_all()
    assert need.status == NeedStatus.CONFIRMED and project.rating == 4
    client.get("/accounts/logout")
    login(client, w["admin"])
    record = client.get(f"/street/{w['street'].id}/units").data.decode()
    assert "城关区人民医院" in record and "4.0" in record


def test_staff_matches_to_a_team_and_overdue_list(client, session, w, app):
    from portal.volunteering.teams import Team

    team = Team(community_id=w["a"].id, name="助老队", created_by_id=w["staff"].id)
    session.add(team)
    session.flush()
    login(client, w["resident"])
    _post_need(client)
    need = session.scalar(select(Need))
    client.get("/accounts/logout")
    login(client, w["staff"])
    today = local_today().isoformat()
    resp = client.post(
        f"/needs/{need.id}/match",
        data={"carrier": f"team:{team.id}", "owner_id": w["staff"].id, "deadline": today},
    )
    assert resp.status_code == 302, resp.data[-800:]
    project = session.scalar(select(Project))
    assert project.status == ProjectStatus.ACCEPTED  # no unit to accept it
    project.deadline = local_today() - dt.timedelta(days=1)
    session.flush()
    page = client.get(f"/community/{w['a'].id}/needs").data.decode()
    assert "Overdue projects" in page and project.title in page.split("Overdue projects")[1]
    # Take it back: the need waits again.
    assert client.post(f"/needs/{need.id}/cancel").status_code == 302
    session.expire_all()
    assert need.status == NeedStatus.OPEN and project.status == ProjectStatus.CANCELLED


def test_refusals(client, session, w):
    login(client, w["resident"])
    _post_need(client)
    need = session.scalar(select(Need))
    client.get("/accounts/logout")
    # A neighbour cannot see it, a unit of another street cannot act, other staff cannot match.
    login(client, w["neighbour"])
    assert client.get(f"/needs/{need.id}").status_code == 404
    assert client.post(f"/needs/{need.id}/withdraw").status_code == 404
    client.get("/accounts/logout")
    login(client, w["staff_b"])
    assert client.get(f"/needs/{need.id}").status_code == 404
    assert client.get(f"/community/{w['a'].id}/needs").status_code == 403
    client.get("/accounts/logout")
    login(client, w["outsider"])
    assert (
        client.post(
            f"/units/{w['unit'].id}/resources/new", data={"kind": "venue", "title": "x", "capacity": 1}
        ).status_code
        == 403
    )
    assert client.get("/units/").status_code == 200  # their own unit
    client.get("/accounts/logout")
    login(client, w["staff"])
    deadline = (local_today() + dt.timedelta(days=3)).isoformat()
    for carrier in (f"organisation:{w['outsider'].roles[0].organisation_id}", "team:999999", "post:abc", "x"):
        resp = client.post(
            f"/needs/{need.id}/match",
            data={"carrier": carrier, "owner_id": w["staff"].id, "deadline": deadline},
        )
        assert resp.status_code == 400, carrier
    past = (local_today() - dt.timedelta(days=1)).isoformat()
    resp = client.post(
        f"/needs/{need.id}/match",
        data={"carrier": f"organisation:{w['unit'].id}", "owner_id": w["staff"].id, "deadline": past},
    )
    assert resp.status_code == 400 and b"past" in resp.data
    resp = client.post(
        f"/needs/{need.id}/match",
        data={"carrier": f"organisation:{w['unit'].id}", "owner_id": w["resident"].id, "deadline": deadline},
    )
    assert resp.status_code == 400
    session.expire_all()
    assert need.status == NeedStatus.OPEN and session.scalar(select(Project)) is None
    refused = session.scalars(select(AuditEvent.action).where(AuditEvent.outcome == "refused")).all()
    assert "authz.needs.list" in refused


@pytest.mark.parametrize(
    "extra",
    [
        {"title": ""},
        {"title": "长" * 5000},
        {"description": "字" * 20000},
        {"category": "bogus"},
        {"urgency": "panic"},
        {"building_id": "999999"},
        {"photo": (FAKE_JPEG, "x.jpg")},
        {"photo": (b"junk" * 10, "x.png")},
    ],
)
def test_bad_need_input_changes_nothing(client, session, w, extra):
    login(client, w["resident"])
    extra = {k: (io.BytesIO(v[0]), v[1]) if k == "photo" else v for k, v in extra.items()}
    resp = _post_need(client, **extra)
    assert 400 <= resp.status_code < 500
    assert session.scalar(select(Need)) is None
