"""Issue 9: TOTP second factor for privileged roles, and PIPL consent."""

from __future__ import annotations

import io
import json
import re

import pyotp
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.db import utcnow
from portal.audit.models import AuditEvent
from portal.people.models import ConsentRecord, RecoveryCode, Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from tests.conftest import make_test_app
from tests.factories import DEFAULT_PASSWORD, login, make_community, make_user, next_phone


@pytest.fixture()
def app(db_url, engine, connection):
    return make_test_app(
        DATABASE_URL=db_url,
        DATABASE_ENGINE=engine,
        DATABASE_BIND=connection,
        BABEL_DEFAULT_LOCALE="en",
        MFA_REQUIRED=True,
    )


def _secret_from(page: str) -> str:
    key = re.search(r'class="secret-key">([A-Z2-7 ]+)<', page)
    assert key, "the enrolment page shows the key"
    return key.group(1).replace(" ", "")


def _enrol(client) -> tuple[str, list[str]]:
    page = client.get("/accounts/mfa/setup").get_data(as_text=True)
    assert "<svg" in page  # the QR code, drawn on the server
    secret = _secret_from(page)
    resp = client.post("/accounts/mfa/setup", data={"code": pyotp.TOTP(secret).at(utcnow())})
    assert resp.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{5}) ([a-z0-9]{5})</code>", resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, ["".join(c) for c in codes]


def _events(session, action):
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.mark.parametrize("role", [Role.STAFF, Role.MERCHANT, Role.STREET_ADMIN, Role.SYSADMIN])
def test_privileged_roles_must_enrol_before_anything_else(client, session, role):
    community = make_community(session)
    place = community.street if role == Role.STREET_ADMIN else community
    user = make_user(
        session, community=community, roles=((role, place),) if role != Role.SYSADMIN else (role,)
    )
    assert login(client, user).status_code == 302
    resp = client.get("/accounts/me")
    assert resp.status_code == 302 and "/accounts/mfa/setup" in resp.headers["Location"]
    assert client.post("/accounts/sessions/others/end").status_code == 302  # POSTs are held too
    assert "/accounts/mfa/setup" in client.post("/accounts/sessions/others/end").headers["Location"]
    _enrol(client)
    assert client.get("/accounts/me").status_code == 200
    assert _events(session, "mfa.enrol")


def test_residents_are_not_asked(client, session):
    user = make_user(session, community=make_community(session))
    login(client, user)
    assert client.get("/accounts/me").status_code == 200


def test_enrolled_users_enter_a_code_at_every_login_once(app, client, session):
    staff = make_user(session, community=make_community(session), roles=(Role.STAFF,))
    login(client, staff)
    secret, codes = _enrol(client)
    client.post("/accounts/logout")
    login(client, staff)
    assert "/accounts/mfa" in client.get("/accounts/me").headers["Location"]
    resp = client.post("/accounts/mfa", data={"code": "000000"})
    assert resp.status_code == 422
    assert client.get("/accounts/me").status_code == 302
    # The code used at enrolment cannot be replayed.
    session.expire_all()
    used_step = session.get(User, staff.id).mfa_last_step
    replay = pyotp.TOTP(secret).at(used_step * 30)
    assert client.post("/accounts/mfa", data={"code": replay}).status_code == 422
    # A recovery code works once.
    assert client.post("/accounts/mfa", data={"code": codes[0].upper()}).status_code == 302
    assert client.get("/accounts/me").status_code == 200
    client.post("/accounts/logout")
    login(client, staff)
    assert client.post("/accounts/mfa", data={"code": codes[0]}).status_code == 422
    assert session.scalar(
        select(RecoveryCode).where(RecoveryCode.user_id == staff.id, RecoveryCode.used_at.is_not(None))
    )
    assert [e.detail.get("reason") if hasattr(e, "detail") else None for e in _events(session, "mfa.verify")]


def test_wrong_codes_are_throttled(db_url, engine, connection, session):
    app = make_test_app(
        DATABASE_URL=db_url, DATABASE_ENGINE=engine, DATABASE_BIND=connection, MFA_REQUIRED=True,
        LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes", BABEL_DEFAULT_LOCALE="en",
    )  # fmt: skip
    client = app.test_client()
    staff = make_user(session, community=make_community(session), roles=(Role.STAFF,))
    login(client, staff)
    secret, _codes = _enrol(client)
    client.post("/accounts/logout")
    login(client, staff)
    statuses = [client.post("/accounts/mfa", data={"code": "123456"}).status_code for _ in range(4)]
    assert statuses[-1] == 429
    # Even the right code waits now.
    assert client.post("/accounts/mfa", data={"code": pyotp.TOTP(secret).at(utcnow())}).status_code == 429


def test_a_new_session_needs_the_code_again(app, client, session):
    staff = make_user(session, community=make_community(session), roles=(Role.STAFF,))
    login(client, staff)
    _enrol(client)
    other = app.test_client()
    login(other, staff)
    assert other.get("/accounts/me").status_code == 302


# --- consent ------------------------------------------------------------------------------


def _signup(client, community, **extra):
    data = {
        "phone": next_phone(),
        "password": "Plum-Blossom-77",
        "confirm": "Plum-Blossom-77",
        "display_name": "王阿姨",
        "community": str(community.id),
    }
    data.update(extra)
    assert client.post("/accounts/signup", data=data).status_code == 302
    return data["phone"]


def test_signup_consent_is_separate_and_unticked(client, session):
    community = make_community(session)
    page = client.get("/accounts/signup").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="sensitive_consent"[^>]*>', page)
    assert box and "checked" not in box.group(0)
    phone = _signup(client, community)
    user = session.scalar(select(User).where(User.phone == phone))
    assert session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user.id)).all() == []


def test_consent_recorded_downloadable_and_withdrawn(client, session):
    community = make_community(session)
    phone = _signup(client, community, sensitive_consent="y")
    user = session.scalar(select(User).where(User.phone == phone))
    row = session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == user.id))
    assert row.version == "2026-12-01" and row.withdrawn_at is None and row.granted_at <= utcnow()
    # A report as a party member is accepted with the consent.
    resp = client.post(
        "/community/report",
        data={"community_id": community.id, "work_unit": "供电公司", "party_org": "二支部"},
    )
    assert resp.status_code == 302
    page = client.get("/accounts/security").get_data(as_text=True)
    assert "2026-12-01" in page
    data = json.loads(client.get("/accounts/consent/download.json").get_data(as_text=True))
    assert data["consents"][0]["version"] == "2026-12-01" and data["consents"][0]["withdrawn_at"] is None
    wb = load_workbook(io.BytesIO(client.get("/accounts/consent/download.xlsx").data))
    assert [c.value for c in wb.active[1]] == ["kind", "purpose", "version", "granted_at", "withdrawn_at"]
    assert client.post("/accounts/consent/sensitive/withdraw").status_code == 302
    session.expire_all()
    assert session.get(ConsentRecord, row.id).withdrawn_at is not None
    report = session.scalar(select(PartyReport).where(PartyReport.user_id == user.id))
    assert report.status == ReportStatus.WITHDRAWN
    assert _events(session, "consent.withdraw") and _events(session, "consent.export")


def test_party_report_needs_consent(client, session):
    community = make_community(session)
    user = make_user(session, community=community)
    login(client, user)
    resp = client.post(
        "/community/report",
        data={"community_id": community.id, "work_unit": "供电公司", "party_org": "二支部"},
    )
    assert resp.status_code == 403
    assert session.scalar(select(PartyReport).where(PartyReport.user_id == user.id)) is None
    assert client.post("/accounts/consent/sensitive").status_code == 302
    resp = client.post(
        "/community/report",
        data={"community_id": community.id, "work_unit": "供电公司", "party_org": "二支部"},
    )
    assert resp.status_code == 302


def test_withdrawal_ends_the_party_member_role(client, session):
    community = make_community(session)
    user = make_user(session, community=community, roles=(Role.PARTY_MEMBER,))
    login(client, user)
    client.post("/accounts/consent/sensitive")
    client.post("/accounts/consent/sensitive/withdraw")
    session.expire_all()
    assert (
        session.scalar(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user.id, RoleAssignment.role == Role.PARTY_MEMBER
            )
        )
        is None
    )
    assert DEFAULT_PASSWORD
