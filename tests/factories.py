"""Test data factories: small functions that add rows and flush (never commit).

street = make_street(session)
community = make_community(session, street=street)
user = make_user(session, community=community, roles=(Role.STAFF,))
login(client, user)            # password defaults to DEFAULT_PASSWORD
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from portal.accounts.policy import normalize_password
from portal.people.models import Role, RoleAssignment, User
from portal.places.models import Community, Organisation, OrgKind, Street

DEFAULT_PASSWORD = "Correct-Horse-9"
_seq = itertools.count(1)
# The testing config's cheap argon2 parameters (verification reads them from the hash).
_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def next_phone() -> str:
    """A unique, valid mainland mobile number."""
    return f"139{next(_seq):08d}"


def make_street(session: Session, name: str | None = None, district: str = "测试区") -> Street:
    street = Street(name=name or f"测试街道{next(_seq)}", district=district)
    session.add(street)
    session.flush()
    return street


def make_community(
    session: Session,
    street: Street | None = None,
    name: str | None = None,
    is_open: bool = True,
    **fields: Any,
) -> Community:
    street = street or make_street(session)
    community = Community(
        street_id=street.id, name=name or f"测试社区{next(_seq)}", is_open=is_open, **fields
    )
    session.add(community)
    session.flush()
    return community


def make_organisation(
    session: Session, community: Community, kind: OrgKind = OrgKind.MERCHANT, name: str | None = None
) -> Organisation:
    org = Organisation(
        street_id=community.street_id,
        community_id=community.id,
        kind=kind,
        name=name or f"测试商户{next(_seq)}",
    )
    session.add(org)
    session.flush()
    return org


RoleSpec = Role | tuple[Role, Any]


def make_user(
    session: Session,
    community: Community | None = None,
    roles: Iterable[RoleSpec] = (),
    password: str = DEFAULT_PASSWORD,
    phone: str | None = None,
    display_name: str | None = None,
    **fields: Any,
) -> User:
    """A user living in ``community`` (RESIDENT there) holding ``roles``.

    A role is a ``Role`` (held in ``community``; STREET_ADMIN in its street; SYSADMIN
    global) or ``(Role, place)`` with a Community, a Street or an id as the place.
    Merchants get an organisation in their community.
    """
    seq = next(_seq)
    user = User(
        phone=phone or next_phone(),
        password_hash=_hasher.hash(normalize_password(password)),
        display_name=display_name or f"测试用户{seq}",
        community_id=community.id if community else None,
        **fields,
    )
    session.add(user)
    session.flush()
    for spec in roles:
        role, place = spec if isinstance(spec, tuple) else (spec, None)
        session.add(_assignment(session, user, role, place if place is not None else community))
    session.flush()
    session.refresh(user)
    return user


def _assignment(session: Session, user: User, role: Role, place: Any) -> RoleAssignment:
    if role == Role.SYSADMIN:
        return RoleAssignment(user_id=user.id, role=role)
    if role == Role.STREET_ADMIN:
        street_id = (
            place.id
            if isinstance(place, Street)
            else (place.street_id if isinstance(place, Community) else place)
        )
        return RoleAssignment(user_id=user.id, role=role, street_id=street_id)
    community_id = place.id if isinstance(place, Community) else place
    if community_id is None:
        raise ValueError(f"{role.value} needs a community")
    org_id = None
    if role == Role.MERCHANT:
        community = place if isinstance(place, Community) else session.get(Community, community_id)
        org_id = make_organisation(session, community).id
    return RoleAssignment(user_id=user.id, role=role, community_id=community_id, organisation_id=org_id)


def login(client: Any, user: User, password: str = DEFAULT_PASSWORD, **kwargs: Any) -> Any:
    """Log ``user`` in through the real form; returns the response (302 on success)."""
    return client.post("/accounts/login", data={"phone": user.phone, "password": password}, **kwargs)


def make_activity(
    session: Session,
    community: Community,
    creator: User,
    *,
    leader: User | None = None,
    starts_in_hours: float = 48,
    hours: float = 2,
    capacity: int = 10,
    now: Any = None,
    **fields: Any,
) -> Any:
    """A published activity in ``community`` created by ``creator`` (staff) through the service."""
    import datetime as dt

    from core.db import utcnow
    from portal.activities import services as activities

    now = now or utcnow()
    starts = now + dt.timedelta(hours=starts_in_hours)
    data = activities.ActivityData(
        title=fields.pop("title", "垃圾分类宣传"),
        place=fields.pop("place", "社区广场"),
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=hours),
        capacity=capacity,
        signup_deadline=fields.pop("signup_deadline", starts - dt.timedelta(hours=1)),
        leader_id=(leader or creator).id,
        **fields,
    )
    return activities.create_activity(session, creator, community.id, data, now=now)


# --- posts and teams (POSTS & TEAMS track) -------------------------------------------------


def make_post(
    session: Session, community: Community, title: str = "宣传员", places: int = 1, **fields: Any
) -> Any:
    """An open 服务岗位 in ``community``."""
    from portal.volunteering.posts import ServicePost

    fields.setdefault("points_per_hour", 10)
    post = ServicePost(community_id=community.id, title=title, places=places, **fields)
    session.add(post)
    session.flush()
    return post


def make_team(
    session: Session,
    community: Community,
    name: str | None = None,
    leader: User | None = None,
    members: Iterable[User] = (),
) -> Any:
    """A 志愿队伍 in ``community`` with ``leader`` (if given) and plain ``members``."""
    from portal.volunteering.teams import Team, TeamMembership, TeamRole

    team = Team(
        community_id=community.id,
        name=name or f"志愿队{next(_seq)}",
        created_by_id=leader.id if leader else None,
    )
    session.add(team)
    session.flush()
    people = ([(leader, TeamRole.LEADER)] if leader else []) + [(m, TeamRole.MEMBER) for m in members]
    for user, role in people:
        session.add(TeamMembership(team_id=team.id, user_id=user.id, community_id=community.id, role=role))
    session.flush()
    return team


# --- rewards store (STORE track) -----------------------------------------------------------


def give_points(session: Session, community: Community, user: User, amount: int) -> None:
    """Grant ``amount`` 福分 from the community fund to ``user`` (test helper)."""
    import ledger

    ledger.issue(
        session,
        key=f"test:grant:{community.id}:{user.id}:{next(_seq)}",
        fund_account=ledger.community_fund(session, community.id),
        to_account=ledger.user_account(session, community.id, user.id),
        amount=amount,
        actor=ledger.Actor.system("test grant"),
        reason="test grant",
        kind="grant",
    )


def merchant_org_id(user: User) -> int:
    """The organisation a MERCHANT user (from ``make_user(roles=(Role.MERCHANT,))``) acts for."""
    return next(r.organisation_id for r in user.roles if r.role == Role.MERCHANT)


def make_reward(
    session: Session, community: Community, owner: User, *, merchant: bool = True, **fields: Any
) -> Any:
    """A listed reward of ``owner`` (a merchant user, or staff when ``merchant=False``)."""
    from portal.rewards import services as rewards

    data = rewards.RewardData(
        title=fields.pop("title", "鸡蛋一盒"),
        category=fields.pop("category", "discount"),
        price=fields.pop("price", 10),
        stock=fields.pop("stock", 5),
        monthly_limit=fields.pop("monthly_limit", 3),
        **fields,
    )
    return rewards.create_reward(
        session, owner, community.id, merchant_org_id(owner) if merchant else None, data
    )


def give_consent(session: Session, *users: User, version: str = "2026-12-01") -> None:
    """Record the separate sensitive-information consent (PIPL) for ``users``."""
    from portal.people.models import ConsentRecord

    session.add_all(ConsentRecord(user_id=u.id, kind="sensitive_info", version=version) for u in users)
    session.flush()
