"""Property-based tests of the served OpenAPI document with schemathesis: every operation,
every built-in check (server errors, status codes, content types, response schemas,
negative-data rejection, auth enforcement, …), a bounded number of examples so the suite
stays fast. Runs on SQLite and PostgreSQL like every other test."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS

from portal.api.idempotency import KEY_RE
from portal.people.models import Role
from tests.api.conftest import device_token
from tests.factories import give_points, make_activity, make_community, make_post, make_reward, make_user

MAX_EXAMPLES = 5
# A schema-valid request may still be refused by a business rule or point at nothing:
# 400 is this API's answer for a rule's refusal of well-formed input (a wrong check-in
# code, a filter of another community, an unknown page cursor — opaque by design), so it
# counts as an expected answer to positive data alongside schemathesis' defaults.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "3XX", 400, 401, 403, 404, 409, 429, "5XX"],
            }
        }
    }
)


@pytest.fixture()
def api_world(app: Any, session: Any) -> dict[str, Any]:
    community = make_community(session)
    staff = make_user(session, community=community, roles=(Role.STAFF,))
    merchant = make_user(session, community=community, roles=(Role.MERCHANT,))
    member = make_user(session, community=community, roles=(Role.STAFF,))
    make_activity(session, community, staff)
    make_post(session, community)
    make_reward(session, community, merchant)
    give_points(session, community, member, 100)
    return {"token": device_token(session, member)}


@pytest.fixture()
def api_schema(app: Any, api_world: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_document(case: Any, api_world: dict[str, Any]) -> None:
    # A valid Idempotency-Key drawn again for a *different* request is rightly refused (422,
    # tested in test_activities/test_resources); make valid keys unique per generated case so
    # that refusal is not mistaken for rejecting valid data. Invalid keys are sent as drawn.
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY_RE.match(key):
        case.headers["Idempotency-Key"] = (key[:60] + "-" + uuid.uuid4().hex)[:100]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api_world['token']}", "Accept-Language": "en"},
        checks=CHECKS.get_all(),
    )
