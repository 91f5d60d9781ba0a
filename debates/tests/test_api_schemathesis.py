"""Schemathesis fuzzes every operation of our own /api/openapi.json: no 500 for any request, valid or malformed,
and every answer (errors included) matches the schema the API publishes.

Calls go in-process through Django's WSGI handler, in the test's thread, so the token and rows made here are
visible to them. The tests commit (transaction=True) because the async endpoints reach the database through
database_sync_to_async, which would end a test-wide transaction. Start and resume are fuzzed too, with the
launch of the background task replaced by a no-op: their validation and state checks run for real, but no debate
starts inside the short-lived event loop of a WSGI request, against model servers that do not exist.
"""
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)

from accounts.tests.factories import bearer, issue_token
from debates.models import DebateStatus
from debates.tests.factories import PersonaFactory, SeatFactory
from providers.tests.factories import LLMModelFactory

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# The rows of the running test, for the hooks below: random ids would almost never name one.
SEEDED: dict[str, list[int]] = {"debates": [], "models": []}


@pytest.fixture
def token(monkeypatch) -> str:
    monkeypatch.setattr("debates.tasks.launch", lambda debate_id: None)
    model = LLMModelFactory(model_name="gpt-4o", recommended=True)
    LLMModelFactory(enabled=False)
    PersonaFactory(slug="economist")
    SEEDED["models"][:] = [model.pk]
    SEEDED["debates"][:] = []
    for status in (DebateStatus.DRAFT, DebateStatus.COMPLETED, DebateStatus.FAILED, DebateStatus.RUNNING):
        debate = SeatFactory(model=model, debate__judge_model=model, debate__status=status,
                             debate__heartbeat_at=timezone.now()).debate
        SeatFactory(model=model, debate=debate, stance="against")
        SEEDED["debates"].append(debate.pk)
    return issue_token()[1]


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict | None):
    """Aim most generated debate ids at real debates, so that 2xx and 409 answers are fuzzed too."""
    if not isinstance((path_parameters or {}).get("debate_id"), int):
        return st.just(path_parameters)  # a malformed id: keep it, it tests the 422
    return st.sampled_from([path_parameters["debate_id"], *SEEDED["debates"]]).map(
        lambda debate_id: {**path_parameters, "debate_id": debate_id})


@schema.hook
def flatmap_body(context, body):
    """Seat an enabled model in some generated debates, so that creation succeeds with fuzzed topics and stances."""
    if not (isinstance(body, dict) and isinstance(body.get("seats"), list) and SEEDED["models"]):
        return st.just(body)
    model_id = SEEDED["models"][0]
    seats = [{**seat, "model_id": model_id} if isinstance(seat, dict) else seat for seat in body["seats"]]
    return st.sampled_from([body, {**body, "judge_model_id": model_id, "seats": seats}])


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_published_contract(case, token):
    case.call_and_validate(headers=bearer(token), checks=CHECKS)
