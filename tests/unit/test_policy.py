"""portal.policy answers each question once per request, and afresh when roles change."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Flask

from portal import policy
from portal.people.models import Role


def _user(*roles):
    return SimpleNamespace(id=7, is_active=True, community_id=None, roles=list(roles))


def test_asked_once_per_request_and_again_when_roles_change(monkeypatch):
    calls = []
    real = policy._is_staff
    monkeypatch.setattr(policy, "_is_staff", lambda u, c: calls.append(c.id) or real(u, c))
    community = SimpleNamespace(id=3, street_id=1)
    user = _user(SimpleNamespace(role=Role.STAFF, community_id=3, street_id=None))
    with Flask(__name__).test_request_context():
        assert policy.is_staff(user, community) and policy.is_staff(user, community)
        assert calls == [3]
        user.roles.clear()  # revoked in this request: a new question
        assert not policy.is_staff(user, community)
        assert calls == [3, 3]
    assert policy.is_staff(_user(), community) is False and calls == [3, 3, 3]  # no request: afresh
