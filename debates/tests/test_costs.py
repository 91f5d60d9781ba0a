"""The cost ledger: every call priced from LiteLLM's price data (streamed ones too), free and local models at
exactly 0 without a network call, an unpriced model shown as unknown, and totals that are the sum of their calls."""
import json

import pytest
from channels.db import database_sync_to_async

from debates import services
from debates.models import Debate, Seat, Turn, Verdict
from debates.snapshot import debate_snapshot
from debates.tests.conftest import valid_verdict
from debates.tests.test_orchestrator import is_judge, make, run
from debates.transcripts import as_markdown, as_text
from providers.llm.litellm_client import load_litellm
from providers.models import PricingTier
from providers.tests.servers import FakeOllamaServer

pytestmark = pytest.mark.django_db(transaction=True)


def respond(body: dict) -> str:
    return valid_verdict(body) if is_judge(body) else "Priced words, every one of them."


async def test_a_priced_model_costs_what_litellms_prices_say_for_the_tokens_the_server_reported(debate_on,
                                                                                               openai_server):
    openai_server.responder = respond
    debate = await make(debate_on, openai_server, rounds=1)
    await database_sync_to_async(_rename_models)(debate, "gpt-4o")  # a name in LiteLLM's bundled price list

    events = await run(debate.pk)

    litellm = load_litellm()
    turns = [t async for t in Turn.objects.filter(debate_id=debate.pk)]
    for turn in turns:  # streamed calls: the usage came in the stream's last chunk
        expected = sum(litellm.cost_per_token(model="openai/gpt-4o", prompt_tokens=turn.prompt_tokens,
                                              completion_tokens=turn.completion_tokens))
        assert turn.cost_usd == pytest.approx(expected) and turn.cost_usd > 0
    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    debate = await Debate.objects.aget(pk=debate.pk)
    assert verdict.cost_usd > 0
    assert debate.spent_usd == pytest.approx(sum(t.cost_usd for t in turns) + verdict.cost_usd)
    assert debate.unpriced_calls == 0
    seats = {s.pk: s async for s in Seat.objects.filter(debate_id=debate.pk)}
    assert {pk: s.spent_usd for pk, s in seats.items()} == {t.seat_id: pytest.approx(t.cost_usd) for t in turns}
    completed = [e["payload"] for e in events if e["type"] == "turn.completed"]
    assert completed[-1]["spend"]["spent_usd"] == pytest.approx(sum(t.cost_usd for t in turns))  # live, per turn
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert f"Cost: ${debate.spent_usd:.4f} (Seat1 ${turns[0].cost_usd:.4f}; Seat2" in as_markdown(snapshot)


async def test_an_unpriced_model_is_unknown_never_free_and_flags_its_totals(debate_on, openai_server):
    openai_server.responder = respond
    debate = await make(debate_on, openai_server, rounds=1)  # "model-N": in no price list

    await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert [t.cost_usd async for t in Turn.objects.filter(debate_id=debate.pk)] == [None, None]
    assert (debate.spent_usd, debate.unpriced_calls) == (0.0, 3)  # two turns and the verdict
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert "Cost: unknown (3 calls could not be priced)" in as_text(snapshot)
    # LiteLLM is given prices of 0 for its own bookkeeping of such a name (the walk of its name variants costs
    # milliseconds a call); they stay between us and LiteLLM, never sent to the provider.
    assert len(openai_server.requests) == 4 and not any(
        "cost_per_token" in json.dumps(request.body) for request in openai_server.requests)


async def test_free_and_local_models_cost_exactly_zero_and_never_ask_ollamas_default_host(debate_on, ollama_server,
                                                                                         monkeypatch):
    ollama_server.responder = respond
    with FakeOllamaServer() as sentinel:  # where LiteLLM's cost code would post /api/show on its own
        monkeypatch.setenv("OLLAMA_API_BASE", sentinel.url)
        debate = await make(debate_on, ollama_server, rounds=1, route="ollama_chat")
        await database_sync_to_async(_rename_models)(debate, "llama3.1:8b", tier=PricingTier.STANDARD)

        await run(debate.pk)

        assert sentinel.requests == []
    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == "completed"
    assert [t.cost_usd async for t in Turn.objects.filter(debate_id=debate.pk)] == [0.0, 0.0]
    assert (debate.spent_usd, debate.unpriced_calls) == (0.0, 0)


def _rename_models(debate: Debate, name: str, tier: str | None = None) -> None:
    model = debate.judge_model
    model.model_name = name
    if tier:
        model.pricing_tier = tier
    model.save()


@pytest.mark.parametrize("name", ["gpt-4o", "in-no-price-list"])
async def test_a_free_row_leaves_the_price_of_a_paid_row_of_the_same_model_alone(debate_on, openai_server, name):
    # A free-tier account and a paid one of the same model: the free row's calls cost 0, and must not make the
    # paid row's calls cost 0 too (in LiteLLM's process-wide price map, say) or hide that its price is unknown.
    openai_server.responder = respond
    free = await make(debate_on, openai_server, rounds=1)
    await database_sync_to_async(_rename_models)(free, name, tier=PricingTier.FREE)
    await run(free.pk)
    paid = await make(debate_on, openai_server, rounds=1)
    await database_sync_to_async(_rename_models)(paid, name, tier=PricingTier.STANDARD)

    await run(paid.pk)

    assert [t.cost_usd async for t in Turn.objects.filter(debate_id=free.pk)] == [0.0, 0.0]
    costs = [t async for t in Turn.objects.filter(debate_id=paid.pk)]
    if name == "gpt-4o":
        litellm = load_litellm()
        assert [t.cost_usd for t in costs] == [pytest.approx(sum(litellm.cost_per_token(
            model="openai/gpt-4o", prompt_tokens=t.prompt_tokens, completion_tokens=t.completion_tokens)))
            for t in costs] and all(t.cost_usd > 0 for t in costs)
    else:
        assert [t.cost_usd for t in costs] == [None, None]
        assert (await Debate.objects.aget(pk=paid.pk)).unpriced_calls == 3


def _cost_of(request, reply: str) -> float:
    """What the fake server's answer to `request` cost at gpt-4o's prices (it counts words as tokens)."""
    from providers.tests.servers.base import count_words, text_of

    prompt = count_words(*(text_of(m.get("content")) for m in request.body["messages"]))
    return sum(load_litellm().cost_per_token(model="openai/gpt-4o", prompt_tokens=prompt,
                                             completion_tokens=count_words(reply)))


async def test_a_judge_call_paid_for_counts_though_no_verdict_came_of_it(debate_on, openai_server):
    # The judge's reply is no verdict, and the repair request is refused: the debate fails without a verdict, but
    # the first request was answered, and billed.
    prose = "Seat one won, I think, clearly and on every point."

    def respond(body: dict) -> str:
        if not is_judge(body):
            return "Priced words, every one of them."
        openai_server.enqueue_error(400, "the repair is refused")  # for the next request: the repair
        return prose

    openai_server.responder = respond
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)
    await database_sync_to_async(_rename_models)(debate, "gpt-4o")

    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    turns = [t.cost_usd async for t in Turn.objects.filter(debate_id=debate.pk)]
    judged = _cost_of(next(r for r in openai_server.requests if is_judge(r.body)), prose)
    assert debate.status == "failed" and not await Verdict.objects.filter(debate_id=debate.pk).aexists()
    assert debate.unjudged_usd == pytest.approx(judged) and judged > 0
    assert debate.spent_usd == pytest.approx(sum(turns) + judged) and debate.unpriced_calls == 0
    assert events[-1]["type"] == "debate.failed"
    assert events[-1]["payload"]["spend"]["spent_usd"] == pytest.approx(debate.spent_usd)  # shown live too

    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "More words."
    await database_sync_to_async(services.debate_mark_resumed)(debate_id=debate.pk)
    await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    assert debate.status == "completed"
    assert debate.spent_usd == pytest.approx(sum(turns) + judged + verdict.cost_usd)  # the failed try still counts


async def test_a_panel_judge_that_paid_for_a_reading_and_then_failed_is_billed_on_the_verdict(model_on,
                                                                                             openai_server):
    from debates.models import JudgeVerdict
    from debates.services import SeatSpec, debate_create
    from providers.tests.servers import FakeOpenAIServer

    prose = "Seat one won, I think."
    with FakeOpenAIServer() as flaky:
        def flaky_judge(body: dict) -> str:
            flaky.enqueue_error(400, "the repair is refused")
            return prose

        flaky.responder = flaky_judge
        openai_server.responder = respond

        def make_panel() -> Debate:
            priced = {"model_name": "gpt-4o", "pricing_tier": PricingTier.STANDARD}
            lead, other = model_on("openai", openai_server, **priced), model_on("openai", flaky, **priced)
            seats = [SeatSpec(model_id=lead.pk, stance=stance, display_name=name, max_tokens=100)
                     for stance, name in (("for", "Ada"), ("against", "Bo"))]
            return debate_create(topic="Cities should ban cars", rounds=1, seats=seats, judge_model_id=lead.pk,
                                 panel_model_ids=[other.pk], swap_check=False)

        debate = await database_sync_to_async(make_panel)()
        await run(debate.pk)

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    left_out = await JudgeVerdict.objects.aget(verdict=verdict, position=2)
    lead = await JudgeVerdict.objects.aget(verdict=verdict, position=1)
    paid = _cost_of(flaky.requests[0], prose)
    assert left_out.error and not left_out.parsed
    assert left_out.cost_usd == pytest.approx(paid) and paid > 0
    assert verdict.cost_usd == pytest.approx(lead.cost_usd + paid)
