"""Demo 服务岗位 for the demo street (see ``portal/demo.py``): the typical posts of each
community (宣传员, 调解员, 应急员, 监督员, 楼栋长, 网格员) and claims by the demo party
members and volunteers. Idempotent: posts are looked up by community and title, claims by
post and person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from portal.people.models import User
from portal.places.models import Building, Community, Grid
from portal.volunteering.posts import ClaimStatus, PostClaim, PostStatus, ServicePost

# community name → (staff phone, posts); a post: title, duties, schedule, places, points, grid, building
POSTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "幸福里社区": (
        "13900000011",
        [
            {
                "title": "宣传员",
                "duties": "在楼栋宣传栏张贴通知，向居民宣传垃圾分类、反诈和惠民政策。",
                "schedule": "每周六上午 9:00–11:00",
                "places": 3,
                "per_hour": 10,
                "grid": "第一网格",
            },
            {
                "title": "调解员",
                "duties": "协助社区调解邻里纠纷（噪音、漏水、停车），做好记录并及时上报。",
                "schedule": "按需，每月约 2 次",
                "places": 2,
                "per_duty": 20,
            },
            {
                "title": "楼栋长",
                "duties": "联系本楼住户，收集诉求，通知社区活动，关注独居老人。",
                "schedule": "日常",
                "places": 1,
                "per_hour": 10,
                "grid": "第一网格",
                "building": "2号楼",
            },
            {
                "title": "应急员",
                "duties": "参加应急培训，暴雨、火情等突发情况下协助疏散和物资发放。",
                "schedule": "随叫随到",
                "places": 4,
                "per_hour": 15,
            },
            {
                "title": "监督员",
                "duties": "监督小区物业服务和公共设施维护，每月填写一次监督记录。",
                "schedule": "每月一次",
                "places": 2,
                "per_duty": 10,
                "closed": True,
            },
        ],
    ),
    "和平路社区": (
        "13900000021",
        [
            {
                "title": "网格员",
                "duties": "巡查网格内安全隐患、环境卫生，发现问题拍照上报。",
                "schedule": "每周二、四傍晚",
                "places": 2,
                "per_hour": 10,
                "grid": "西片网格",
            },
            {
                "title": "宣传员",
                "duties": "协助开展文明创建宣传，更新社区公众号和宣传栏。",
                "schedule": "每周日下午",
                "places": 2,
                "per_hour": 10,
            },
            {
                "title": "调解员",
                "duties": "参与“和事佬”调解室值班，化解邻里矛盾。",
                "schedule": "每周三上午",
                "places": 1,
                "per_duty": 20,
            },
            {
                "title": "楼栋长",
                "duties": "东2栋楼栋长：联系住户、组织楼道清洁、转达社区通知。",
                "schedule": "日常",
                "places": 1,
                "per_hour": 10,
                "grid": "东片网格",
                "building": "东2栋",
            },
        ],
    ),
}

# person's phone, community, post title, status
CLAIMS = [
    ("13900000101", "幸福里社区", "楼栋长", ClaimStatus.ACTIVE),  # 王建华
    ("13900000101", "幸福里社区", "宣传员", ClaimStatus.ACTIVE),
    ("13900000102", "幸福里社区", "调解员", ClaimStatus.ACTIVE),  # 张丽娟
    ("13900000302", "幸福里社区", "应急员", ClaimStatus.ACTIVE),  # 吴小燕
    ("13900000103", "幸福里社区", "宣传员", ClaimStatus.PENDING),  # 刘洋 (报到 pending)
    ("13900000201", "和平路社区", "网格员", ClaimStatus.ACTIVE),  # 赵磊
    ("13900000303", "和平路社区", "宣传员", ClaimStatus.ACTIVE),  # 郑海涛
]


def _user(session: Session, phone: str) -> User | None:
    return session.scalar(select(User).where(User.phone == phone))


def _community(session: Session, name: str) -> Community | None:
    return session.scalar(select(Community).where(Community.name == name).order_by(Community.id))


def seed(session: Session) -> None:
    for community_name, (staff_phone, posts) in POSTS.items():
        community = _community(session, community_name)
        staff = _user(session, staff_phone)
        if community is None:
            continue
        for spec in posts:
            if (
                session.scalar(
                    select(ServicePost.id).where(
                        ServicePost.community_id == community.id, ServicePost.title == spec["title"]
                    )
                )
                is not None
            ):
                continue
            grid = (
                session.scalar(
                    select(Grid).where(Grid.community_id == community.id, Grid.name == spec["grid"])
                )
                if spec.get("grid")
                else None
            )
            building = (
                session.scalar(
                    select(Building).where(
                        Building.community_id == community.id, Building.name == spec["building"]
                    )
                )
                if spec.get("building")
                else None
            )
            session.add(
                ServicePost(
                    community_id=community.id,
                    title=spec["title"],
                    duties=spec["duties"],
                    schedule=spec["schedule"],
                    places=spec["places"],
                    points_per_hour=spec.get("per_hour"),
                    points_per_duty=spec.get("per_duty"),
                    grid_id=grid.id if grid else (building.grid_id if building else None),
                    building_id=building.id if building else None,
                    status=PostStatus.CLOSED if spec.get("closed") else PostStatus.OPEN,
                    created_by_id=staff.id if staff else None,
                )
            )
        session.flush()
    for phone, community_name, title, status in CLAIMS:
        user, community = _user(session, phone), _community(session, community_name)
        if user is None or community is None:
            continue
        post = session.scalar(
            select(ServicePost).where(ServicePost.community_id == community.id, ServicePost.title == title)
        )
        if (
            post is None
            or session.scalar(
                select(PostClaim.id).where(PostClaim.post_id == post.id, PostClaim.user_id == user.id)
            )
            is not None
        ):
            continue
        staff = _user(session, POSTS[community_name][0])
        active = status == ClaimStatus.ACTIVE and staff is not None
        session.add(
            PostClaim(
                post_id=post.id,
                user_id=user.id,
                community_id=community.id,
                status=status,
                decided_by_id=staff.id if active and staff else None,
                decided_at=utcnow() if active else None,
            )
        )
        session.flush()
