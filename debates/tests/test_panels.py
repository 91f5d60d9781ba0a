"""Judge panels: every judge reads the debate alone and at once; the verdict takes the mean score per seat and
criterion and the majority winner (a tie without one), shows each judge's verdict and their agreement, and goes on
without a judge whose calls fail."""
import json
import re
import threading

import pytest
from channels.db import database_sync_to_async

from debates.models import JudgeVerdict, Verdict
from debates.services import DebateValidationError, SeatSpec, debate_create
from debates.snapshot import debate_snapshot
from debates.tests.conftest import verdict_json
from debates.tests.test_orchestrator import is_judge, run
from debates.transcripts import as_markdown, as_text
from providers.tests.servers import FakeOpenAIServer

pytestmark = pytest.mark.django_db(transaction=True)


def label_of(body: dict, stance: str) -> str:
    return re.search(rf"Speaker ([A-F]): arguing {stance}\b", body["messages"][-1]["content"]).group(1)


def prefers(stance: str, *, high: float = 8, low: float = 4):
    """A consistent judge: names the seat arguing `stance`, under whatever label it has in this reading."""

    def verdict(body: dict) -> str:
        winner = label_of(body, stance)
        loser = "B" if winner == "A" else "A"
        return verdict_json(winner=winner, scores={winner: high, loser: low}, summary=f"{stance} was stronger.")

    return verdict


def panel_server(server, judges: dict[str, object]):
    """Seats argue; each judge model (by the name the request carries) answers with its own verdict."""

    def respond(body: dict) -> str:
        if is_judge(body):
            return judges[body["model"]](body)
        return "My case, made well."

    server.responder = respond


def make_panel_debate(model_on, server, judges: list[str], *, seat_model=None, **fields):
    seat_model = seat_model or model_on("openai", server, model_name="debater", display_name="Debater")
    rows = [model_on("openai", server, model_name=name, display_name=name.title()) for name in judges]
    seats = [SeatSpec(model_id=seat_model.pk, stance=stance, display_name=name, max_tokens=100)
             for stance, name in (("for", "Ada"), ("against", "Bo"))]
    return debate_create(topic="Cities should ban cars", rounds=1, seats=seats, judge_model_id=rows[0].pk,
                         panel_model_ids=[row.pk for row in rows[1:]], **fields)


async def test_a_majority_of_the_panel_names_the_winner_and_the_scores_are_the_means(model_on, openai_server):
    panel_server(openai_server, {"judge-one": prefers("for"), "judge-two": prefers("for", high=9, low=3),
                                 "judge-three": prefers("against", high=7, low=5)})
    debate = await database_sync_to_async(make_panel_debate)(model_on, openai_server,
                                                             ["judge-one", "judge-two", "judge-three"])

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner").aget(debate_id=debate.pk)
    assert verdict.parsed and verdict.winner.display_name == "Ada"
    assert verdict.agreement == pytest.approx(2 / 3)
    scores = [s async for s in verdict.scores.order_by("seat__position")]
    # Ada: 8, 9 and 5; Bo: 4, 3 and 7, on every criterion alike.
    assert [round(s.score, 4) for s in scores] == [round(22 / 3, 4), round(14 / 3, 4)]
    assert all(round(c["score"], 4) == round(22 / 3, 4) for c in scores[0].criteria)
    assert verdict.panel_note.startswith("Panel of 3 judges: Judge-One named Ada; Judge-Two named Ada; "
                                         "Judge-Three named Bo. Ada wins by majority")
    judges = [j async for j in JudgeVerdict.objects.filter(verdict=verdict).select_related("winner")]
    assert [(j.position, j.winner.display_name, j.swap_held) for j in judges] == [
        (1, "Ada", True), (2, "Ada", True), (3, "Bo", True)]
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert [j["judge_display_name"] for j in snapshot["verdict"]["judges"]] == ["Judge-One", "Judge-Two",
                                                                                "Judge-Three"]
    assert snapshot["debate"]["panel_models"] == ["openai/judge-two", "openai/judge-three"]
    for document in (as_markdown(snapshot), as_text(snapshot)):
        assert "Judge-Three: named Bo (Seat-swap check held" in document
        assert "Panel agreement: 67%" in document


async def test_two_judges_that_disagree_give_a_tie(model_on, openai_server):
    panel_server(openai_server, {"judge-one": prefers("for"), "judge-two": prefers("against")})
    debate = await database_sync_to_async(make_panel_debate)(model_on, openai_server, ["judge-one", "judge-two"])

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    assert verdict.parsed and verdict.winner_id is None and verdict.agreement == 0
    assert "No seat has a majority, so no seat wins (a tie)" in verdict.panel_note
    assert [s.score async for s in verdict.scores.order_by("seat__position")] == [6, 6]


async def test_a_judge_whose_calls_fail_is_left_out_and_named(model_on, openai_server):
    panel_server(openai_server, {"judge-one": prefers("for"), "judge-two": prefers("for")})

    def make():
        debate = make_panel_debate(model_on, openai_server, ["judge-one", "judge-two"])
        broken = model_on("openai", down, model_name="judge-down", display_name="Judge-Down")
        debate.panel.create(position=3, model=broken)
        return debate

    with FakeOpenAIServer() as down:
        for _ in range(4):  # every call refused (a retry too, were there one): a refused key is not worth retrying
            down.enqueue_error(401, "invalid api key")
        debate = await database_sync_to_async(make)()
        await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner", "debate").aget(debate_id=debate.pk)
    assert verdict.debate.status == "completed" and verdict.winner.display_name == "Ada"
    assert verdict.agreement == 1
    assert "Left out: Judge-Down: its calls failed (auth" in verdict.panel_note
    failed = await JudgeVerdict.objects.aget(verdict=verdict, position=3)
    assert not failed.parsed and "invalid api key" in failed.error
    # At most one call per reading, and no retry of an error retrying cannot mend: the readings ask with the
    # seats in swapped orders, so a retry is a second request with a body already seen. (The first refusal
    # stops the other reading, which may or may not have been sent by then.)
    readings = [json.dumps(request.body, sort_keys=True) for request in down.requests]
    assert 1 <= len(readings) <= 2 and len(set(readings)) == len(readings)


async def test_the_judges_and_their_readings_run_at_once(model_on, openai_server):
    # Four requests (two judges, two readings each) meet at a barrier: one after the other, they never would.
    barrier = threading.Barrier(4, timeout=10)

    def waits(stance):
        judge = prefers(stance)

        def answer(body):
            barrier.wait()
            return judge(body)

        return answer

    panel_server(openai_server, {"judge-one": waits("for"), "judge-two": waits("for")})
    debate = await database_sync_to_async(make_panel_debate)(model_on, openai_server, ["judge-one", "judge-two"])

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner").aget(debate_id=debate.pk)
    assert verdict.winner.display_name == "Ada" and not barrier.broken


async def test_a_panel_judge_that_also_debates_is_flagged(model_on, openai_server):
    panel_server(openai_server, {"judge-one": prefers("for"), "debater": prefers("for")})

    def make():
        debater = model_on("openai", openai_server, model_name="debater", display_name="Debater")
        judge = model_on("openai", openai_server, model_name="judge-one", display_name="Judge-One")
        seats = [SeatSpec(model_id=debater.pk, stance=stance, display_name=name, max_tokens=100)
                 for stance, name in (("for", "Ada"), ("against", "Bo"))]
        return debate_create(topic="Ban cars", rounds=1, seats=seats, judge_model_id=judge.pk,
                             panel_model_ids=[debater.pk])

    debate = await database_sync_to_async(make)()
    await run(debate.pk)

    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    verdict = snapshot["verdict"]
    seat_ids = [seat["id"] for seat in snapshot["seats"]]
    assert verdict["judge_seat_ids"] == seat_ids
    assert [j["judge_seat_ids"] for j in verdict["judges"]] == [[], seat_ids]
    assert "The judge's model also argues in this debate (Ada, Bo)" in as_text(snapshot)


@pytest.mark.parametrize(("panel", "problem"), [
    (lambda lead, others: [lead.pk], "Each judge sits on the panel once"),
    (lambda lead, others: [others[0].pk, others[0].pk], "Each judge sits on the panel once"),
    (lambda lead, others: [o.pk for o in others], "A panel has at most 5 judges"),
    (lambda lead, others: [99_999], "Choose enabled models for the panel (not: 99999)"),
])
def test_a_panel_that_cannot_sit_is_refused_with_a_reason(model_on, openai_server, panel, problem):
    lead = model_on("openai", openai_server)
    others = [model_on("openai", openai_server) for _ in range(5)]
    seats = [SeatSpec(model_id=lead.pk, stance=stance) for stance in ("for", "against")]

    with pytest.raises(DebateValidationError) as refused:
        debate_create(topic="Ban cars", rounds=1, seats=seats, judge_model_id=lead.pk,
                      panel_model_ids=panel(lead, others))

    assert refused.value.errors["panel_model_ids"][0].startswith(problem)


def test_a_panel_judge_whose_window_is_too_small_is_refused_on_its_field(model_on, openai_server):
    lead = model_on("openai", openai_server)
    tiny = model_on("openai", openai_server, display_name="Tiny", context_window=512)
    seats = [SeatSpec(model_id=lead.pk, stance=stance, max_tokens=400) for stance in ("for", "against")]

    with pytest.raises(DebateValidationError) as refused:
        debate_create(topic="Ban cars", rounds=1, seats=seats, judge_model_id=lead.pk, panel_model_ids=[tiny.pk])

    assert list(refused.value.errors) == ["panel_model_ids"]
    assert refused.value.errors["panel_model_ids"][0].startswith("Tiny's context window (512 tokens)")
