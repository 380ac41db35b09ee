"""Community pages over HTTP (SQLite and PostgreSQL): role AND community checks on every
route, audited refusals, the 报到 flow, no state change on GET, CSRF, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import Base
from portal.audit.models import AuditEvent
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Building, Grid, Organisation
from tests.conftest import make_test_app
from tests.factories import give_consent, login, make_community, make_street, make_user


@pytest.fixture()
def world(session):
    street = make_street(session)
    other_street = make_street(session)
    a = make_community(session, street=street, name="幸福里社区")
    b = make_community(session, street=street, name="和平路社区")
    far = make_community(session, street=other_street)
    grid_a = Grid(community_id=a.id, name="第一网格")
    grid_b = Grid(community_id=b.id, name="东片网格")
    session.add_all([grid_a, grid_b])
    session.flush()
    people = {
        "street": street,
        "other_street": other_street,
        "a": a,
        "b": b,
        "far": far,
        "grid_a": grid_a,
        "grid_b": grid_b,
        "staff_a": make_user(session, community=a, roles=(Role.STAFF,), display_name="李秀梅"),
        "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
        "resident_a": make_user(session, community=a, display_name="王建华", phone="13812345678"),
        "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
        "far_admin": make_user(session, roles=((Role.STREET_ADMIN, other_street),)),
    }
    give_consent(session, *(v for v in people.values() if isinstance(v, User)))
    return people


def _refusals(session, actor, community=None):
    session.expire_all()
    stmt = select(AuditEvent).where(AuditEvent.outcome == "refused", AuditEvent.actor_id == actor.id)
    if community is not None:
        stmt = stmt.where(AuditEvent.community_id == community.id)
    return session.scalars(stmt).all()


def _report(session, user, community, status=ReportStatus.PENDING):
    report = PartyReport(
        user_id=user.id,
        community_id=community.id,
        work_unit="市供电公司",
        party_org="第二党支部",
        status=status,
    )
    session.add(report)
    session.flush()
    return report


# --- role and community checks ---------------------------------------------------------


def test_anonymous_is_sent_to_login(client, world):
    resp = client.get(f"/community/{world['a'].id}/manage")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_resident_cannot_reach_manage_pages(client, session, world):
    login(client, world["resident_a"])
    a = world["a"].id
    for url in (
        f"/community/{a}/manage",
        f"/community/{a}/manage/members",
        f"/community/{a}/manage/reports",
        f"/community/{a}/manage/roles",
        f"/community/{a}/manage/merchants/new",
        f"/street/{world['street'].id}",
        f"/street/{world['street'].id}/organisations",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/community/{a}/manage/grids", data={"name": "居民加的"}).status_code == 403
    assert len(_refusals(session, world["resident_a"])) == 8
    # The member page itself is fine.
    assert client.get(f"/community/{a}").status_code == 200


def test_staff_of_a_is_refused_on_b_and_audited(client, session, world):
    login(client, world["staff_a"])
    b = world["b"]
    resp = client.get(f"/community/{b.id}/manage")
    assert resp.status_code == 403
    refusals = _refusals(session, world["staff_a"], b)
    assert len(refusals) == 1 and refusals[0].action.startswith("authz.community.manage")
    assert refusals[0].detail["path"] == f"/community/{b.id}/manage"
    assert client.get(f"/community/{b.id}").status_code == 403  # not a member of B either
    assert client.get(f"/community/{b.id}/manage/members").status_code == 403
    assert client.post(f"/community/{b.id}/manage/grids", data={"name": "偷偷加"}).status_code == 403
    session.expire_all()
    assert session.scalar(select(Grid.id).where(Grid.name == "偷偷加")) is None
    assert len(_refusals(session, world["staff_a"], b)) == 4


def test_forged_ids_in_forms_and_urls(client, session, world):
    """A's staff uses A's URL with B's grid, building or report id."""
    report_b = _report(session, make_user(session, community=world["b"]), world["b"])
    building_b = Building(grid_id=world["grid_b"].id, community_id=world["b"].id, name="东1栋")
    session.add(building_b)
    session.flush()
    login(client, world["staff_a"])
    a = world["a"].id
    assert (
        client.post(
            f"/community/{a}/manage/buildings", data={"grid_id": world["grid_b"].id, "name": "偷偷楼"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/community/{a}/manage/grids/{world['grid_b'].id}/rename", data={"name": "改名"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/community/{a}/manage/buildings/{building_b.id}/rename", data={"name": "改名"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/community/{a}/manage/reports/{report_b.id}/review", data={"decision": "confirm"}
        ).status_code
        == 403
    )
    session.expire_all()
    assert session.get(PartyReport, report_b.id).status == ReportStatus.PENDING
    assert session.get(Grid, world["grid_b"].id).name == "东片网格"
    assert session.get(Building, building_b.id).name == "东1栋"
    assert session.scalar(select(Building.id).where(Building.name == "偷偷楼")) is None
    assert len(_refusals(session, world["staff_a"])) == 4


def test_nonexistent_ids_are_404(client, world):
    login(client, world["staff_a"])
    a = world["a"].id
    assert client.get("/community/999999").status_code == 404
    assert client.get("/community/999999/manage").status_code == 404
    assert client.get("/street/999999").status_code == 404
    assert (
        client.post(f"/community/{a}/manage/reports/999999/review", data={"decision": "confirm"}).status_code
        == 404
    )
    assert client.post(f"/community/{a}/manage/grids/999999/rename", data={"name": "x"}).status_code == 404
    assert client.post("/community/report/999999/withdraw").status_code == 404


def test_staff_manages_places(client, session, world):
    client.set_cookie("fufen_lang", "en")  # the assertions below read English messages
    login(client, world["staff_a"])
    a = world["a"].id
    assert client.get(f"/community/{a}/manage").status_code == 200
    assert client.post(f"/community/{a}/manage/grids", data={"name": "第二网格"}).status_code == 302
    assert (
        client.post(
            f"/community/{a}/manage/buildings", data={"grid_id": world["grid_a"].id, "name": "1号楼"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/community/{a}/manage/grids/{world['grid_a'].id}/rename", data={"name": "一网格"}
        ).status_code
        == 302
    )
    # Duplicate name: friendly 409, nothing changes.
    resp = client.post(f"/community/{a}/manage/grids", data={"name": "一网格"})
    assert resp.status_code == 409
    assert "already exists" in resp.get_data(as_text=True)
    # Oversized: 400, nothing changes.
    assert client.post(f"/community/{a}/manage/grids", data={"name": "网" * 500}).status_code == 400
    session.expire_all()
    names = set(session.scalars(select(Grid.name).where(Grid.community_id == a)))
    assert names == {"一网格", "第二网格"}
    page = client.get(f"/community/{a}").get_data(as_text=True)
    assert "一网格" in page and "1号楼" in page


def test_members_list_masks_phone_numbers(client, world):
    login(client, world["staff_a"])
    page = client.get(f"/community/{world['a'].id}/manage/members").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page
    assert "王建华" in page


# --- 报到 --------------------------------------------------------------------------------


def test_report_flow_submit_confirm(client, session, world):
    resident, staff, a = world["resident_a"], world["staff_a"], world["a"]
    login(client, resident)
    assert client.get("/community/report").status_code == 200
    resp = client.post(
        "/community/report", data={"community_id": a.id, "work_unit": "市供电公司", "party_org": "第二党支部"}
    )
    assert resp.status_code == 302
    # A second live report: friendly message, no second row.
    resp = client.post(
        "/community/report", data={"community_id": a.id, "work_unit": "别的单位", "party_org": "别的支部"}
    )
    assert resp.status_code == 409
    session.expire_all()
    reports = session.scalars(select(PartyReport).where(PartyReport.user_id == resident.id)).all()
    assert len(reports) == 1 and reports[0].status == ReportStatus.PENDING

    client.post("/accounts/logout")
    login(client, staff)
    queue = client.get(f"/community/{a.id}/manage/reports").get_data(as_text=True)
    assert "市供电公司" in queue
    url = f"/community/{a.id}/manage/reports/{reports[0].id}/review"
    assert client.post(url, data={"decision": "confirm", "note": ""}).status_code == 302
    # Double-submitted form: friendly 409, no change.
    resp = client.post(url, data={"decision": "reject", "note": "重复"})
    assert resp.status_code == 409
    session.expire_all()
    report = session.get(PartyReport, reports[0].id)
    assert report.status == ReportStatus.CONFIRMED and report.reviewed_by_id == staff.id
    roles = session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.user_id == resident.id, RoleAssignment.role == Role.PARTY_MEMBER
        )
    ).all()
    assert [r.community_id for r in roles] == [a.id]


def test_report_reject_with_note_and_withdraw(client, session, world):
    resident, a = world["resident_a"], world["a"]
    report = _report(session, resident, a)
    login(client, world["staff_a"])
    url = f"/community/{a.id}/manage/reports/{report.id}/review"
    assert client.post(url, data={"decision": "reject", "note": ""}).status_code == 400  # note required
    assert client.post(url, data={"decision": "reject", "note": "请补充党组织信息"}).status_code == 302
    client.post("/accounts/logout")
    login(client, resident)
    page = client.get("/community/report").get_data(as_text=True)
    assert "请补充党组织信息" in page
    # New report, then withdraw it.
    assert (
        client.post(
            "/community/report",
            data={"community_id": a.id, "work_unit": "市供电公司", "party_org": "第二党支部"},
        ).status_code
        == 302
    )
    session.expire_all()
    pending = session.scalar(
        select(PartyReport).where(
            PartyReport.user_id == resident.id, PartyReport.status == ReportStatus.PENDING
        )
    )
    assert client.post(f"/community/report/{pending.id}/withdraw").status_code == 302
    assert client.post(f"/community/report/{pending.id}/withdraw").status_code == 409
    session.expire_all()
    assert session.get(PartyReport, pending.id).status == ReportStatus.WITHDRAWN


def test_report_to_another_community_is_refused(client, session, world):
    login(client, world["resident_a"])
    resp = client.post(
        "/community/report", data={"community_id": world["b"].id, "work_unit": "单位", "party_org": "支部"}
    )
    assert resp.status_code == 400
    assert session.scalar(select(func.count()).select_from(PartyReport)) == 0


def test_report_oversized_fields(client, session, world):
    login(client, world["resident_a"])
    resp = client.post(
        "/community/report",
        data={"community_id": world["a"].id, "work_unit": "单" * 5000, "party_org": "支部"},
    )
    assert resp.status_code == 400
    assert session.scalar(select(func.count()).select_from(PartyReport)) == 0


def test_staff_cannot_confirm_own_report(client, session, world):
    staff, a = world["staff_a"], world["a"]
    report = _report(session, staff, a)
    login(client, staff)
    resp = client.post(f"/community/{a.id}/manage/reports/{report.id}/review", data={"decision": "confirm"})
    assert resp.status_code == 403
    session.expire_all()
    assert session.get(PartyReport, report.id).status == ReportStatus.PENDING
    assert any(e.detail.get("code") == "self_review" for e in _refusals(session, staff, a))


def test_withdrawing_someone_elses_report_is_404(client, session, world):
    report = _report(session, world["resident_a"], world["a"])
    login(client, world["staff_a"])
    assert client.post(f"/community/report/{report.id}/withdraw").status_code == 404
    session.expire_all()
    assert session.get(PartyReport, report.id).status == ReportStatus.PENDING


# --- street admins, roles, organisations -----------------------------------------------


def test_street_admin_scope(client, session, world):
    _report(session, world["resident_a"], world["a"])
    login(client, world["admin"])
    page = client.get(f"/street/{world['street'].id}").get_data(as_text=True)
    assert "幸福里社区" in page and "和平路社区" in page
    assert client.get(f"/community/{world['b'].id}/manage").status_code == 200
    assert client.get(f"/street/{world['other_street'].id}").status_code == 403
    assert client.get(f"/community/{world['far'].id}/manage").status_code == 403
    assert len(_refusals(session, world["admin"])) == 2


def test_only_street_admins_grant_staff(client, session, world):
    a = world["a"].id
    target = world["resident_a"]
    login(client, world["staff_a"])
    assert (
        client.post(f"/community/{a}/manage/roles", data={"phone": target.phone, "role": "staff"}).status_code
        == 403
    )
    client.post("/accounts/logout")
    login(client, world["far_admin"])
    assert (
        client.post(f"/community/{a}/manage/roles", data={"phone": target.phone, "role": "staff"}).status_code
        == 403
    )
    client.post("/accounts/logout")
    login(client, world["admin"])
    assert (
        client.post(
            f"/community/{a}/manage/roles",
            data={"phone": target.phone, "role": "staff", "organisation_id": "0"},
        ).status_code
        == 302
    )
    session.expire_all()
    assignment = session.scalar(
        select(RoleAssignment).where(RoleAssignment.user_id == target.id, RoleAssignment.role == Role.STAFF)
    )
    assert assignment is not None and assignment.community_id == a
    assignment_id = assignment.id
    # Revoking through B's URL is refused; through A's it works.
    assert client.post(f"/community/{world['b'].id}/manage/roles/{assignment_id}/revoke").status_code == 403
    assert client.post(f"/community/{a}/manage/roles/{assignment_id}/revoke").status_code == 302
    session.expire_all()
    assert session.scalar(select(RoleAssignment.id).where(RoleAssignment.id == assignment_id)) is None


def test_register_organisations(client, session, world):
    street_id = world["street"].id
    login(client, world["staff_a"])
    assert client.get(f"/street/{street_id}/organisations/new").status_code == 403
    resp = client.post(
        f"/community/{world['a'].id}/manage/merchants/new",
        data={
            "kind": "merchant",
            "community_id": world["a"].id,
            "name": "惠民便利超市",
            "contact_name": "黄志明",
            "contact_phone": "13900000031",
        },
    )
    assert resp.status_code == 302
    # A forged community id in the form is refused.
    resp = client.post(
        f"/community/{world['a'].id}/manage/merchants/new",
        data={"kind": "merchant", "community_id": world["b"].id, "name": "别处超市"},
    )
    assert resp.status_code in (400, 403)
    client.post("/accounts/logout")
    login(client, world["admin"])
    resp = client.post(
        f"/street/{street_id}/organisations/new",
        data={
            "kind": "partner",
            "community_id": "0",
            "name": "城关区人民医院",
            "description": "义诊、健康讲座",
        },
    )
    assert resp.status_code == 302
    listing = client.get(f"/street/{street_id}/organisations").get_data(as_text=True)
    assert "惠民便利超市" in listing and "城关区人民医院" in listing
    assert "139****0031" in listing and "13900000031" not in listing
    session.expire_all()
    assert set(session.scalars(select(Organisation.name))) == {"惠民便利超市", "城关区人民医院"}


# --- GET is safe, forms need CSRF -------------------------------------------------------


def _row_counts(session):
    session.expire_all()
    return {
        t.name: session.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
        if t.name != "audit_event"
    }


def test_get_never_changes_state(client, session, world):
    report = _report(session, world["resident_a"], world["a"])
    a, grid = world["a"].id, world["grid_a"].id
    before = _row_counts(session)
    login(client, world["admin"])
    urls = [
        "/community/",
        "/community/report",
        f"/community/{a}",
        f"/community/{a}/manage",
        f"/community/{a}/manage/members",
        f"/community/{a}/manage/reports",
        f"/community/{a}/manage/roles",
        f"/community/{a}/manage/merchants/new",
        f"/street/{world['street'].id}",
        f"/street/{world['street'].id}/organisations",
        f"/street/{world['street'].id}/organisations/new",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    for url in (
        f"/community/{a}/manage/reports/{report.id}/review",
        f"/community/{a}/manage/grids",
        f"/community/{a}/manage/grids/{grid}/rename",
        f"/community/report/{report.id}/withdraw",
    ):
        assert client.get(url + "?decision=confirm&name=x").status_code == 405, url
    after = _row_counts(session)
    # Logging in is the only write (accounts may record it); nothing of ours changed.
    for table in ("party_report", "grid", "building", "organisation", "role_assignment", "community"):
        assert after[table] == before[table], table
    assert session.get(PartyReport, report.id).status == ReportStatus.PENDING


@pytest.fixture()
def csrf_client(db_url, engine, connection):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, WTF_CSRF_ENABLED=True
    )
    return app.test_client()


def test_forms_need_csrf(csrf_client, session, world):
    report = _report(session, world["resident_a"], world["a"])
    client = csrf_client
    # Log in with a token taken from the login page.
    import re

    page = client.get("/accounts/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    from tests.factories import DEFAULT_PASSWORD

    resp = client.post(
        "/accounts/login",
        data={"phone": world["staff_a"].phone, "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302
    url = f"/community/{world['a'].id}/manage/reports/{report.id}/review"
    assert client.post(url, data={"decision": "confirm"}).status_code == 400
    session.expire_all()
    assert session.get(PartyReport, report.id).status == ReportStatus.PENDING
    page = client.get(f"/community/{world['a'].id}/manage/reports").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(url, data={"decision": "confirm", "csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.get(PartyReport, report.id).status == ReportStatus.CONFIRMED
