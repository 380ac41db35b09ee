"""The one refusal path (portal.refusals): a service's ServiceError becomes the page again
with the message on its field, or the error page, or the JSON body for the API — audited
once, with nothing changed (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from portal.audit.models import AuditEvent
from portal.audit.services import record_refusal
from portal.errors import Forbidden, ServiceError
from portal.extensions import db
from portal.people.models import User
from portal.refusals import audit_as, deny, on_refusal
from tests.factories import make_community, make_street, make_user

PAGE = (
    "<p>{{ form.name.errors|join('|') }}</p>{% for m in get_flashed_messages() %}<i>{{ m }}</i>{% endfor %}"
)


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


@pytest.fixture()
def app(app, session):
    community = make_community(session, street=make_street(session))
    user_id = make_user(session, community=community).id

    @app.post("/_t/field")
    def field():
        form = NameForm()
        on_refusal(lambda: render_template_string(PAGE, form=form), form)
        db.session.add(User(phone="13000000000", display_name="x", password_hash="x"))
        db.session.flush()  # a change the refusal must not keep
        raise ServiceError("名字太长", code="too_long", field="name", status=422)

    @app.post("/_t/flash")
    def flashed():
        form = NameForm()
        on_refusal(lambda: render_template_string(PAGE, form=form), form)
        raise ServiceError("不行", code="nope", field="not_on_the_form", status=409)

    @app.post("/_t/hard")
    def hard():
        on_refusal(lambda: "never shown")
        audit_as("demo.hard", community.id)
        raise Forbidden("只有工作人员可以", code="not_staff")

    @app.post("/_t/recorded")
    def recorded():
        record_refusal(db.session, "demo.service", actor_id=user_id)
        raise ServiceError("已记录", code="once")

    @app.get("/api/_t/json")
    def json_refusal():
        deny("demo.api", community_id=community.id)

    return app


def _refused(session, action=None):
    session.expire_all()
    stmt = select(AuditEvent).where(AuditEvent.outcome == "refused")
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return session.scalars(stmt).all()


def test_the_page_again_with_the_message_on_the_field_and_nothing_kept(client, session):
    resp = client.post("/_t/field", data={"name": "x" * 5})
    assert resp.status_code == 422
    assert "<p>名字太长</p>" in resp.get_data(as_text=True)
    assert session.scalar(select(User).where(User.phone == "13000000000")) is None
    [event] = _refused(session, "_t_field") or _refused(session)
    assert event.detail["code"] == "too_long"


def test_a_message_for_no_field_is_flashed(client):
    resp = client.post("/_t/flash")
    assert resp.status_code == 409 and "<i>不行</i>" in resp.get_data(as_text=True)


def test_rights_refusals_get_the_error_page_and_are_filed_as_authz(client, session):
    resp = client.post("/_t/hard")
    assert resp.status_code == 403 and "never shown" not in resp.get_data(as_text=True)
    assert "只有工作人员可以" in resp.get_data(as_text=True)
    [event] = _refused(session)
    assert event.action == "authz.demo.hard" and event.detail["code"] == "not_staff"


def test_a_refusal_the_service_recorded_is_not_recorded_twice(client, session):
    assert client.post("/_t/recorded").status_code == 400
    assert [e.action for e in _refused(session)] == ["demo.service"]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_api_refusals_are_the_json_body_in_the_readers_language(client, session, lang):
    resp = client.get("/api/_t/json", headers={"Accept-Language": lang})
    assert resp.status_code == 403 and resp.is_json
    body = resp.get_json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "forbidden"
    assert ("permission" in body["message"]) == (lang == "en")
    assert [e.action for e in _refused(session)] == ["authz.demo.api"]
