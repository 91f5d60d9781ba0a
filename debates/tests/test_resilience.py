"""Debates that survive flaky providers: a broken stream is redone whole (watchers see it reset), a model that
is down is replaced by its fallback, for seats and the judge, and what answered is recorded and shown."""
import pytest
from channels.db import database_sync_to_async

from debates.models import Debate, Turn, Verdict
from debates.snapshot import debate_snapshot
from debates.tests.conftest import VALID_VERDICT, followed_text, numbered, valid_verdict
from debates.tests.test_orchestrator import is_judge, make, run
from debates.transcripts import as_markdown, as_text
from providers.models import ModelFallback
from providers.tests.servers import FakeOpenAIServer

pytestmark = pytest.mark.django_db(transaction=True)
WHOLE = "Cars crowd streets that people could walk in freely and safely."


@pytest.fixture
def backup_server():
    with FakeOpenAIServer() as server:
        server.responder = lambda body: valid_verdict(body) if is_judge(body) else "The backup argues instead."
        yield server


async def test_a_stream_cut_midway_is_reset_and_redone_whole_never_spliced(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else WHOLE
    openai_server.enqueue_stream_cut(after_chunks=3)  # the first turn's first attempt breaks after 3 words
    debate = await make(debate_on, openai_server, rounds=1)

    events = await run(debate.pk)

    types = [e["type"] for e in events]
    reset = events[types.index("turn.reset")]
    assert types.index("turn.started") < types.index("turn.reset") < types.index("turn.completed")
    assert "provider error" in reset["payload"]["reason"]
    after_reset = [e["payload"] for e in events[types.index("turn.reset"):] if e["type"] == "turn.delta"
                   and e["payload"]["turn_id"] == reset["payload"]["turn_id"]]
    assert after_reset[0]["offset"] == 0 and followed_text(after_reset) == WHOLE  # redone from the start
    turns = [t async for t in Turn.objects.filter(debate_id=debate.pk)]
    assert [t.text for t in turns] == [WHOLE, WHOLE]  # one complete answer each, not a splice of two
    assert numbered(events) == list(range(1, len(numbered(events)) + 1))  # every seq once
    assert (await Debate.objects.aget(pk=debate.pk)).status == "completed"


async def test_a_seat_whose_model_is_down_is_answered_by_its_fallback_and_says_so(debate_on, openai_server,
                                                                                  backup_server, model_on):
    openai_server.responder = lambda body: VALID_VERDICT
    debate = await make(debate_on, openai_server, rounds=1)
    seat_model, backup = await database_sync_to_async(_fallback_for_seats)(debate, model_on, backup_server)
    openai_server.enqueue_error(401)  # the seats' model rejects its key: not retried, the fallback answers

    events = await run(debate.pk)

    completed = [e["payload"] for e in events if e["type"] == "turn.completed"]
    assert completed[0]["answered_by_model"] == backup.litellm_model_name
    assert completed[0]["text"] == "The backup argues instead."
    assert f"{seat_model.litellm_model_name} failed (authentication)" in completed[0]["fallback_reason"]
    assert completed[1]["fallback_reason"] == "" and completed[1]["answered_by_model_id"] == seat_model.pk
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    note = (f"Answered by {backup.litellm_model_name}, fallback for {seat_model.litellm_model_name} "
            f"({seat_model.litellm_model_name} failed (authentication)")
    assert note in as_markdown(snapshot) and note in as_text(snapshot)
    assert len([r for r in backup_server.requests]) == 1


async def test_a_judge_that_is_down_is_replaced_by_its_fallback(debate_on, openai_server, backup_server, model_on):
    openai_server.responder = lambda body: "An argument."
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)  # one judge call, to count its errors
    judge_model, backup = await database_sync_to_async(_fallback_for_seats)(debate, model_on, backup_server)
    openai_server.enqueue_reply("First.")
    openai_server.enqueue_reply("Second.")
    for _ in range(3):  # the judge's call: every attempt fails
        openai_server.enqueue_error(503)

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("answered_by_model").aget(debate_id=debate.pk)
    assert verdict.parsed and verdict.answered_by_model == backup
    assert f"{judge_model.litellm_model_name} failed (provider error)" in verdict.fallback_reason


def _fallback_for_seats(debate: Debate, model_on, backup_server):
    """The debate's one model (seats and judge) gets a fallback on the backup server."""
    model = debate.judge_model
    backup = model_on("openai", backup_server, model_name="backup", display_name="Backup")
    ModelFallback.objects.create(model=model, fallback=backup, position=1)
    return model, backup
