"""Activities through the API: list (cursor pages, filters), detail, sign up (idempotent),
cancel, check in/out, and the refusals across communities for each role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.db import utcnow
from portal.activities import services as svc
from portal.api.models import IdempotencyRecord
from portal.people.models import Role
from portal.volunteering.activities import ActivitySignup
from tests.api.conftest import assert_error
from tests.factories import make_activity, make_community, make_user


def _world(session):
    community = make_community(session)
    other = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    member = make_user(session, community=community)
    return community, other, staff, member


def _signups(session, activity_id):
    return session.scalar(
        select(func.count()).select_from(ActivitySignup).where(ActivitySignup.activity_id == activity_id)
    )


def test_list_pages_are_stable_and_filtered(session, api):
    community, other, staff, member = _world(session)
    made = [
        make_activity(session, community, staff, starts_in_hours=10 + i, title=f"活动{i}") for i in range(5)
    ]
    make_activity(session, other, make_user(session, community=other, roles=(Role.STAFF,)), title="别处")
    caller = api(member)
    seen, cursor = [], None
    while True:
        resp = caller.get(
            "/api/v1/activities", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # A row added meanwhile does not shift the pages.
        make_activity(session, community, staff, starts_in_hours=1, title="插队")
    assert seen[:5] == [a.id for a in made]
    assert all(
        a["community_id"] == community.id for a in caller.get("/api/v1/activities").get_json()["items"]
    )
    only = caller.get("/api/v1/activities", query_string={"community_id": community.id, "when": "all"})
    assert only.status_code == 200


def test_bad_cursors_and_filters_are_400_or_422(session, api):
    community, other, staff, member = _world(session)
    for i in range(3):
        make_activity(session, community, staff, starts_in_hours=5 + i)
    caller = api(member)
    good = caller.get("/api/v1/activities", query_string={"limit": 1}).get_json()["next_cursor"]
    for cursor in ("x", "!!!!", "eyJrIjpbMSwyXX0", "e30", "bnVsbA", "W10", good[:-2] + "AA", "A" * 401):
        resp = caller.get("/api/v1/activities", query_string={"cursor": cursor})
        assert resp.status_code in (400, 422), (cursor, resp.status_code)
        assert set(resp.get_json()) == {"code", "message", "details"}
    # A cursor of another filter is refused, not misapplied.
    assert_error(
        caller.get("/api/v1/activities", query_string={"cursor": good, "when": "all"}), 400, "bad_cursor"
    )
    for args in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"when": "soon"}, {"community_id": 10**40}):
        assert_error(caller.get("/api/v1/activities", query_string=args), 422, "invalid_input")


def test_other_community_is_refused_for_every_role(session, api):
    community, other, staff, member = _world(session)
    other_staff = make_user(session, community=other, roles=(Role.STAFF,))
    activity = make_activity(session, other, other_staff)
    merchant = make_user(session, community=community, roles=(Role.MERCHANT,))
    party = make_user(session, community=community, roles=(Role.PARTY_MEMBER,))
    for user in (member, staff, merchant, party):
        caller = api(user)
        assert_error(caller.get(f"/api/v1/activities/{activity.id}"), 403, "other_community")
        assert_error(caller.post(f"/api/v1/activities/{activity.id}/signup"), 403, "other_community")
        assert_error(
            caller.get("/api/v1/activities", query_string={"community_id": other.id}), 403, "not_member"
        )
    assert _signups(session, activity.id) == 0
    assert_error(api(member).get("/api/v1/activities/999999999"), 404, "no_activity")
    assert_error(api(member).get(f"/api/v1/activities/{10**30}"), 404)


def test_signup_cancel_and_waitlist(session, api):
    community, other, staff, member = _world(session)
    second = make_user(session, community=community)
    activity = make_activity(session, community, staff, capacity=1)
    url = f"/api/v1/activities/{activity.id}/signup"
    first = api(member).post(url)
    assert first.status_code == 201 and first.get_json()["status"] == "confirmed"
    waiting = api(second).post(url)
    assert waiting.get_json()["status"] == "waitlisted" and waiting.get_json()["waitlist_rank"] == 1
    assert_error(api(member).post(url), 409, "duplicate")
    assert api(member).delete(url).get_json() == {"cancelled": True}
    detail = api(second).get(f"/api/v1/activities/{activity.id}").get_json()
    assert detail["my_signup"]["status"] == "confirmed" and detail["places_left"] == 0
    assert_error(api(member).delete(url), 409, "not_signed_up")


def test_idempotency_key_replays_and_refuses_other_bodies(session, api):
    community, other, staff, member = _world(session)
    activity = make_activity(session, community, staff, capacity=5)
    other_activity = make_activity(session, community, staff, capacity=5)
    caller = api(member)
    key = {"Idempotency-Key": "signup-7d1c"}
    first = caller.post(f"/api/v1/activities/{activity.id}/signup", headers=key)
    again = caller.post(f"/api/v1/activities/{activity.id}/signup", headers=key)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert _signups(session, activity.id) == 1
    assert_error(
        caller.post(f"/api/v1/activities/{other_activity.id}/signup", headers=key),
        422,
        "idempotency_key_reused",
    )
    assert _signups(session, other_activity.id) == 0
    for bad in ("", " ", "x" * 101, "é"):
        resp = caller.post(f"/api/v1/activities/{other_activity.id}/signup", headers={"Idempotency-Key": bad})
        assert resp.status_code == 400, bad
    assert _signups(session, other_activity.id) == 0
    # Keys are per person: someone else's identical key is theirs alone.
    second = make_user(session, community=community)
    assert api(second).post(f"/api/v1/activities/{activity.id}/signup", headers=key).status_code == 201
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 2


def test_check_in_and_out_with_the_code(session, api):
    community, other, staff, member = _world(session)
    now = utcnow()
    activity = make_activity(
        session,
        community,
        staff,
        starts_in_hours=0.25,
        hours=1,
        signup_deadline=now + dt.timedelta(minutes=5),
    )
    svc.signup(session, member, activity.id, now=now - dt.timedelta(minutes=1))
    caller = api(member)
    url = f"/api/v1/activities/{activity.id}/check"
    assert_error(caller.post(url, json={"phase": "in", "code": "000000x"}), 400, "wrong_code")
    code = svc.current_code(activity, "in")
    resp = caller.post(url, json={"phase": "in", "code": code})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["signup"]["checked_in_at"] is not None
    assert_error(caller.post(url, json={"phase": "in", "code": code}), 409, "already_in")
    for bad in (
        {"phase": "sideways", "code": "1"},
        {"phase": "in"},
        {"phase": "in", "code": 123456},
        {"phase": "in", "code": "1", "x": 1},
    ):
        assert_error(caller.post(url, json=bad), 422, "invalid_input")


def test_page_and_api_give_the_same_refusal(client, session, api):
    """The same rule refuses the same way on the page and in the API (status and words)."""
    from tests.factories import login

    community, other, staff, member = _world(session)
    activity = make_activity(session, community, staff, capacity=5)
    svc.signup(session, member, activity.id)
    login(client, member)
    page = client.post(f"/activities/{activity.id}/signup", data={})
    resp = api(member, lang="zh-CN").post(f"/api/v1/activities/{activity.id}/signup")
    body = assert_error(resp, page.status_code, "duplicate")
    assert body["message"] in page.get_data(as_text=True)


@pytest.mark.parametrize("scope", ["me:read", "points:read"])
def test_scopes_narrow_what_a_partner_token_does(session, api, scope):
    community, other, staff, member = _world(session)
    activity = make_activity(session, community, staff)
    caller = api(member, scopes=[scope])
    assert_error(caller.get("/api/v1/activities"), 403, "scope_missing")
    assert_error(caller.post(f"/api/v1/activities/{activity.id}/signup"), 403, "scope_missing")
    reader = api(member, scopes=["community:read"])
    assert reader.get("/api/v1/activities").status_code == 200
    assert_error(reader.post(f"/api/v1/activities/{activity.id}/signup"), 403, "scope_missing")
    assert _signups(session, activity.id) == 0
