"""Budgets: a debate never starts a call whose worst case could take it past its budget; it stops as failed,
"budget reached", spends nothing more, and resumes with a higher budget. A budget that cannot be kept (a model
LiteLLM cannot price) is refused before anything is created or started."""
import pytest
from channels.db import database_sync_to_async

from debates import services
from debates.models import Debate, DebateStatus, Turn, TurnStatus, Verdict
from debates.snapshot import debate_snapshot
from debates.tests.conftest import numbered, valid_verdict
from debates.tests.test_orchestrator import is_judge, run
from debates.transcripts import as_markdown
from providers.models import ModelFallback, PricingTier

pytestmark = pytest.mark.django_db(transaction=True)
PRICED = "gpt-4o"  # in LiteLLM's bundled price list: $2.50 per million prompt tokens, $10 per million completion
LONG_ANSWER = " ".join(["word"] * 100)  # the fake servers count words as tokens: a whole max_tokens of 100


@pytest.fixture
def priced_debate(model_on, openai_server):
    """priced_debate(budget, rounds=2) -> a draft debate whose two seats and judge are a priced model."""

    def make(budget: float | None, rounds: int = 2):
        model = model_on("openai", openai_server, model_name=PRICED, pricing_tier=PricingTier.STANDARD)
        seats = [services.SeatSpec(model_id=model.pk, stance=stance, display_name=f"Seat{i}", temperature=0.0,
                                   max_tokens=100) for i, stance in enumerate(("for", "against"), start=1)]
        return services.debate_create(topic="Cities should ban cars from their centres", rounds=rounds,
                                      seats=seats, judge_model_id=model.pk, budget_usd=budget)

    return make


async def resume_with(debate: Debate, budget: float | None) -> list[dict]:
    await database_sync_to_async(services.debate_set_budget)(debate_id=debate.pk, budget_usd=budget)
    await database_sync_to_async(services.debate_mark_resumed)(debate_id=debate.pk)
    return await run(debate.pk)


async def test_it_stops_at_the_turn_that_would_pass_the_budget_and_resumes_with_a_raised_one(priced_debate,
                                                                                             openai_server):
    # The first turn's worst case is about $0.0012 (some 60 prompt tokens and 100 completion tokens) and it really
    # uses its 100 tokens, so the second one's worst case (its prompt holds the first turn) no longer fits in $0.0016.
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else LONG_ANSWER
    debate = await database_sync_to_async(priced_debate)(0.0016)

    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert len(openai_server.requests) == 1  # nothing spent past the first turn
    assert debate.status == DebateStatus.FAILED and debate.can_resume
    assert debate.failure_reason.startswith("Budget reached: $0.0012 of the $0.0016 budget is spent, and Seat2's "
                                            "turn in round 1 could cost up to $")
    assert "Raise the budget and resume" in debate.failure_reason
    kinds = [e["type"] for e in events if e["type"] != "turn.delta"]
    assert kinds == ["debate.started", "round.started", "turn.started", "turn.completed",
                     "debate.failed"]  # the stopped turn never started: nothing to cut
    assert [t.status async for t in Turn.objects.filter(debate_id=debate.pk)] == [TurnStatus.COMPLETED]
    spent = debate.spent_usd
    assert 0 < spent <= 0.0016
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert snapshot["debate"]["budget_usd"] == 0.0016
    assert f"Cost: ${spent:.4f} of a $0.0016 budget (Seat1" in as_markdown(snapshot)

    events = await resume_with(debate, 1.0)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == DebateStatus.COMPLETED and debate.budget_usd == 1.0
    assert len(openai_server.requests) == 6  # three more turns and the verdict's two readings: the first turn kept
    turns = [(t.round, t.seat.position) async for t in Turn.objects.filter(debate_id=debate.pk).select_related("seat")]
    assert turns == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert debate.spent_usd > spent
    seqs = numbered(events)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_it_stops_before_the_verdict_that_would_pass_the_budget(priced_debate, openai_server):
    # Short turns cost little; the verdict's worst case (a request and a repair, 680 tokens each) does not fit.
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "Short."
    debate = await database_sync_to_async(priced_debate)(0.005, rounds=1)

    events = await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert len(openai_server.requests) == 2 and not any(is_judge(r.body) for r in openai_server.requests)
    assert debate.status == DebateStatus.FAILED
    assert "and the verdict could cost up to $" in debate.failure_reason
    assert "judging.started" not in [e["type"] for e in events]

    await resume_with(debate, 0.025)  # enough for one reading of the verdict, not for the seat-swap check's two

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == DebateStatus.COMPLETED
    assert len(openai_server.requests) == 3  # only the verdict was left to do, in one reading
    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    assert verdict.swap_note == "Seat-swap check skipped: the budget could not pay for a second reading."


async def test_a_debate_without_a_budget_is_never_stopped_by_one(priced_debate, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else LONG_ANSWER
    debate = await database_sync_to_async(priced_debate)(None, rounds=1)

    await run(debate.pk)

    assert (await Debate.objects.aget(pk=debate.pk)).status == DebateStatus.COMPLETED


def test_a_budget_with_a_model_that_cannot_be_priced_is_refused_at_creation(model_on, openai_server):
    unpriced = model_on("openai", openai_server)  # "model-N": in no price list
    seats = [services.SeatSpec(model_id=unpriced.pk, stance=stance) for stance in ("for", "against")]

    with pytest.raises(services.DebateValidationError) as refused:
        services.debate_create(topic="Motion", rounds=1, seats=seats, judge_model_id=unpriced.pk, budget_usd=1.0)

    assert f"openai/{unpriced.model_name} cannot be priced" in refused.value.errors["budget_usd"][0]
    assert not Debate.objects.exists()
    # Without a budget the same debate is fine: its cost is simply shown as unknown.
    services.debate_create(topic="Motion", rounds=1, seats=seats, judge_model_id=unpriced.pk)


def test_an_unpriced_fallback_counts_too_and_free_models_are_always_priced(model_on, openai_server):
    priced = model_on("openai", openai_server, model_name=PRICED)
    free = model_on("openai", openai_server, pricing_tier=PricingTier.FREE)
    seats = [services.SeatSpec(model_id=model.pk, stance="for") for model in (priced, free)]
    services.debate_create(topic="Motion", rounds=1, seats=seats, judge_model_id=free.pk, budget_usd=1.0)

    ModelFallback.objects.create(model=priced, fallback=model_on("openai", openai_server), position=1)

    with pytest.raises(services.DebateValidationError) as refused:
        services.debate_create(topic="Motion", rounds=1, seats=seats, judge_model_id=free.pk, budget_usd=1.0)
    assert "cannot be priced" in refused.value.errors["budget_usd"][0]


@pytest.mark.parametrize("budget", [-1.0, float("inf"), float("nan"), 2e6])
def test_a_budget_out_of_range_is_refused(priced_debate, budget):
    with pytest.raises(services.DebateValidationError) as refused:
        priced_debate(budget)
    assert refused.value.errors["budget_usd"] == ["Enter a budget from 0 to 1,000,000 USD, or none."]


async def test_a_model_that_lost_its_price_refuses_the_start_and_spends_nothing(priced_debate, openai_server):
    debate = await database_sync_to_async(priced_debate)(1.0)
    seat_model = (await Debate.objects.select_related("judge_model").aget(pk=debate.pk)).judge_model
    seat_model.model_name = "no-such-priced-model"
    await seat_model.asave()

    with pytest.raises(services.DebateValidationError) as refused:
        await services.debate_preflight(debate_id=debate.pk)

    assert "cannot be priced" in refused.value.errors["budget_usd"][0]
    assert openai_server.requests == []  # refused before even the pre-flight's one-token calls


def test_a_running_debates_budget_cannot_change(priced_debate):
    debate = priced_debate(1.0)
    services.debate_mark_started(debate_id=debate.pk)

    with pytest.raises(services.DebateStateError):
        services.debate_set_budget(debate_id=debate.pk, budget_usd=2.0)
    assert Debate.objects.get(pk=debate.pk).budget_usd == 1.0


async def test_every_judge_of_a_panel_counts_towards_the_verdicts_worst_case(priced_debate, model_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if is_judge(body) else "Short."

    def with_panel(budget: float):
        debate = priced_debate(budget, rounds=1)
        second = model_on("openai", openai_server, model_name=PRICED, pricing_tier=PricingTier.STANDARD)
        debate.panel.create(position=2, model=second)
        return debate

    # $0.025 pays for one judge's verdict read once (as the single-judge test above shows), not for two judges'.
    debate = await database_sync_to_async(with_panel)(0.025)
    await run(debate.pk)

    debate = await Debate.objects.aget(pk=debate.pk)
    assert debate.status == DebateStatus.FAILED and "the verdict could cost up to $" in debate.failure_reason
    assert not any(is_judge(r.body) for r in openai_server.requests)

    await resume_with(debate, 0.05)  # two judges, one reading each

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    assert verdict.parsed and verdict.swap_note == "" and verdict.agreement == 1
    assert len([r for r in openai_server.requests if is_judge(r.body)]) == 2
    assert [j.swap_note async for j in verdict.judges.all()] == [
        "Seat-swap check skipped: the budget could not pay for a second reading."] * 2
