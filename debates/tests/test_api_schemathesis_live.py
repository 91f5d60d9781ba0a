"""Schemathesis over real HTTP against daphne, with debates that really run: no 500 for any request, and every
answer matches the schema the server publishes (its own /api/openapi.json, fetched from it).

The in-process run (test_api_schemathesis.py) cannot see what only a live server does: requests and debate
tasks writing the database at once from threads of their own, the async endpoints on daphne's event loop.
Here a fuzzed start or resume launches a real debate, whose seats and judge answer from a local OpenAI server.
The same seeded rows and hooks as the in-process run aim the generated ids at real debates and models.
"""
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from accounts.models import ApiToken
from accounts.tests.factories import bearer, issue_token
from debates.budget import BUDGET_REACHED
from debates.models import ACTIVE_STATUSES, Debate
from debates.tests.api_contract import CHECKS, aim_at_seeded_rows, seed_rows
from debates.tests.api_live_server import api_live_server  # noqa: F401  (a fixture)
from debates.tests.conftest import scripted_responder

live_schema = schemathesis.pytest.from_fixture("served_schema")
RUNS_END_WITHIN_SECONDS = 20


@pytest.fixture
def api_token() -> tuple[ApiToken, str]:
    return issue_token()


@pytest.fixture
def served_schema(api_live_server, openai_server, model_on, api_token):  # noqa: F811
    openai_server.responder = scripted_responder()
    openai_server.chunk_delay = 0.01  # debates started by the fuzzing are still speaking as later requests come
    seed_rows(model_on("openai", openai_server, model_name="gpt-4o", recommended=True), owner=api_token[0].user)
    yield aim_at_seeded_rows(schemathesis.openapi.from_url(f"{api_live_server}/api/openapi.json"))
    # The debates the fuzzing started (a runner sets started_at) ran beside its requests: they end, none crashed.
    ran = Debate.objects.filter(started_at__isnull=False)
    deadline = time.monotonic() + RUNS_END_WITHIN_SECONDS
    while ran.filter(status__in=ACTIVE_STATUSES).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    outcomes = list(ran.values_list("pk", "status", "failure_reason"))
    assert outcomes, "no fuzzed start or resume launched a debate"
    # A fuzzed budget may be too small for one turn (0 is allowed): that debate stops as told, it did not crash.
    ended_as_told = {"completed", "cancelled"}
    assert [o for o in outcomes if o[1] not in ended_as_told and not o[2].startswith(BUDGET_REACHED)] == [], outcomes


@pytest.mark.django_db(transaction=True)
@live_schema.parametrize()
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_live_api_keeps_its_published_contract(case, api_token):
    case.call_and_validate(headers=bearer(api_token[1]), checks=CHECKS, timeout=30)
