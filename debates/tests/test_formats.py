"""Formats with phases, early stop on consensus, and replay with one change."""
import json

import pytest
from channels.db import database_sync_to_async

from debates import services
from debates.formats import FORMATS
from debates.models import Debate, DebateStatus, Turn, Verdict
from debates.snapshot import debate_snapshot
from debates.tests.conftest import valid_verdict
from debates.tests.test_orchestrator import is_judge, make, run
from debates.transcripts import as_markdown, as_text

pytestmark = pytest.mark.django_db(transaction=True)


def is_consensus_check(body: dict) -> bool:
    return "watch a debate for consensus" in str(body)


def responder(converged_after: int | None = None, reply: str | None = None):
    """Seats argue; the judge gives a valid verdict; the consensus check says yes once `converged_after` rounds
    have been spoken (counted from the transcript it is shown), or answers `reply`."""

    def respond(body: dict) -> str:
        if is_judge(body):
            return valid_verdict(body)
        if is_consensus_check(body):
            if reply is not None:
                return reply
            spoken = body["messages"][-1]["content"].count("round ")
            done = converged_after is not None and spoken >= 2 * converged_after
            return json.dumps({"reason": "Both now accept a car-free core." if done else "They still differ.",
                               "converged": done})
        return "I make my case."

    return respond


def test_the_oxford_format_lays_its_phases_over_the_rounds():
    oxford = FORMATS["oxford"]

    assert [phase.key for _, phase in oxford.plan(3)] == ["opening", "rebuttal", "closing"]
    assert [phase.key for _, phase in oxford.plan(5)] == ["opening", "rebuttal", "rebuttal", "rebuttal", "closing"]
    assert {phase.key for _, phase in FORMATS["rounds"].plan(4)} == {"round"}


async def test_each_seat_is_told_its_phase_in_order_and_the_transcripts_name_them(debate_on, openai_server):
    openai_server.responder = responder()
    debate = await make(debate_on, openai_server, rounds=4, format="oxford", swap_check=False)

    events = await run(debate.pk)

    seat_prompts = [r.body["messages"][-1]["content"] for r in openai_server.requests
                    if not is_judge(r.body) and "Transcript so far" in str(r.body)]
    phases = [prompt.split("\n")[2] for prompt in seat_prompts]  # the line after "This is round N of 4."
    assert [p.split(".")[0] for p in phases] == ["Phase: Opening statements"] * 2 + ["Phase: Rebuttal"] * 4 + [
        "Phase: Closing statements"] * 2
    assert "Open your case" in phases[0] and "Keep this turn to about 150 words." in phases[0]
    assert "Bring no new arguments" in phases[-1] and "about 100 words" in phases[-1]
    assert [e["payload"]["phase"] for e in events if e["type"] == "round.started"] == [
        "opening", "rebuttal", "rebuttal", "closing"]
    judge_prompt = next(r.body for r in openai_server.requests if is_judge(r.body))["messages"][-1]["content"]
    assert "Speaker A (for), round 4 (closing statements): I make my case." in judge_prompt
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert [p["name"] for p in snapshot["debate"]["phases"]] == [
        "Opening statements", "Rebuttal", "Rebuttal", "Closing statements"]
    assert "## Round 2 · Rebuttal" in as_markdown(snapshot) and "Round 4 · Closing statements\n" in as_text(snapshot)


def test_a_format_that_needs_more_rounds_is_refused(api, model_on, openai_server):
    model = model_on("openai", openai_server)
    body = {"topic": "Ban cars", "rounds": 2, "format": "oxford", "judge_model_id": model.pk,
            "seats": [{"model_id": model.pk, "stance": "for"}, {"model_id": model.pk, "stance": "against"}]}

    response = api.post("/api/debates", body, content_type="application/json")

    assert response.status_code == 422
    assert "needs at least 3 rounds" in response.json()["errors"]["rounds"][0]
    assert api.post("/api/debates", body | {"format": "lincoln-douglas"},
                    content_type="application/json").status_code == 422
    assert not Debate.objects.exists()


# ---- early stop ------------------------------------------------------------------------------------
async def test_a_debate_stops_early_once_the_seats_agree_and_is_judged(debate_on, openai_server):
    openai_server.responder = responder(converged_after=2)
    debate = await make(debate_on, openai_server, rounds=4, early_stop=True, swap_check=False)

    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == DebateStatus.COMPLETED and debate.stopped_after_round == 2
    assert debate.early_stop_reason == ("Stopped early after round 2 of 4: the seats agree. "
                                        "Both now accept a car-free core.")
    assert sorted({t.round async for t in Turn.objects.filter(debate_id=debate.pk)}) == [1, 2]
    assert [e["payload"]["converged"] for e in events if e["type"] == "round.checked"] == [True]
    assert await Verdict.objects.filter(debate_id=debate.pk, parsed=True).aexists()
    assert len([r for r in openai_server.requests if is_consensus_check(r.body)]) == 1  # none after round 1
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert "Stopped early after round 2 of 4" in as_text(snapshot)


@pytest.mark.parametrize("reply", [None, "I cannot tell."])
async def test_without_agreement_or_a_readable_answer_it_runs_every_round(debate_on, openai_server, reply):
    openai_server.responder = responder(converged_after=None, reply=reply)
    debate = await make(debate_on, openai_server, rounds=3, early_stop=True, swap_check=False)

    await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == DebateStatus.COMPLETED and debate.stopped_after_round is None
    assert await Turn.objects.filter(debate_id=debate.pk, round=3).acount() == 2
    assert len([r for r in openai_server.requests if is_consensus_check(r.body)]) == 1  # after round 2 only


async def test_without_early_stop_nobody_is_asked(debate_on, openai_server):
    openai_server.responder = responder(converged_after=1)
    debate = await make(debate_on, openai_server, rounds=3, swap_check=False)

    await run(debate.pk)

    assert not any(is_consensus_check(r.body) for r in openai_server.requests)


# ---- replay -------------------------------------------------------------------------------------------
def finished(debate_on, openai_server, **fields) -> Debate:
    from debates.models import Tag

    debate = debate_on(openai_server, rounds=3, format="oxford", early_stop=True, budget_usd=None, **fields)
    debate.tags.add(Tag.objects.create(name="transport"))
    debate.copy_rubric()
    Debate.objects.filter(pk=debate.pk).update(status=DebateStatus.COMPLETED)
    return Debate.objects.get(pk=debate.pk)


def test_a_replay_copies_everything_but_the_swapped_model(debate_on, model_on, openai_server, api):
    original = finished(debate_on, openai_server, blind_seats=False)
    other = model_on("openai", openai_server, display_name="Other model")
    second = original.seats.get(position=2)

    response = api.post(f"/api/debates/{original.pk}/replay", {"seat_id": second.pk, "model_id": other.pk},
                        content_type="application/json")

    assert response.status_code == 201, response.content
    replay = Debate.objects.get(pk=response.json()["id"])
    assert replay.status == DebateStatus.DRAFT and replay.replay_of == original
    assert replay.replay_change == f"Seat2's model: {second.model.display_name} → Other model"
    for field in ("topic", "rounds", "format", "early_stop", "blind_seats", "swap_check", "judge_model_id"):
        assert getattr(replay, field) == getattr(original, field), field
    pairs = list(zip(original.seats.order_by("position"), replay.seats.order_by("position")))
    for before, after in pairs:
        for field in ("display_name", "stance", "persona_id", "system_prompt", "temperature", "max_tokens"):
            assert getattr(after, field) == getattr(before, field), field
    assert [after.model_id for _, after in pairs] == [pairs[0][0].model_id, other.pk]
    assert list(replay.tags.values_list("name", flat=True)) == ["transport"]
    assert list(replay.criteria.values_list("key", "weight")) == list(original.criteria.values_list("key", "weight"))


def test_a_replay_can_change_the_judge_and_refuses_what_it_cannot_do(debate_on, model_on, openai_server):
    original = finished(debate_on, openai_server)
    judge = model_on("openai", openai_server, display_name="New judge")

    replay = services.debate_replay(debate_id=original.pk, model_id=judge.pk)

    assert replay.judge_model == judge and replay.replay_change.startswith("the judge: ")
    with pytest.raises(services.DebateValidationError, match="cannot be made"):
        services.debate_replay(debate_id=original.pk, model_id=original.judge_model_id)  # no change at all
    with pytest.raises(services.DebateStateError, match="only a finished, failed or cancelled"):
        services.debate_replay(debate_id=replay.pk, model_id=original.judge_model_id)  # a draft


def test_the_comparison_page_shows_both_debates_round_by_round(admin_client, debate_on, model_on, openai_server):
    original = finished(debate_on, openai_server)
    replay = services.debate_replay(debate_id=original.pk,
                                    model_id=model_on("openai", openai_server, display_name="Judge B").pk)
    seat = original.seats.get(position=1)
    Turn.objects.create(debate=original, seat=seat, round=1, status="completed", text="Cars clog the old town.")

    page = admin_client.get(f"/debates/{original.pk}/compare/{replay.pk}/").content.decode()

    assert "Round 1 · Opening statements" in page and "Cars clog the old town." in page
    assert f"Debate {original.pk}" in page and f"Debate {replay.pk}" in page and "the judge: " in page
    assert admin_client.get(f"/debates/{original.pk}/compare/99999/").status_code == 404
