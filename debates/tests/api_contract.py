"""What both schemathesis runs of the API share (in-process and against a live daphne): the checks, the rows they
aim at and the hooks that aim generated requests at those rows. A schema takes the hooks with `aim_at_seeded_rows`.
"""
from django.utils import timezone
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)

from accounts.tests.factories import UserFactory
from debates.models import DebateStatus
from debates.tests.factories import PersonaFactory, SeatFactory
from providers.models import LLMModel
from providers.tests.factories import LLMModelFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# The rows of the running test, for the hooks below: random ids would almost never name one.
SEEDED: dict[str, list[int]] = {"debates": [], "to_delete": [], "to_launch": [], "models": []}
LAUNCHES = ("/start", "/resume")  # the operations that launch a debate, aimed at a draft and a failed one of their own
LAUNCH_WEIGHT = 3  # how many times over their own rows are drawn: one in three of their requests launches


def seed_rows(model: LLMModel, *, owner) -> None:
    """Rows for the fuzzed requests to find: `model` (enabled) seats debates of `owner`'s in each state worth a
    different answer to start, cancel, resume and delete, and one of someone else's (403)."""
    LLMModelFactory(enabled=False)
    PersonaFactory(slug="economist")
    SEEDED["models"][:] = [model.pk]
    # DELETE has debates of its own: in a run of every operation against one database (the live run) it would
    # otherwise delete the debates that start, cancel and resume come to after it. Made first, so that they
    # have the small ids that schemathesis tries for itself (1) on a fresh database.
    SEEDED["to_delete"][:] = _debates(model, _each_state(owner))
    SEEDED["debates"][:] = _debates(model, _each_state(owner))
    # Start and resume have a draft and a failed debate that nothing else touches (cancel would end the draft
    # first in some runs): the live run checks that the debates its requests launched ran, so some must launch.
    SEEDED["to_launch"][:] = _debates(model, [(DebateStatus.DRAFT, owner), (DebateStatus.FAILED, owner)])


def _each_state(owner) -> list[tuple[str, object]]:
    """(status, creator) of debates worth a different answer each: owner's in each state, someone else's draft."""
    return [(status, owner) for status in (DebateStatus.DRAFT, DebateStatus.COMPLETED, DebateStatus.FAILED,
                                           DebateStatus.RUNNING)] + [(DebateStatus.DRAFT, UserFactory())]


def _debates(model: LLMModel, states: list[tuple[str, object]]) -> list[int]:
    ids = []
    for status, created_by in states:
        debate = SeatFactory(model=model, debate__judge_model=model, debate__status=status,
                             debate__created_by=created_by, debate__heartbeat_at=timezone.now()).debate
        SeatFactory(model=model, debate=debate, stance="against")
        ids.append(debate.pk)
    return ids


def flatmap_path_parameters(context, path_parameters: dict | None):
    """Aim most generated debate ids at real debates, so that 2xx, 403 and 409 answers are fuzzed too."""
    if not isinstance((path_parameters or {}).get("debate_id"), int):
        return st.just(path_parameters)  # a malformed id: keep it, it tests the 422
    seeded = SEEDED["to_delete" if context.operation.method.upper() == "DELETE" else "debates"]
    if context.operation.path.endswith(LAUNCHES):
        seeded = [*seeded, *SEEDED["to_launch"] * LAUNCH_WEIGHT]
    return st.sampled_from([path_parameters["debate_id"], *seeded]).map(
        lambda debate_id: {**path_parameters, "debate_id": debate_id})


def flatmap_body(context, body):
    """Seat an enabled model in some generated debates, so that creation succeeds with fuzzed topics and stances."""
    if not (isinstance(body, dict) and isinstance(body.get("seats"), list) and SEEDED["models"]):
        return st.just(body)
    model_id = SEEDED["models"][0]
    seats = [{**seat, "model_id": model_id} if isinstance(seat, dict) else seat for seat in body["seats"]]
    return st.sampled_from([body, {**body, "judge_model_id": model_id, "seats": seats}])


def aim_at_seeded_rows(schema):
    """Register the hooks above on `schema` (schemathesis dispatches a hook by its function's name)."""
    for hook in (flatmap_path_parameters, flatmap_body):
        schema.hook(hook)
    return schema
