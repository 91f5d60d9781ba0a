"""The judge: its request bound to the verdict's schema on every route that honours it, identity-blind, and kept
within its context window; the reply validated, repaired once, or kept unparsed."""
import json
from dataclasses import replace

import pytest
from channels.db import database_sync_to_async
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from debates import judge
from debates.models import JudgeVerdict, Verdict, VerdictReading
from debates.snapshot import debate_snapshot
from debates.transcripts import as_markdown, as_text
from debates.prompts import OMITTED_NOTE, CriterionView, SeatView, SpokenTurn, estimate_tokens, judge_messages
from debates.tests.conftest import DEFAULT_CRITERIA, VALID_VERDICT, valid_verdict, verdict_json
from debates.tests.test_orchestrator import is_judge, run
from debates.verdict_schema import response_format

pytestmark = pytest.mark.django_db(transaction=True)
SEATS = [SeatView(position=1, display_name="Ada", stance="for", system_prompt=""),
         SeatView(position=2, display_name="Bo", stance="against", system_prompt="")]
TRANSCRIPT = [SpokenTurn(round=1, position=1, speaker="Ada", stance="for", text="Cars clog the streets."),
              SpokenTurn(round=1, position=2, speaker="Bo", stance="against", text="Shops need deliveries.")]
RUBRIC = [CriterionView(key=key, name=key.replace("_", " ").capitalize(), description=f"how good the {key} is")
          for key in DEFAULT_CRITERIA]
SCHEMA = response_format(["A", "B"], list(DEFAULT_CRITERIA))["json_schema"]["schema"]


async def judge_once(model):
    return await judge.ask_judge(model, topic="Ban cars", seats=SEATS, rubric=RUBRIC, transcript=TRANSCRIPT)


@pytest.mark.parametrize("route", ["openai", "ollama_chat", "ollama"])
async def test_the_judge_request_carries_the_schema_in_the_providers_own_form(route, model_on, openai_server,
                                                                               ollama_server):
    server = openai_server if route == "openai" else ollama_server
    server.responder = lambda body: VALID_VERDICT
    model = await model_on_async(model_on, route, server)

    outcome = await judge_once(model)

    body = server.requests[-1].body
    if route == "openai":
        assert body["response_format"] == {"type": "json_schema", "json_schema": {
            "name": "debate_verdict", "schema": SCHEMA, "strict": True}}
    else:  # Ollama's own field, on /api/chat and /api/generate alike
        assert body["format"] == SCHEMA
    assert outcome.verdict.winner == 1 and [s.score for s in outcome.verdict.scores] == [7.5, 6]


async def test_on_anthropic_the_schema_becomes_a_forced_tool_or_structured_output(model_on, anthropic_server):
    anthropic_server.responder = lambda body: VALID_VERDICT
    model = await model_on_async(model_on, "anthropic", anthropic_server)

    await judge_once(model)

    body = anthropic_server.requests[-1].body
    bound = body.get("output_format", {}).get("schema") or next(
        (tool["input_schema"] for tool in body.get("tools", [])), None)
    assert bound is not None and bound["properties"].keys() == SCHEMA["properties"].keys()


async def test_a_row_set_to_no_structured_output_sends_no_schema_and_is_still_validated(model_on, openai_server):
    replies = iter(['{"winner": "A"}', VALID_VERDICT])
    openai_server.responder = lambda body: next(replies)
    model = await model_on_async(model_on, "openai", openai_server, structured_output=False)

    outcome = await judge_once(model)

    assert all("response_format" not in r.body for r in openai_server.requests)
    assert outcome.repaired and outcome.verdict is not None
    assert "summary: Field required" in openai_server.requests[1].body["messages"][-1]["content"]


def test_structured_output_is_decided_by_route_unless_the_row_says_otherwise(model_on, openai_server):
    assert model_on("openai", openai_server).uses_structured_output
    assert model_on("ollama_chat", openai_server).uses_structured_output
    assert not model_on("openai", openai_server, structured_output=False).uses_structured_output
    assert not model_on("gemini", openai_server).uses_structured_output
    assert model_on("gemini", openai_server, structured_output=True).uses_structured_output


async def test_no_name_model_provider_or_persona_reaches_the_judge(debate_on, model_on, openai_server):
    from debates.services import SeatSpec, debate_create
    from debates.tests.factories import PersonaFactory

    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "An argument."

    def make():
        model = model_on("openai", openai_server, model_name="zorblax-7b", display_name="Zorblax Seven",
                         provider__display_name="Quuxcorp Cloud")
        PersonaFactory(slug="gadfly", name="Socratic Gadfly")
        return debate_create(topic="Ban cars", rounds=1, judge_model_id=model.pk, seats=[
            SeatSpec(model_id=model.pk, stance="for", persona="gadfly"),
            SeatSpec(model_id=model.pk, stance="against", display_name="Wilhelmina")])

    debate = await database_sync_to_async(make)()
    await run(debate.pk)

    judge_prompt = str([r.body["messages"] for r in openai_server.requests if is_judge(r.body)])
    for identity in ("zorblax", "Zorblax", "Quuxcorp", "Socratic", "Gadfly", "Wilhelmina"):
        assert identity not in judge_prompt
    assert "Speaker A (for), round 1: An argument." in judge_prompt


names = st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd"]), min_size=6, max_size=20)


@settings(max_examples=60, deadline=None)
@given(first=names, second=names, topic_word=st.sampled_from(["cars", "homework", "taxes"]))
def test_no_seat_name_ever_reaches_the_judges_prompt(first, second, topic_word):
    seats = [SeatView(position=1, display_name=first, stance="for", system_prompt=f"You are {first}."),
             SeatView(position=2, display_name=second, stance="against", system_prompt=f"You are {second}.")]
    transcript = [SpokenTurn(round=1, position=seat.position, speaker=seat.display_name, stance=seat.stance,
                             text="My case.") for seat in seats]

    def prompt_for(seats, transcript) -> str:
        return str(judge_messages(topic=f"Ban {topic_word}", seats=seats, rubric=RUBRIC, transcript=transcript,
                                  context_window=8192, max_tokens=400))

    # A name that is part of the prompt's own words ("reason") cannot show anything either way.
    nameless = prompt_for([replace(s, display_name="", system_prompt="") for s in seats],
                          [replace(t, speaker="") for t in transcript])
    assume(first not in nameless and second not in nameless)
    prompt = prompt_for(seats, transcript)

    assert first not in prompt and second not in prompt
    assert "Speaker A (for), round 1: My case." in prompt and "Speaker B: arguing against" in prompt


def test_a_long_transcript_is_trimmed_to_the_judges_window_oldest_first():
    long = [SpokenTurn(round=i // 2 + 1, position=i % 2 + 1, speaker="x", stance="for", text=f"turn{i} " + "w " * 200)
            for i in range(30)]

    messages = judge_messages(topic="Ban cars", seats=SEATS, rubric=RUBRIC, transcript=long, context_window=2048,
                              max_tokens=400)

    text = "\n".join(m["content"] for m in messages)
    assert estimate_tokens(text) + 400 <= 2048
    assert "turn29 " in text and "turn0 " not in text
    assert OMITTED_NOTE.split("{count}")[1].strip(" ]") in text


async def model_on_async(model_on, route, server, **fields):
    return await database_sync_to_async(model_on)(route, server, **fields)


# ---- the seat-swap check -------------------------------------------------------------------------
def verdict_for(winner: str) -> str:
    loser = "B" if winner == "A" else "A"
    return verdict_json(winner=winner, scores={winner: 8, loser: 4}, summary="Decided.")


def seats_say(body: dict) -> str:
    cue = body["messages"][-1]["content"].rsplit("\n", 1)[-1]
    return "A STRONG case." if cue.startswith("Speaker A") else "A weak case."


async def test_a_judge_that_always_prefers_the_first_position_gives_a_tie_that_did_not_hold(debate_on, openai_server):
    openai_server.responder = lambda body: verdict_for("A") if is_judge(body) else seats_say(body)
    debate = await make_debate(debate_on, openai_server)

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("debate").aget(debate_id=debate.pk)
    assert (verdict.parsed, verdict.winner_id, verdict.swap_held) == (True, None, False)
    assert verdict.swap_note.startswith("Seat-swap check did not hold: the judge named Seat1 in speaking order and "
                                        "Seat2 with the order reversed, so no seat wins (a tie).")
    assert [s.score async for s in verdict.scores.all()] == [6, 6]  # the mean of 8 and 4, both ways
    readings = [r async for r in VerdictReading.objects.filter(judge__verdict=verdict)]
    assert [r.swapped for r in readings] == [False, True]
    judge_prompts = [r.body["messages"][-1]["content"] for r in openai_server.requests if is_judge(r.body)]
    assert len(judge_prompts) == 2
    swapped = next(p for p in judge_prompts if p.index("A weak case") < p.index("A STRONG case"))
    assert "Speaker A (against), round 1: A weak case." in swapped  # the last seat speaks first, as Speaker A


async def test_a_consistent_judge_gives_a_win_that_held(debate_on, openai_server):
    def consistent(body: dict) -> str:  # names whoever made the strong case, under whatever label
        prompt = body["messages"][-1]["content"]
        line = next(line for line in prompt.splitlines() if "STRONG" in line)
        return verdict_for(line.split()[1])

    openai_server.responder = lambda body: consistent(body) if is_judge(body) else seats_say(body)
    debate = await make_debate(debate_on, openai_server)

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner").aget(debate_id=debate.pk)
    assert verdict.swap_held is True and verdict.winner.display_name == "Seat1"
    assert verdict.swap_note == "Seat-swap check held: the judge named Seat1 in both orders. Scores are the mean of both readings."
    assert [s.score async for s in verdict.scores.all()] == [8, 4]
    held, checked = await database_sync_to_async(JudgeVerdict.objects.position_consistency)(verdict.judge_model_id)
    assert (held, checked) == (1, 1)
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert snapshot["verdict"]["judge_consistency"] == {"held": 1, "checked": 1}
    assert len(snapshot["verdict"]["judge_seat_ids"]) == 2  # the one model sits in both seats and judges
    for document in (as_markdown(snapshot), as_text(snapshot)):
        assert "Seat-swap check held: the judge named Seat1 in both orders." in document
        assert "The judge knew the seats only as Speaker A (Seat1), Speaker B (Seat2)." in document
        assert "The judge's model also argues in this debate (Seat1, Seat2)" in document


def explained(body: dict, *, parse_in_speaking_order: bool = True) -> str:
    """A consistent judge that says in its words who argued better, by the labels of the prompt it was given; with
    `parse_in_speaking_order` off its speaking-order reading (and that reading's repair) is not JSON."""
    prompt = str(body["messages"])
    reversed_order = prompt.index("A weak case") < prompt.index("A STRONG case")
    if not (reversed_order or parse_in_speaking_order):
        return "I cannot decide."
    strong, weak = ("B", "A") if reversed_order else ("A", "B")
    reply = json.loads(verdict_for(strong))
    reply["summary"] = f"Speaker {strong} made the strong case; Speaker {weak} did not answer it."
    reply["key_arguments"] = [f"Speaker {strong}'s opening"]
    for criterion in reply["scores"][strong].values():
        criterion["reasoning"] = f"Clearer than Speaker {weak}."
    return json.dumps(reply)


@pytest.mark.parametrize("parse_in_speaking_order", [False, True])
async def test_the_reversed_readings_words_name_the_seats_in_speaking_order(debate_on, openai_server,
                                                                           parse_in_speaking_order):
    openai_server.responder = lambda body: (explained(body, parse_in_speaking_order=parse_in_speaking_order)
                                            if is_judge(body) else seats_say(body))
    debate = await make_debate(debate_on, openai_server)

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    # Seat1 spoke first, as Speaker A, and made the strong case: in the reversed reading it was "Speaker B".
    assert verdict.summary == "Speaker A made the strong case; Speaker B did not answer it."
    assert verdict.key_arguments == ["Speaker A's opening"]
    seat1 = await verdict.scores.select_related("seat").aget(seat__display_name="Seat1")
    assert {criterion["reasoning"] for criterion in seat1.criteria} == {"Clearer than Speaker B."}


async def test_without_the_check_one_reading_decides(debate_on, openai_server):
    openai_server.responder = lambda body: verdict_for("A") if is_judge(body) else seats_say(body)
    debate = await make_debate(debate_on, openai_server, swap_check=False)

    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner").aget(debate_id=debate.pk)
    assert verdict.winner.display_name == "Seat1" and verdict.swap_held is None and verdict.swap_note == ""
    assert len([r for r in openai_server.requests if is_judge(r.body)]) == 1


async def make_debate(debate_on, server, **fields):
    return await database_sync_to_async(debate_on)(server, rounds=1, **fields)


async def test_labels_follow_speaking_order_whatever_the_stored_positions(model_on, openai_server):
    from debates.tests.factories import SeatFactory

    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else seats_say(body)

    def make():
        model = model_on("openai", openai_server)
        first = SeatFactory(model=model, position=3, stance="for", display_name="Ada", debate__judge_model=model,
                            debate__rounds=1)
        SeatFactory(model=model, debate=first.debate, position=7, stance="against", display_name="Bo")
        return first.debate

    debate = await database_sync_to_async(make)()
    await run(debate.pk)

    verdict = await Verdict.objects.select_related("winner", "debate").aget(debate_id=debate.pk)
    assert verdict.debate.status == "completed" and verdict.swap_held is True
    assert verdict.winner.display_name == "Ada"


def test_a_judge_whose_window_cannot_hold_a_round_and_its_verdict_is_refused(model_on, openai_server):
    from debates.services import DebateValidationError, SeatSpec, debate_create

    seat = model_on("openai", openai_server)
    small = model_on("openai", openai_server, display_name="Tiny judge", context_window=1500)
    seats = [SeatSpec(model_id=seat.pk, stance=stance, max_tokens=400) for stance in ("for", "against")]

    with pytest.raises(DebateValidationError) as refused:
        debate_create(topic="Ban cars", rounds=2, seats=seats, judge_model_id=small.pk)

    assert refused.value.errors["judge_model_id"][0].startswith(
        "Tiny judge's context window (1500 tokens) cannot hold a whole round at the seats' max tokens")
    debate_create(topic="Ban cars", rounds=2, judge_model_id=small.pk,  # shorter turns fit
                  seats=[SeatSpec(model_id=seat.pk, stance=stance, max_tokens=100) for stance in ("for", "against")])
