"""API test helpers: tokens minted through the real service, JSON calls with a bearer."""

from __future__ import annotations

from typing import Any

import pytest

from portal.api import tokens


class ApiClient:
    """The Flask test client with a bearer token and a language."""

    def __init__(self, client: Any, token: str | None = None, lang: str = "en") -> None:
        self.client = client
        self.token = token
        self.lang = lang

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Accept-Language": self.lang}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(extra or {})
        return h

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(kw.pop("headers", None)), **kw)


def device_token(session: Any, user: Any) -> str:
    return tokens.issue_device_token(session, user, "test")[1]


def personal_token(session: Any, user: Any, scopes: list[str], days: int = 30) -> str:
    return tokens.create_personal_token(session, user, name="partner", scopes=scopes, days=days)[1]


@pytest.fixture()
def api(client: Any, session: Any) -> Any:
    """``api(user)`` → an ApiClient holding a device token of ``user`` (None: anonymous)."""

    def make(user: Any = None, *, scopes: list[str] | None = None, lang: str = "en") -> ApiClient:
        if user is None:
            return ApiClient(client, None, lang)
        secret = personal_token(session, user, scopes) if scopes else device_token(session, user)
        return ApiClient(client, secret, lang)

    return make


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    body = resp.get_json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body
