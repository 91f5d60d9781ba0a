"""The cost ledger: every call priced from LiteLLM's price data (streamed ones too), free and local models at
exactly 0 without a network call, an unpriced model shown as unknown, and totals that are the sum of their calls."""
import pytest
from channels.db import database_sync_to_async

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
