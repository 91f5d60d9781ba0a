"""Debates on the real local model (llama.cpp + Gemma 3 270M): local seats, a local judge, a mixed panel."""
import pytest
from channels.db import database_sync_to_async

from debates.models import Debate, Turn, Verdict, VerdictReading
from debates.orchestrator import DebateRunner
from debates.services import SeatSpec, debate_create
from debates.tests.conftest import followed_text, valid_verdict

pytestmark = pytest.mark.django_db(transaction=True)


def create(seat_models, judge, rounds: int = 2) -> Debate:
    stances = ["for", "against"]
    return debate_create(topic="Homework should be abolished", rounds=rounds, judge_model_id=judge.pk, seats=[
        SeatSpec(model_id=m.pk, stance=stances[i % 2], display_name=f"Speaker {i + 1}", temperature=0.0,
                 max_tokens=48) for i, m in enumerate(seat_models)])


async def run(debate: Debate) -> list[dict]:
    events: list[dict] = []
    await DebateRunner(debate.pk, listener=events.append).run()
    return events


async def test_two_local_seats_and_a_local_judge_finish_a_debate_streamed_in_deltas(local_model):
    debate = await database_sync_to_async(create)([local_model, local_model], local_model)

    events = await run(debate)

    debate = await Debate.objects.aget(pk=debate.pk)
    turns = [t async for t in Turn.objects.filter(debate=debate)]
    deltas = [e for e in events if e["type"] == "turn.delta"]
    assert debate.status == "completed", debate.failure_reason
    assert len(turns) == 4 and all(t.status == "completed" and t.text.strip() for t in turns)
    for turn in turns:
        mine = [e["payload"] for e in deltas if e["payload"]["turn_id"] == turn.pk]
        assert len(mine) >= 2 and followed_text(mine) == turn.text
    # Bound to the verdict's schema (llama-server compiles it to a grammar), even a 270M base model's verdict
    # parses: one score per seat, both readings of the seat-swap check.
    verdict = await Verdict.objects.aget(debate=debate)
    assert verdict.parsed, (verdict.parse_error, verdict.raw_text)
    assert await verdict.scores.acount() == 2 and await VerdictReading.objects.filter(judge__verdict=verdict).acount() == 2
    assert verdict.swap_note.startswith("Seat-swap check")


async def test_a_local_seat_and_a_cloud_protocol_seat_share_one_debate(local_model, model_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "Homework teaches habits."
    cloud = await database_sync_to_async(model_on)("openai", openai_server)
    debate = await database_sync_to_async(create)([local_model, cloud], cloud, rounds=1)

    await run(debate)

    debate = await Debate.objects.aget(pk=debate.pk)
    turns = [t async for t in Turn.objects.filter(debate=debate).select_related("seat")]
    assert debate.status == "completed", debate.failure_reason
    assert turns[0].text.strip() and turns[0].text != "Homework teaches habits."
    assert turns[1].text == "Homework teaches habits."
    # The cloud seat heard what the local model said.
    assert turns[0].text.strip()[:20] in str(openai_server.requests[0].body)
    assert (await Verdict.objects.aget(debate=debate)).parsed
