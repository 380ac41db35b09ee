"""Demo 志愿队伍 for the demo street (see ``portal/demo.py``): two teams per community with
a leader and members (within the default cap of two teams per person). Idempotent: teams
are looked up by community and name, memberships by team and person."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.people.models import User
from portal.places.models import Community
from portal.volunteering.teams import Team, TeamMembership, TeamRole

# community name → teams: name, description, leader phone, member phones
TEAMS: dict[str, list[tuple[str, str, str, list[str]]]] = {
    "幸福里社区": [
        (
            "红心志愿服务队",
            "在职党员为主的志愿服务队：楼道清洁、助老助残、政策宣传。",
            "13900000101",
            ["13900000102", "13900000302"],
        ),
        (
            "夕阳红文艺队",
            "社区老年文艺爱好者：排练节目，逢年过节到敬老院慰问演出。",
            "13900000102",
            ["13900000301"],
        ),
    ],
    "和平路社区": [
        (
            "平安巡逻队",
            "每晚七点到九点巡查小区，关注消防通道、电动车充电和陌生人员。",
            "13900000201",
            ["13900000303"],
        ),
        (
            "环境美化队",
            "每月第一个周六清理绿化带、楼道小广告，开展垃圾分类引导。",
            "13900000303",
            ["13900000201"],
        ),
    ],
}


def _user(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def seed(session: Session) -> None:
    for community_name, teams in TEAMS.items():
        community = session.scalar(
            select(Community).where(Community.name == community_name).order_by(Community.id)
        )
        if community is None:
            continue
        for name, description, leader_phone, member_phones in teams:
            leader = _user(session, leader_phone)
            team = session.scalar(select(Team).where(Team.community_id == community.id, Team.name == name))
            if team is None:
                team = Team(
                    community_id=community.id,
                    name=name,
                    description=description,
                    created_by_id=leader.id if leader else None,
                )
                session.add(team)
                session.flush()
            people = [(leader, TeamRole.LEADER)] + [
                (_user(session, p), TeamRole.MEMBER) for p in member_phones
            ]
            for user, role in people:
                if user is None:
                    continue
                if (
                    session.scalar(
                        select(TeamMembership.id).where(
                            TeamMembership.team_id == team.id, TeamMembership.user_id == user.id
                        )
                    )
                    is None
                ):
                    session.add(
                        TeamMembership(team_id=team.id, user_id=user.id, community_id=community.id, role=role)
                    )
            session.flush()
