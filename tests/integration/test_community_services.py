"""Community services against a real database (SQLite and PostgreSQL): who may do what
where, the 报到 state machine, and the database guards behind the service checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import policy
from portal.audit.models import AuditEvent
from portal.community import services as svc
from portal.errors import Conflict, Forbidden, NotFound, ServiceError
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Grid, Organisation, OrgKind
from tests.factories import give_consent, make_community, make_street, make_user


@pytest.fixture()
def world(session, app):
    with app.app_context():
        street = make_street(session)
        other_street = make_street(session)
        a = make_community(session, street=street)
        b = make_community(session, street=street)
        far = make_community(session, street=other_street)
        people = {
            "street": street,
            "other_street": other_street,
            "a": a,
            "b": b,
            "far": far,
            "staff_a": make_user(session, community=a, roles=(Role.STAFF,)),
            "staff_b": make_user(session, community=b, roles=(Role.STAFF,)),
            "resident_a": make_user(session, community=a),
            "homeless": make_user(session),
            "admin": make_user(session, roles=((Role.STREET_ADMIN, street),)),
            "far_admin": make_user(session, roles=((Role.STREET_ADMIN, other_street),)),
            "sysadmin": make_user(session, roles=(Role.SYSADMIN,)),
        }
        give_consent(session, *(v for v in people.values() if isinstance(v, User)))
        yield people


def _roles(session, user, role, community):
    return session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.community_id == community.id,
        )
    ).all()


# --- 报到 --------------------------------------------------------------------------------


def test_submit_sets_home_community_when_none(session, world):
    user = world["homeless"]
    report = svc.submit_report(session, user, world["a"].id, "市供电公司", "第二党支部")
    assert report.status == ReportStatus.PENDING
    assert user.community_id == world["a"].id


def test_submit_refuses_a_community_other_than_home(session, world):
    with pytest.raises(ServiceError) as exc:
        svc.submit_report(session, world["resident_a"], world["b"].id, "单位", "支部")
    assert exc.value.code == "not_home"
    assert session.scalar(select(PartyReport.id)) is None


def test_submit_refuses_closed_community_for_new_residents(session, world):
    closed = make_community(session, street=world["street"], is_open=False)
    with pytest.raises(ServiceError) as exc:
        svc.submit_report(session, world["homeless"], closed.id, "单位", "支部")
    assert exc.value.code == "closed"


def test_submit_validates_lengths(session, world):
    with pytest.raises(ServiceError) as exc:
        svc.submit_report(session, world["resident_a"], world["a"].id, "长" * 121, "支部")
    assert exc.value.code == "too_long"
    with pytest.raises(ServiceError):
        svc.submit_report(session, world["resident_a"], world["a"].id, "   ", "支部")


def test_second_live_report_is_refused(session, world):
    svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    with pytest.raises(Conflict) as exc:
        svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    assert exc.value.code == "duplicate"


def test_duplicate_lost_race_is_friendly(session, world, monkeypatch):
    """The other request's report is already in; our pre-check did not see it (a race):
    the partial unique index refuses the insert and the service answers Conflict."""
    svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    monkeypatch.setattr(svc, "live_report", lambda s, uid: None)
    with pytest.raises(Conflict):
        svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    # The session is still usable and holds exactly one live report.
    assert len(session.scalars(select(PartyReport)).all()) == 1


def test_after_withdrawal_a_new_report_is_allowed(session, world):
    first = svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    svc.withdraw_report(session, world["resident_a"], first.id)
    second = svc.submit_report(session, world["resident_a"], world["a"].id, "单位二", "支部二")
    assert first.status == ReportStatus.WITHDRAWN and second.status == ReportStatus.PENDING


def test_confirm_grants_party_member_once(session, world):
    report = svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    svc.review_report(session, world["staff_a"], world["a"].id, report.id, confirm=True)
    assert report.status == ReportStatus.CONFIRMED
    assert report.reviewed_by_id == world["staff_a"].id
    assert len(_roles(session, world["resident_a"], Role.PARTY_MEMBER, world["a"])) == 1
    # A double-submitted confirmation: friendly Conflict, nothing changes.
    with pytest.raises(Conflict) as exc:
        svc.review_report(session, world["staff_a"], world["a"].id, report.id, confirm=True)
    assert exc.value.code == "not_pending"
    assert len(_roles(session, world["resident_a"], Role.PARTY_MEMBER, world["a"])) == 1
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "community.report.confirm")).all()
    assert len(events) == 1


def test_reject_needs_a_note_and_grants_nothing(session, world):
    report = svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    with pytest.raises(ServiceError) as exc:
        svc.review_report(session, world["staff_a"], world["a"].id, report.id, confirm=False, note="")
    assert exc.value.code == "required"
    svc.review_report(session, world["staff_a"], world["a"].id, report.id, confirm=False, note="信息不完整")
    assert report.status == ReportStatus.REJECTED and report.review_note == "信息不完整"
    assert _roles(session, world["resident_a"], Role.PARTY_MEMBER, world["a"]) == []


def test_no_self_review(session, world):
    staff = world["staff_a"]
    report = svc.submit_report(session, staff, world["a"].id, "单位", "支部")
    with pytest.raises(Forbidden) as exc:
        svc.review_report(session, staff, world["a"].id, report.id, confirm=True)
    assert exc.value.code == "self_review"
    assert report.status == ReportStatus.PENDING


def test_no_self_review_in_the_database(session, world):
    report = svc.submit_report(session, world["staff_a"], world["a"].id, "单位", "支部")
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(
                update(PartyReport)
                .where(PartyReport.id == report.id)
                .values(reviewed_by_id=world["staff_a"].id)
            )


def test_review_scope(session, world):
    report = svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    # Staff of B, through B's own id or A's id.
    with pytest.raises(Forbidden):
        svc.review_report(session, world["staff_b"], world["a"].id, report.id, confirm=True)
    with pytest.raises(Forbidden):
        svc.review_report(session, world["staff_b"], world["b"].id, report.id, confirm=True)
    with pytest.raises(Forbidden):
        svc.review_report(session, world["far_admin"], world["a"].id, report.id, confirm=True)
    with pytest.raises(Forbidden):
        svc.review_report(session, world["resident_a"], world["a"].id, report.id, confirm=True)
    with pytest.raises(NotFound):
        svc.review_report(session, world["staff_a"], world["a"].id, 987654, confirm=True)
    assert report.status == ReportStatus.PENDING
    # The street admin of A's street may.
    svc.review_report(session, world["admin"], world["a"].id, report.id, confirm=True)
    assert report.status == ReportStatus.CONFIRMED


def test_withdraw_rules(session, world):
    report = svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    with pytest.raises(NotFound):
        svc.withdraw_report(session, world["staff_a"], report.id)
    svc.review_report(session, world["staff_a"], world["a"].id, report.id, confirm=True)
    with pytest.raises(Conflict):
        svc.withdraw_report(session, world["resident_a"], report.id)
    assert report.status == ReportStatus.CONFIRMED


# --- places ----------------------------------------------------------------------------


def test_grids_and_buildings(session, world):
    grid = svc.add_grid(session, world["staff_a"], world["a"].id, "第一网格")
    building = svc.add_building(session, world["staff_a"], world["a"].id, grid.id, "1号楼")
    assert building.community_id == world["a"].id
    svc.rename_grid(session, world["staff_a"], world["a"].id, grid.id, "一网格")
    svc.rename_building(session, world["staff_a"], world["a"].id, building.id, "一号楼")
    assert (grid.name, building.name) == ("一网格", "一号楼")
    with pytest.raises(Conflict):
        svc.add_grid(session, world["staff_a"], world["a"].id, "一网格")
    with pytest.raises(Conflict):
        svc.add_building(session, world["staff_a"], world["a"].id, grid.id, "一号楼")
    with pytest.raises(ServiceError):
        svc.add_grid(session, world["staff_a"], world["a"].id, "网" * 81)


def test_places_cross_community(session, world):
    grid_b = svc.add_grid(session, world["staff_b"], world["b"].id, "B网格")
    # Staff of A cannot add to B, nor use B's grid under A's id.
    with pytest.raises(Forbidden):
        svc.add_grid(session, world["staff_a"], world["b"].id, "偷偷加")
    with pytest.raises(Forbidden):
        svc.add_building(session, world["staff_a"], world["a"].id, grid_b.id, "偷偷楼")
    with pytest.raises(Forbidden):
        svc.rename_grid(session, world["staff_a"], world["a"].id, grid_b.id, "改名")
    with pytest.raises(Forbidden):
        svc.add_grid(session, world["resident_a"], world["a"].id, "居民加")
    assert session.scalar(select(Grid.name).where(Grid.id == grid_b.id)) == "B网格"


# --- roles -----------------------------------------------------------------------------


def test_only_street_admins_grant_roles(session, world):
    target = world["resident_a"]
    with pytest.raises(Forbidden):
        svc.grant_role(session, world["staff_a"], world["a"].id, target.phone, Role.STAFF)
    with pytest.raises(Forbidden):
        svc.grant_role(session, world["far_admin"], world["a"].id, target.phone, Role.STAFF)
    assignment = svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.STAFF)
    assert policy.is_staff(target, world["a"]) and not policy.is_staff(target, world["b"])
    with pytest.raises(Conflict):
        svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.STAFF)
    with pytest.raises(ServiceError):
        svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.PARTY_MEMBER)
    with pytest.raises(ServiceError):
        svc.grant_role(session, world["admin"], world["a"].id, target.phone, "sysadmin")
    with pytest.raises(NotFound):
        svc.grant_role(session, world["admin"], world["a"].id, "13000000000", Role.STAFF)
    with pytest.raises(Forbidden):
        svc.revoke_role(session, world["staff_a"], world["a"].id, assignment.id)
    with pytest.raises(Forbidden):  # forged: A's assignment revoked through B
        svc.revoke_role(session, world["admin"], world["b"].id, assignment.id)
    svc.revoke_role(session, world["admin"], world["a"].id, assignment.id)
    assert not policy.is_staff(target, world["a"])
    assert session.get(RoleAssignment, assignment.id) is None


def test_merchant_role_needs_an_organisation_of_the_community(session, world):
    target = world["resident_a"]
    with pytest.raises(ServiceError):
        svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.MERCHANT)
    org_b = svc.register_organisation(
        session,
        world["admin"],
        world["street"].id,
        kind=OrgKind.MERCHANT,
        name="B超市",
        community_id=world["b"].id,
    )
    with pytest.raises(Forbidden):
        svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.MERCHANT, org_b.id)
    org_a = svc.register_organisation(
        session,
        world["admin"],
        world["street"].id,
        kind=OrgKind.MERCHANT,
        name="A超市",
        community_id=world["a"].id,
    )
    assignment = svc.grant_role(session, world["admin"], world["a"].id, target.phone, Role.MERCHANT, org_a.id)
    assert assignment.organisation_id == org_a.id


# --- organisations ---------------------------------------------------------------------


def test_register_organisations(session, world):
    street_id = world["street"].id
    partner = svc.register_organisation(
        session,
        world["admin"],
        street_id,
        kind="partner",
        name="区人民医院",
        contact_phone="0530-6623456",
        description="义诊",
    )
    assert partner.community_id is None
    merchant = svc.register_organisation(
        session, world["staff_a"], street_id, kind="merchant", name="惠民超市", community_id=world["a"].id
    )
    assert merchant.community_id == world["a"].id
    with pytest.raises(Forbidden):  # staff: merchants only
        svc.register_organisation(
            session, world["staff_a"], street_id, kind="partner", name="某单位", community_id=world["a"].id
        )
    with pytest.raises(Forbidden):  # staff: own community only
        svc.register_organisation(
            session, world["staff_a"], street_id, kind="merchant", name="别处超市", community_id=world["b"].id
        )
    with pytest.raises(Forbidden):  # community of another street
        svc.register_organisation(
            session, world["admin"], street_id, kind="merchant", name="远方超市", community_id=world["far"].id
        )
    with pytest.raises(Forbidden):
        svc.register_organisation(session, world["far_admin"], street_id, kind="partner", name="外街单位")
    with pytest.raises(Conflict):
        svc.register_organisation(session, world["admin"], street_id, kind="partner", name="区人民医院")
    with pytest.raises(ServiceError):
        svc.register_organisation(session, world["admin"], street_id, kind="merchant", name="无社区商户")
    with pytest.raises(ServiceError):
        svc.register_organisation(session, world["admin"], street_id, kind="bank", name="银行")
    with pytest.raises(ServiceError):
        svc.register_organisation(session, world["admin"], street_id, kind="partner", name="名" * 121)
    names = {o.name for o in svc.organisations_for_community(session, world["a"])}
    assert names == {"区人民医院", "惠民超市"}
    assert {o.name for o in svc.organisations_for_community(session, world["b"])} == {"区人民医院"}
    assert session.scalar(select(Organisation.id).where(Organisation.name == "某单位")) is None


def test_street_overview_counts(session, world):
    svc.submit_report(session, world["resident_a"], world["a"].id, "单位", "支部")
    street, stats = svc.street_overview(session, world["admin"], world["street"].id)
    by_id = {s.community.id: s for s in stats}
    assert by_id[world["a"].id].pending_reports == 1
    assert by_id[world["a"].id].staff == 1 and by_id[world["a"].id].residents == 2
    assert world["far"].id not in by_id
    with pytest.raises(Forbidden):
        svc.street_overview(session, world["far_admin"], world["street"].id)
    with pytest.raises(Forbidden):
        svc.street_overview(session, world["staff_a"], world["street"].id)
    svc.street_overview(session, world["sysadmin"], world["street"].id)
