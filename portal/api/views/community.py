"""Communities (read), their service posts (list, claim, release) and teams (list, join, leave)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from portal import policy
from portal.activities.services import member_community_ids
from portal.api.auth import actor, protected
from portal.extensions import db
from portal.places.models import Community
from portal.posts import services as posts
from portal.teams import services as teams
from portal.volunteering.posts import ClaimStatus, PostStatus
from portal.volunteering.teams import TeamRole

blp = Blueprint(
    "Communities",
    __name__,
    url_prefix="/communities",
    description="Communities, their service posts (服务岗位) and volunteer teams (志愿队伍).",
)


class CommunitySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    street_id = fields.Integer(required=True)
    street_name = fields.String(required=True)
    home = fields.Boolean(required=True, metadata={"description": "My home community."})
    staff = fields.Boolean(required=True, metadata={"description": "I have staff powers here."})


class CommunityListSchema(Schema):
    items = fields.List(fields.Nested(CommunitySchema), required=True)


class ClaimSchema(Schema):
    id = fields.Integer(required=True)
    post_id = fields.Integer(required=True)
    status = fields.Enum(ClaimStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    note = fields.String(required=True)


class PostSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    title = fields.String(required=True)
    duties = fields.String(required=True)
    schedule = fields.String(required=True)
    places = fields.Integer(required=True)
    places_left = fields.Integer(required=True)
    points_per_hour = fields.Integer(required=True, allow_none=True)
    points_per_duty = fields.Integer(required=True, allow_none=True)
    status = fields.Enum(PostStatus, by_value=True, required=True)
    my_claim = fields.Nested(ClaimSchema, required=True, allow_none=True)


class PostListSchema(Schema):
    items = fields.List(fields.Nested(PostSchema), required=True)


class TeamMembershipSchema(Schema):
    team_id = fields.Integer(required=True)
    role = fields.Enum(TeamRole, by_value=True, required=True)
    joined_at = fields.DateTime(required=True)


class TeamSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    members = fields.Integer(required=True)
    my_membership = fields.Nested(TeamMembershipSchema, required=True, allow_none=True)


class TeamListSchema(Schema):
    items = fields.List(fields.Nested(TeamSchema), required=True)


def community_view(c: Community, user: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "address": c.address,
        "street_id": c.street_id,
        "street_name": c.street.name,
        "home": c.id == user.community_id,
        "staff": policy.is_staff(user, c),
    }


def claim_view(claim: Any) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {
        "id": claim.id,
        "post_id": claim.post_id,
        "status": claim.status,
        "created_at": claim.created_at,
        "note": claim.note,
    }


POST_FIELDS = "id community_id title duties schedule places points_per_hour points_per_duty status".split()


def post_view(row: posts.PostRow) -> dict[str, Any]:
    p = row.post
    return {
        **{k: getattr(p, k) for k in POST_FIELDS},
        "places_left": row.places_left,
        "my_claim": claim_view(row.my_claim),
    }


def membership_view(m: Any) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"team_id": m.team_id, "role": m.role, "joined_at": m.joined_at}


def team_view(row: teams.TeamRow) -> dict[str, Any]:
    t = row.team
    return {
        "id": t.id,
        "community_id": t.community_id,
        "name": t.name,
        "description": t.description,
        "members": row.members,
        "my_membership": membership_view(row.mine),
    }


@blp.route("", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, CommunityListSchema)
def list_communities() -> dict[str, Any]:
    """Communities I belong to: my home, where I hold a role, and those I administer."""
    user = actor()
    ids = member_community_ids(user) | {c.id for c in policy.staff_communities(db.session, user)}
    rows = (
        db.session.scalars(select(Community).where(Community.id.in_(ids)).order_by(Community.id))
        if ids
        else []
    )
    return {"items": [community_view(c, user) for c in rows]}


@blp.route("/<int:community_id>", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, CommunitySchema)
def get_community(community_id: int) -> dict[str, Any]:
    """One of my communities."""
    user = actor()
    return community_view(policy.community_for_member(db.session, user, community_id), user)


@blp.route("/<int:community_id>/posts", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, PostListSchema)
def list_posts(community_id: int) -> dict[str, Any]:
    """Open service posts of a community, with places left and my claim."""
    return {"items": [post_view(r) for r in posts.open_posts(db.session, actor(), community_id)]}


@blp.route("/<int:community_id>/teams", methods=["GET"])
@protected(blp, "community:read")
@blp.response(200, TeamListSchema)
def list_teams(community_id: int) -> dict[str, Any]:
    """Volunteer teams of a community, with member counts and my membership."""
    return {"items": [team_view(r) for r in teams.community_teams(db.session, actor(), community_id)]}


# --- actions on posts and teams (ids are global; the services check the community) -------------

post_blp = Blueprint("Posts", __name__, url_prefix="/posts", description="Claim and release service posts.")
team_blp = Blueprint("Teams", __name__, url_prefix="/teams", description="Join and leave volunteer teams.")
blueprints = (blp, post_blp, team_blp)


@post_blp.route("/<int:post_id>/claim", methods=["POST"])
@protected(post_blp, "community:write")
@post_blp.response(201, ClaimSchema)
def claim_post(post_id: int) -> dict[str, Any] | None:
    """Claim a service post (认领): pending until staff approve; at most the community's limit."""
    return claim_view(posts.claim_post(db.session, actor(), post_id))


@post_blp.route("/claims/<int:claim_id>/release", methods=["POST"])
@protected(post_blp, "community:write")
@post_blp.response(200, ClaimSchema)
def release_claim(claim_id: int) -> dict[str, Any] | None:
    """Withdraw a pending claim or give up a post I hold."""
    return claim_view(posts.withdraw_claim(db.session, actor(), claim_id))


@post_blp.route("/claims/mine", methods=["GET"])
@protected(post_blp, "community:read")
@post_blp.response(
    200, Schema.from_dict({"items": fields.List(fields.Nested(ClaimSchema), required=True)}, name="ClaimList")
)
def my_claims() -> dict[str, Any]:
    """My claims, newest first."""
    return {"items": [claim_view(c) for c in posts.my_claims(db.session, actor().id)]}


@team_blp.route("/<int:team_id>/join", methods=["POST"])
@protected(team_blp, "community:write")
@team_blp.response(201, TeamMembershipSchema)
def join_team(team_id: int) -> dict[str, Any] | None:
    """Join a team (at most the community's limit of teams)."""
    return membership_view(teams.join_team(db.session, actor(), team_id))


@team_blp.route("/<int:team_id>/leave", methods=["POST"])
@protected(team_blp, "community:write")
@team_blp.response(200, TeamMembershipSchema)
def leave_team(team_id: int) -> dict[str, Any] | None:
    """Leave a team."""
    return membership_view(teams.leave_team(db.session, actor(), team_id))
