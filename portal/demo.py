"""Demo data (``flask --app app seed-demo``): one street, two communities, their grids and
buildings, staff, a street admin, a system admin, party members (three confirmed 报到,
one pending), residents, a merchant with its merchant user and two partner units.

* ``seed_demo(session) -> dict`` runs the steps and flushes; it never commits (the CLI
  command does), so tests can call it inside their rolled-back transaction.
* Idempotent: every row is looked up by its natural unique key first (street name,
  community per street, grid per community, building per grid, phone, organisation per
  street, role scope, live report), so running it twice changes nothing.
* Extensible: ``STEPS`` is an ordered list of ``(name, function(ctx))``. Later features
  (ledger balances, posts, activities, wishes, rewards) append their own step with
  ``register_step`` and find the people and places in ``ctx`` by their keys
  (``ctx.users["wang_jianhua"]``, ``ctx.communities["xingfuli"]``, ``ctx.orgs["huimin"]``).

All demo users share the password ``DEMO_PASSWORD``; ``docs/demo-logins.md`` lists them
(``demo_logins_markdown()`` renders that table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.accounts.passwords import hash_password
from portal.people.models import Role, RoleAssignment, User
from portal.people.reports import PartyReport, ReportStatus
from portal.places.models import Building, Community, Grid, Organisation, OrgKind, Street

DEMO_PASSWORD = "Fufen-demo-2026"

# --- the demo world (data only) ----------------------------------------------------------

STREET = {"key": "chengguan", "name": "城关街道", "district": "示范区"}

COMMUNITIES = [
    {
        "key": "xingfuli",
        "name": "幸福里社区",
        "address": "城关街道幸福里路18号",
        "grids": {"第一网格": ["1号楼", "2号楼", "3号楼"], "第二网格": ["4号楼", "5号楼", "6号楼"]},
    },
    {
        "key": "hepinglu",
        "name": "和平路社区",
        "address": "城关街道和平路66号",
        "grids": {"东片网格": ["东1栋", "东2栋"], "西片网格": ["西1栋", "西2栋", "西3栋"]},
    },
]

ORGANISATIONS = [
    {
        "key": "huimin",
        "name": "惠民便利超市（幸福里店）",
        "kind": OrgKind.MERCHANT,
        "community": "xingfuli",
        "contact_name": "黄志明",
        "contact_phone": "13900000031",
        "address": "幸福里路20号底商",
        "description": "福分兑换合作商户：日用品、粮油，凭福分券可享折扣。",
    },
    {
        "key": "power",
        "name": "国网城关供电所",
        "kind": OrgKind.PARTNER,
        "community": None,
        "contact_name": "马国庆",
        "contact_phone": "0530-6612345",
        "address": "城关街道建设路9号",
        "description": "共建单位：每月第一个周六到社区开展安全用电检查、免费维修小家电。",
    },
    {
        "key": "hospital",
        "name": "城关区人民医院",
        "kind": OrgKind.PARTNER,
        "community": None,
        "contact_name": "林晓红",
        "contact_phone": "0530-6623456",
        "address": "城关街道人民路102号",
        "description": "共建单位：为社区老人提供义诊、健康讲座和陪诊志愿服务。",
    },
]

# key, name, phone, home community, building, roles: (role, place key or None, organisation key)
PEOPLE: list[dict[str, Any]] = [
    {
        "key": "sysadmin",
        "name": "系统管理员",
        "phone": "13900000000",
        "home": None,
        "building": None,
        "roles": [(Role.SYSADMIN, None, None)],
        "what": "System administrator (all streets)",
    },
    {
        "key": "zhou_jianguo",
        "name": "周建国",
        "phone": "13900000001",
        "home": None,
        "building": None,
        "roles": [(Role.STREET_ADMIN, "chengguan", None)],
        "what": "Street admin of 城关街道",
    },
    {
        "key": "li_xiumei",
        "name": "李秀梅",
        "phone": "13900000011",
        "home": "xingfuli",
        "building": "1号楼",
        "roles": [(Role.STAFF, "xingfuli", None)],
        "what": "Staff of 幸福里社区",
    },
    {
        "key": "chen_zhiqiang",
        "name": "陈志强",
        "phone": "13900000021",
        "home": "hepinglu",
        "building": "东1栋",
        "roles": [(Role.STAFF, "hepinglu", None)],
        "what": "Staff of 和平路社区",
    },
    {
        "key": "wang_jianhua",
        "name": "王建华",
        "phone": "13900000101",
        "home": "xingfuli",
        "building": "2号楼",
        "roles": [],
        "report": ("国网城关供电所", "国网城关供电所第二党支部", ReportStatus.CONFIRMED),
        "what": "Party member of 幸福里社区 (报到 confirmed)",
    },
    {
        "key": "zhang_lijuan",
        "name": "张丽娟",
        "phone": "13900000102",
        "home": "xingfuli",
        "building": "4号楼",
        "roles": [],
        "report": ("市第一中学", "市第一中学党总支", ReportStatus.CONFIRMED),
        "what": "Party member of 幸福里社区 (报到 confirmed)",
    },
    {
        "key": "liu_yang",
        "name": "刘洋",
        "phone": "13900000103",
        "home": "xingfuli",
        "building": "5号楼",
        "roles": [],
        "report": ("城关区人民医院", "区人民医院党委第三支部", ReportStatus.PENDING),
        "what": "Party member of 幸福里社区 (报到 pending)",
    },
    {
        "key": "zhao_lei",
        "name": "赵磊",
        "phone": "13900000201",
        "home": "hepinglu",
        "building": "西2栋",
        "roles": [],
        "report": ("市税务局城关分局", "市税务局城关分局机关党支部", ReportStatus.CONFIRMED),
        "what": "Party member of 和平路社区 (报到 confirmed)",
    },
    {
        "key": "sun_guilan",
        "name": "孙桂兰",
        "phone": "13900000301",
        "home": "xingfuli",
        "building": "3号楼",
        "roles": [],
        "what": "Resident of 幸福里社区 (elderly, posts micro-wishes)",
    },
    {
        "key": "wu_xiaoyan",
        "name": "吴小燕",
        "phone": "13900000302",
        "home": "xingfuli",
        "building": "6号楼",
        "roles": [],
        "what": "Resident and volunteer of 幸福里社区",
    },
    {
        "key": "zheng_haitao",
        "name": "郑海涛",
        "phone": "13900000303",
        "home": "hepinglu",
        "building": "东2栋",
        "roles": [],
        "what": "Resident of 和平路社区",
    },
    {
        "key": "huang_zhiming",
        "name": "黄志明",
        "phone": "13900000031",
        "home": "xingfuli",
        "building": None,
        "roles": [(Role.MERCHANT, "xingfuli", "huimin")],
        "what": "Merchant: 惠民便利超市（幸福里店）",
    },
]

# Who reviews the demo reports in each community.
REVIEWERS = {"xingfuli": "li_xiumei", "hepinglu": "chen_zhiqiang"}


# --- the step machinery ------------------------------------------------------------------


@dataclass
class DemoContext:
    session: Session
    password_hash: str
    streets: dict[str, Street] = field(default_factory=dict)
    communities: dict[str, Community] = field(default_factory=dict)
    grids: dict[tuple[str, str], Grid] = field(default_factory=dict)
    buildings: dict[tuple[str, str], Building] = field(default_factory=dict)
    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = []


def register_step(name: str, fn: Step, *, after: str | None = None) -> None:
    """Add a seeding step (by default at the end; ``after`` puts it behind a named one).
    Registering the same name again replaces the step, so re-imports are harmless."""
    for i, (existing, _fn) in enumerate(STEPS):
        if existing == name:
            STEPS[i] = (name, fn)
            return
    if after is not None:
        for i, (existing, _fn) in enumerate(STEPS):
            if existing == after:
                STEPS.insert(i + 1, (name, fn))
                return
    STEPS.append((name, fn))


def _get_or_create(ctx: DemoContext, model: type, lookup: dict[str, Any], **values: Any) -> Any:
    obj = ctx.session.scalar(select(model).filter_by(**lookup))
    if obj is None:
        obj = model(**lookup, **values)
        ctx.session.add(obj)
        ctx.session.flush()
        ctx.count(model.__tablename__)
    return obj


# --- steps ---------------------------------------------------------------------------------


def seed_places(ctx: DemoContext) -> None:
    street = _get_or_create(ctx, Street, {"name": STREET["name"]}, district=STREET["district"])
    ctx.streets[STREET["key"]] = street
    for spec in COMMUNITIES:
        community = _get_or_create(
            ctx,
            Community,
            {"street_id": street.id, "name": spec["name"]},
            address=spec["address"],
            is_open=True,
        )
        ctx.communities[spec["key"]] = community
        for grid_name, buildings in spec["grids"].items():
            grid = _get_or_create(ctx, Grid, {"community_id": community.id, "name": grid_name})
            ctx.grids[(spec["key"], grid_name)] = grid
            for building_name in buildings:
                building = _get_or_create(
                    ctx, Building, {"grid_id": grid.id, "name": building_name}, community_id=community.id
                )
                ctx.buildings[(spec["key"], building_name)] = building


def seed_organisations(ctx: DemoContext) -> None:
    street = ctx.streets[STREET["key"]]
    for spec in ORGANISATIONS:
        community = ctx.communities[spec["community"]] if spec["community"] else None
        ctx.orgs[spec["key"]] = _get_or_create(
            ctx,
            Organisation,
            {"street_id": street.id, "name": spec["name"]},
            kind=spec["kind"],
            community_id=community.id if community else None,
            contact_name=spec["contact_name"],
            contact_phone=spec["contact_phone"],
            address=spec["address"],
            description=spec["description"],
        )


def seed_people(ctx: DemoContext) -> None:
    for spec in PEOPLE:
        home = ctx.communities[spec["home"]] if spec["home"] else None
        building = (
            ctx.buildings[(spec["home"], spec["building"])] if spec["home"] and spec["building"] else None
        )
        user = _get_or_create(
            ctx,
            User,
            {"phone": spec["phone"]},
            display_name=spec["name"],
            real_name=spec["name"],
            password_hash=ctx.password_hash,
            community_id=home.id if home else None,
            building_id=building.id if building else None,
        )
        ctx.users[spec["key"]] = user
        for role, place, org_key in spec["roles"]:
            _ensure_role(ctx, user, role, place, org_key)


def _ensure_role(
    ctx: DemoContext,
    user: User,
    role: Role,
    place: str | None,
    org_key: str | None,
    granted_by: User | None = None,
) -> None:
    community_id = street_id = None
    if role == Role.STREET_ADMIN:
        street_id = ctx.streets[place].id  # type: ignore[index]
    elif role != Role.SYSADMIN:
        community_id = ctx.communities[place].id  # type: ignore[index]
    # NULL never equals NULL in a unique key, so look the scope up explicitly.
    for held in user.roles:
        if held.role == role and held.community_id == community_id and held.street_id == street_id:
            return
    user.roles.append(
        RoleAssignment(
            role=role,
            community_id=community_id,
            street_id=street_id,
            organisation_id=ctx.orgs[org_key].id if org_key else None,
            granted_by_id=granted_by.id if granted_by else None,
        )
    )
    ctx.session.flush()
    ctx.count("role_assignment")


def seed_reports(ctx: DemoContext) -> None:
    """报到: three confirmed (with the PARTY_MEMBER role), one pending."""
    for spec in PEOPLE:
        if "report" not in spec:
            continue
        user = ctx.users[spec["key"]]
        work_unit, party_org, status = spec["report"]
        existing = ctx.session.scalar(
            select(PartyReport).where(
                PartyReport.user_id == user.id,
                PartyReport.status.in_((ReportStatus.PENDING, ReportStatus.CONFIRMED)),
            )
        )
        reviewer = ctx.users[REVIEWERS[spec["home"]]]
        _ensure_consent(ctx, user)
        if existing is None:
            now = utcnow()
            confirmed = status == ReportStatus.CONFIRMED
            ctx.session.add(
                PartyReport(
                    user_id=user.id,
                    community_id=ctx.communities[spec["home"]].id,
                    work_unit=work_unit,
                    party_org=party_org,
                    status=status,
                    submitted_at=now,
                    reviewed_by_id=reviewer.id if confirmed else None,
                    reviewed_at=now if confirmed else None,
                    review_note="欢迎报到！" if confirmed else "",
                )
            )
            ctx.session.flush()
            ctx.count("party_report")
        if status == ReportStatus.CONFIRMED:
            _ensure_role(ctx, user, Role.PARTY_MEMBER, spec["home"], None, granted_by=reviewer)


def _ensure_consent(ctx: DemoContext, user: User) -> None:
    """Demo party members gave the separate sensitive-information consent (PIPL)."""
    from config import Config
    from portal.people.models import ConsentRecord

    if ctx.session.scalar(select(ConsentRecord.id).where(ConsentRecord.user_id == user.id)) is None:
        ctx.session.add(ConsentRecord(user_id=user.id, kind="sensitive_info", version=Config.CONSENT_VERSION))
        ctx.session.flush()


register_step("places", seed_places)
register_step("organisations", seed_organisations)
register_step("people", seed_people)
register_step("reports", seed_reports)

# Feature content, in dependency order (hours pay through the ledger for past attendance
# and posts; wishes need teams). Each module exposes ``seed(session)`` and is idempotent.
FEATURE_SEEDS = (
    "portal.posts.demo",
    "portal.teams.demo",
    "portal.activities.demo",
    "portal.wishes.demo",
    "portal.hours.demo",
    "portal.exchange.demo",
    "portal.rewards.demo",
)


def _feature_step(module_name: str) -> Step:
    def step(ctx: DemoContext) -> None:
        import importlib

        importlib.import_module(module_name).seed(ctx.session)
        ctx.session.flush()

    return step


for _module in FEATURE_SEEDS:
    register_step(_module.split(".")[1], _feature_step(_module))


def seed_demo(session: Session, *, steps: list[tuple[str, Step]] | None = None) -> dict[str, Any]:
    """Run every step; flush, never commit. Returns what exists and what was created."""
    ctx = DemoContext(session=session, password_hash=_password_hash(session))
    for _name, fn in steps if steps is not None else STEPS:
        fn(ctx)
    session.flush()
    return {
        "created": dict(ctx.created),
        "streets": {k: v.id for k, v in ctx.streets.items()},
        "communities": {k: v.id for k, v in ctx.communities.items()},
        "organisations": {k: v.id for k, v in ctx.orgs.items()},
        "users": {k: v.id for k, v in ctx.users.items()},
        "password": DEMO_PASSWORD,
    }


def _password_hash(session: Session) -> str:
    """Reuse the hash of an existing demo user (one argon2 hash per run at most)."""
    existing = session.scalar(select(User.password_hash).where(User.phone == PEOPLE[0]["phone"]))
    return existing or hash_password(DEMO_PASSWORD)


def demo_logins_markdown() -> str:
    lines = [
        "# Demo logins",
        "",
        "Created by `flask --app app seed-demo` (also part of `make run`). Every demo account uses the "
        f"password **`{DEMO_PASSWORD}`**. Log in with the mobile number.",
        "",
        "| Mobile number | Name | Who | Home community |",
        "|---|---|---|---|",
    ]
    names = {c["key"]: c["name"] for c in COMMUNITIES}
    for spec in PEOPLE:
        home = names.get(spec["home"], "—") if spec["home"] else "—"
        lines.append(f"| `{spec['phone']}` | {spec['name']} | {spec['what']} | {home} |")
    lines += [
        "",
        f"Places: {STREET['name']} → "
        + "、".join(c["name"] for c in COMMUNITIES)
        + "; partner units and merchants: "
        + "、".join(o["name"] for o in ORGANISATIONS)
        + ".",
        "",
        "Demo data only: never run `seed-demo` against a production database.",
        "",
    ]
    return "\n".join(lines)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo street, communities, people and content (idempotent)."""
    from portal.extensions import db

    with db.transaction() as session:
        summary = seed_demo(session)
    created = summary["created"]
    if created:
        click.echo("Created: " + ", ".join(f"{n} {kind}" for kind, n in sorted(created.items())))
    else:
        click.echo("Demo data already present; nothing to do.")
    click.echo(f"All demo users log in with the password {DEMO_PASSWORD} (see docs/demo-logins.md).")
