"""Schemathesis fuzzes every operation of our own /api/openapi.json: no 500 for any request, valid or malformed,
and every answer (errors included) matches the schema the API publishes.

Calls go in-process through Django's WSGI handler, in the test's thread, so the token and rows made here are
visible to them. The tests commit (transaction=True) because the async endpoints reach the database through
database_sync_to_async, which would end a test-wide transaction. Start and resume are fuzzed too, with the
launch of the background task replaced by a no-op: their validation and state checks run for real, but no debate
starts inside the short-lived event loop of a WSGI request, against model servers that do not exist.
test_api_schemathesis_live.py runs the same checks over HTTP against daphne, with debates that really run.
"""
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from accounts.tests.factories import bearer, issue_token
from debates.tests.api_contract import CHECKS, aim_at_seeded_rows, seed_rows
from providers.tests.factories import LLMModelFactory

schema = aim_at_seeded_rows(schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application()))


@pytest.fixture
def token(monkeypatch) -> str:
    monkeypatch.setattr("debates.tasks.launch", lambda debate_id: None)
    row, secret = issue_token()
    seed_rows(LLMModelFactory(model_name="gpt-4o", recommended=True), owner=row.user)
    return secret


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_published_contract(case, token):
    case.call_and_validate(headers=bearer(token), checks=CHECKS)
