"""``flask seed-demo``: realistic demo data, idempotent, documented logins that work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.db import Base
from portal.demo import DEMO_PASSWORD, PEOPLE, STEPS, demo_logins_markdown, register_step, seed_demo
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Community, Street

ROOT = Path(__file__).resolve().parents[2]


def _counts(session):
    session.expire_all()
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_seed_demo_twice_does_not_duplicate(app, session):
    with app.app_context():
        first = seed_demo(session)
        after_first = _counts(session)
        second = seed_demo(session)
    assert first["created"]["user"] == len(PEOPLE)
    assert second["created"] == {}
    assert _counts(session) == after_first
    assert first["users"] == second["users"]


def test_seed_demo_content(app, session):
    with app.app_context():
        ids = seed_demo(session)
    street = session.scalar(select(Street).where(Street.name == "城关街道"))
    assert {c.name for c in session.scalars(select(Community).where(Community.street_id == street.id))} == {
        "幸福里社区",
        "和平路社区",
    }
    statuses = sorted(r.status.value for r in session.scalars(select(PartyReport)))
    assert statuses == ["confirmed", "confirmed", "confirmed", "pending"]
    party = session.scalars(select(RoleAssignment).where(RoleAssignment.role == Role.PARTY_MEMBER)).all()
    assert len(party) == 3
    # Reviewers are never the members themselves (the DB CHECK holds as well).
    assert all(
        r.reviewed_by_id != r.user_id
        for r in session.scalars(select(PartyReport))
        if r.status == ReportStatus.CONFIRMED
    )
    merchant = session.get(User, ids["users"]["huang_zhiming"])
    assert [r.organisation_id for r in merchant.roles if r.role == Role.MERCHANT] == [
        ids["organisations"]["huimin"]
    ]


def test_cli_seed_demo_runs_twice(runner, session):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = _counts(session)
    assert counts["user"] == len(PEOPLE)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "nothing to do" in second.output
    assert _counts(session) == counts


def test_demo_login_works_with_documented_password(app, client, session):
    with app.app_context():
        seed_demo(session)
    resp = client.post("/accounts/login", data={"phone": "13900000011", "password": DEMO_PASSWORD})
    assert resp.status_code == 302
    community = session.scalar(select(Community).where(Community.name == "幸福里社区"))
    assert client.get(f"/community/{community.id}/manage/reports").status_code == 200


def test_steps_are_extensible(app, session):
    seen = []
    register_step("test-extra", lambda ctx: seen.append(ctx.users["wang_jianhua"].display_name))
    try:
        with app.app_context():
            seed_demo(session)
        assert seen == ["王建华"]
    finally:
        STEPS[:] = [(n, f) for n, f in STEPS if n != "test-extra"]


def test_demo_logins_doc_is_current():
    doc = (ROOT / "docs" / "demo-logins.md").read_text(encoding="utf-8")
    assert doc == demo_logins_markdown()
    assert DEMO_PASSWORD in doc
