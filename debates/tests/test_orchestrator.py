"""The orchestrator against the local OpenAI-protocol server: order, transcripts, commits, the judge."""
import asyncio

import pytest
from django.conf import settings
from channels.db import database_sync_to_async

from debates import services, tasks
from debates.models import Debate, Turn, TurnStatus, Verdict
from debates.orchestrator import DebateRunner
from debates.tests.conftest import VALID_VERDICT, numbered, valid_verdict, verdict_json

pytestmark = pytest.mark.django_db(transaction=True)


def is_judge(body: dict) -> bool:
    return "impartial debate judge" in str(body)


def speaker(body: dict) -> str:
    return body["messages"][-1]["content"].rsplit("\n", 1)[-1]  # the cue: "Speaker A (for), round 2:"


async def run(debate_id: int) -> list[dict]:
    events: list[dict] = []
    await DebateRunner(debate_id, listener=events.append).run()
    return events


async def make(debate_on, server, **kwargs) -> Debate:
    return await database_sync_to_async(debate_on)(server, **kwargs)


async def test_it_runs_seats_in_order_each_seeing_the_transcript_so_far(debate_on, openai_server):
    def respond(body: dict) -> str:
        return valid_verdict(body) if is_judge(body) else f"Point made at {speaker(body)}"

    openai_server.responder = respond
    debate = await make(debate_on, openai_server, rounds=2)

    events = await run(debate.pk)

    bodies = [r.body for r in openai_server.requests]
    # The debaters see each other by label (blind_seats, on by default): identity cues sway how models defer.
    assert [speaker(b) for b in bodies[:4]] == ["Speaker A (for), round 1:", "Speaker B (against), round 1:",
                                                "Speaker A (for), round 2:", "Speaker B (against), round 2:"]
    assert is_judge(bodies[4]) and is_judge(bodies[5]) and len(bodies) == 6  # the verdict is read twice (swap check)
    last_prompt = bodies[3]["messages"][-1]["content"]
    assert "Speaker A (for), round 1: Point made at Speaker A (for), round 1:" in last_prompt
    assert "Speaker A (for), round 2: Point made at Speaker A (for), round 2:" in last_prompt
    assert bodies[0]["messages"][0]["content"].startswith("You are Speaker A, a debater arguing for")
    assert "Seat1" not in str(bodies) and "Seat2" not in str(bodies)
    assert "Motion: Cities should ban cars from their centres" in last_prompt
    assert "arguing against the motion" in bodies[1]["messages"][0]["content"]
    assert [e["type"] for e in events][-3:] == ["judging.started", "verdict", "debate.completed"]
    assert numbered(events) == list(range(1, len(numbered(events)) + 1))


async def test_with_blind_seats_off_the_debaters_see_each_others_names(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "Point made."
    debate = await make(debate_on, openai_server, rounds=1, blind_seats=False)

    await run(debate.pk)

    bodies = [r.body for r in openai_server.requests]
    assert [speaker(b) for b in bodies[:2]] == ["Seat1 (for), round 1:", "Seat2 (against), round 1:"]
    assert "Seat1 (for), round 1: Point made." in bodies[1]["messages"][-1]["content"]
    assert "Seat1" not in str(bodies[2]["messages"])  # the judge still sees labels only


async def test_it_commits_every_turn_before_the_next_begins(debate_on, openai_server):
    committed_when_asked: list[int] = []

    def respond(body: dict) -> str:
        committed_when_asked.append(Turn.objects.filter(status=TurnStatus.COMPLETED).count())
        return valid_verdict(body) if is_judge(body) else "An argument."

    openai_server.responder = respond
    debate = await make(debate_on, openai_server, rounds=2)

    await run(debate.pk)

    assert committed_when_asked == [0, 1, 2, 3, 4, 4]  # four turns, then the verdict's two readings


async def test_a_valid_verdict_is_stored_with_scores_and_winner(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "An argument."
    debate = await make(debate_on, openai_server, rounds=1)

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner").aget(debate=debate)
    scores = [(s.seat.position, s.score) async for s in verdict.scores.select_related("seat")]
    assert verdict.parsed and not verdict.repaired
    assert verdict.winner.position == 1
    assert scores == [(1, 7.5), (2, 6.0)]
    assert verdict.key_arguments == ["congestion costs"]


async def test_an_invalid_verdict_is_repaired_with_one_more_request(debate_on, openai_server):
    replies = iter([verdict_json(scores={"A": 14}, winner="C"), VALID_VERDICT])
    openai_server.responder = lambda body: next(replies) if is_judge(body) else "An argument."
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)  # one reading: two scripted replies

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate=debate)
    judge_requests = [r for r in openai_server.requests if is_judge(r.body)]
    assert verdict.parsed and verdict.repaired
    assert len(judge_requests) == 2
    repair = judge_requests[1].body["messages"][-1]["content"]
    assert "scores.A.argument_strength.score: Input should be less than or equal to 10" in repair
    assert "scores.B: Field required" in repair and "winner: Input should be 'A' or 'B'" in repair


async def test_a_verdict_that_stays_invalid_is_kept_unparsed_never_invented(debate_on, openai_server):
    openai_server.responder = lambda body: "I liked them both, honestly." if is_judge(body) else "An argument."
    debate = await make(debate_on, openai_server, rounds=1)

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate=debate)
    debate = await Debate.objects.aget(pk=debate.pk)
    assert not verdict.parsed
    assert verdict.raw_text == "I liked them both, honestly."
    assert verdict.parse_error
    assert verdict.winner_id is None and verdict.summary == ""
    assert await verdict.scores.acount() == 0
    assert debate.status == "completed"


async def test_a_failing_turn_fails_the_debate_with_the_reason_and_keeps_what_was_said(debate_on,
                                                                                       openai_server):
    openai_server.responder = lambda body: "An argument."
    openai_server.enqueue_reply("The opening argument.")
    for _ in range(1 + settings.LLM_RETRIES):  # a fault that outlasts the retries
        openai_server.enqueue_error(500)
    debate = await make(debate_on, openai_server, rounds=1)

    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    turns = [t async for t in Turn.objects.filter(debate=debate).order_by("seat__position")]
    assert debate.status == "failed"
    assert debate.failure_reason.startswith("Seat2's turn in round 1 failed (provider error; resuming may help)")
    assert [(t.status, t.text) for t in turns][0] == ("completed", "The opening argument.")
    assert (turns[1].status, turns[1].error_kind) == ("failed", "provider_error")
    assert len(openai_server.requests) == 1 + 1 + settings.LLM_RETRIES  # the failing turn: 1 + retries calls
    assert [e["type"] for e in events][-2:] == ["turn.failed", "debate.failed"]


async def test_a_listener_that_fails_is_logged_and_the_debate_goes_on(debate_on, openai_server, caplog):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "An argument."
    debate = await make(debate_on, openai_server, rounds=1)
    told: list[str] = []

    def broken_terminal(event: dict) -> None:  # say, a terminal that cannot print a character
        told.append(event["type"])
        if event["type"] in ("turn.completed", "verdict"):
            raise UnicodeEncodeError("ascii", "\u2014", 0, 1, "ordinal not in range(128)")

    await DebateRunner(debate.pk, listener=broken_terminal).run()

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == "completed"
    assert await Turn.objects.filter(debate=debate, status="completed").acount() == 2
    assert (await Verdict.objects.aget(debate=debate)).parsed
    assert told[-1] == "debate.completed"  # still told of everything after its failures
    failures = [r for r in caplog.records if r.name == "debates.events"]
    assert [r.getMessage().split(" on ")[1].split(" (")[0] for r in failures] == [
        "turn.completed", "turn.completed", "verdict"]
    assert "the debate goes on" in failures[0].getMessage() and failures[0].exc_info


async def test_it_can_be_cancelled_mid_turn(debate_on, openai_server):
    openai_server.responder = lambda body: "word " * 200
    openai_server.chunk_delay = 0.02
    debate = await make(debate_on, openai_server, rounds=3)
    await database_sync_to_async(services.debate_mark_started)(debate_id=debate.pk)
    task = tasks.launch(debate.pk)
    await _until(lambda: Turn.objects.filter(debate=debate).exclude(text="").exists())

    await services.debate_cancel(debate_id=debate.pk)
    await asyncio.wait([task], timeout=10)

    debate = await Debate.objects.aget(pk=debate.pk)
    turn = await Turn.objects.aget(debate=debate)
    assert debate.status == "cancelled"
    assert turn.status == "failed" and turn.error_kind == "cancelled"
    assert debate.can_resume


async def test_it_resumes_after_an_interruption_without_duplicating_or_losing_turns(debate_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "An argument."
    openai_server.enqueue_reply("First.")
    openai_server.enqueue_reply("Second.")
    for _ in range(1 + settings.LLM_RETRIES):  # every attempt of the third turn dies mid-stream
        openai_server.enqueue_stream_cut(after_chunks=1, text="Cut off in the middle of a sentence")
    debate = await make(debate_on, openai_server, rounds=2)
    await run(debate.pk)  # as if the server had gone away
    before = {t.pk: t.text async for t in Turn.objects.filter(debate=debate, status="completed")}

    await database_sync_to_async(services.debate_mark_resumed)(debate_id=debate.pk)
    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    turns = [(t.round, t.seat.position, t.status, t.text)
             async for t in Turn.objects.filter(debate=debate).select_related("seat")]
    assert debate.status == "completed"
    assert turns == [(1, 1, "completed", "First."), (1, 2, "completed", "Second."),
                     (2, 1, "completed", "An argument."), (2, 2, "completed", "An argument.")]
    assert {pk: text for pk, text in before.items()} == {
        t.pk: t.text async for t in Turn.objects.filter(pk__in=before)}
    assert events[0]["payload"] == {"resumed": True}
    # two turns, the third's attempts, then two turns again (one was cut) and the judge's two readings
    assert len(openai_server.requests) == 2 + (1 + settings.LLM_RETRIES) + 2 + 2  # the verdict reads it twice


async def _until(condition, timeout: float = 10.0) -> None:
    check = database_sync_to_async(condition)
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never became true")
