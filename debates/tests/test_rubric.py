"""The rubric: criteria rows an admin edits, copied into each debate when it starts; each seat is scored on every
criterion with its reasons, and its overall score is the weighted mean."""
from importlib import import_module

import pytest
from channels.db import database_sync_to_async

from debates.models import DEFAULT_RUBRIC, Criterion, Verdict
from debates.snapshot import debate_snapshot
from debates.tests.conftest import verdict_json
from debates.tests.test_orchestrator import is_judge, make, run
from debates.transcripts import as_markdown, as_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_rubric_yet(transactional_db):
    """Each test writes its own rubric: the seeded rows are there or not, as earlier tests left the database."""
    Criterion.objects.all().delete()


def judge_scoring(criteria_scores: dict[str, dict[str, float]]):
    """A judge that names Speaker A and gives these scores per label and criterion key."""

    def respond(body: dict) -> str:
        if is_judge(body):
            return verdict_json(winner="A", scores=criteria_scores)
        return "My case."

    return respond


async def test_each_seat_is_scored_per_criterion_and_overall_by_the_weighted_mean(debate_on, openai_server):
    await Criterion.objects.acreate(key="logic", name="Logic", description="Is the case sound?", weight=3)
    await Criterion.objects.acreate(key="style", name="Style", description="Is it well said?", weight=1)
    await Criterion.objects.acreate(key="charm", name="Charm", description="Unused", enabled=False)
    openai_server.responder = judge_scoring({"A": {"logic": 8, "style": 4}, "B": {"logic": 5, "style": 9}})
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    scores = [s async for s in verdict.scores.order_by("seat__position")]
    assert [s.score for s in scores] == [7.0, 6.0]  # (3*8 + 4) / 4 and (3*5 + 9) / 4
    assert scores[0].criteria == [{"key": "logic", "score": 8, "reasoning": "A on logic"},
                                  {"key": "style", "score": 4, "reasoning": "A on style"}]
    judge_request = next(r.body for r in openai_server.requests if is_judge(r.body))
    prompt = judge_request["messages"][0]["content"]
    assert "- logic (Logic): Is the case sound?" in prompt and "charm" not in prompt
    seat_schema = judge_request["response_format"]["json_schema"]["schema"]["$defs"]["SeatScores"]
    assert seat_schema["required"] == ["logic", "style"]
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert "| Seat | Score | Logic | Style |" in as_markdown(snapshot)
    assert "    Logic: 8/10. A on logic" in as_text(snapshot)


async def test_the_rubric_is_copied_at_start_and_later_edits_never_change_an_old_verdict(debate_on, openai_server):
    logic = await Criterion.objects.acreate(key="logic", name="Logic", description="Is the case sound?", weight=1)
    openai_server.responder = judge_scoring({"A": {"logic": 8}, "B": {"logic": 5}})
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)
    await run(debate.pk)

    logic.name, logic.weight, logic.enabled = "Rigour", 5, False
    await logic.asave()
    await Criterion.objects.acreate(key="wit", name="Wit", description="Is it funny?")

    copied = [(c.key, c.name, c.weight) async for c in debate.criteria.all()]
    assert copied == [("logic", "Logic", 1.0)]
    snapshot = await database_sync_to_async(debate_snapshot)(debate.pk)
    assert [c["name"] for c in snapshot["verdict"]["criteria"]] == ["Logic"]
    assert [s["score"] for s in snapshot["verdict"]["scores"]] == [8, 5]

    # A debate started now is scored on the rubric as it is now.
    openai_server.responder = judge_scoring({"A": {"wit": 6}, "B": {"wit": 7}})
    later = await make(debate_on, openai_server, rounds=1, swap_check=False)
    await run(later.pk)
    assert [c.key async for c in later.criteria.all()] == ["wit"]


async def test_a_resumed_debate_keeps_the_rubric_it_started_with(debate_on, openai_server):
    await Criterion.objects.acreate(key="logic", name="Logic", description="Is the case sound?")
    openai_server.responder = judge_scoring({"A": {"logic": 8}, "B": {"logic": 5}})
    debate = await make(debate_on, openai_server, rounds=1, swap_check=False)
    await database_sync_to_async(debate.copy_rubric)()  # as at its start
    await Criterion.objects.filter(key="logic").aupdate(enabled=False)

    await run(debate.pk)

    verdict = await Verdict.objects.aget(debate_id=debate.pk)
    assert verdict.parsed and [c.key async for c in debate.criteria.all()] == ["logic"]


def test_with_no_criterion_enabled_debates_are_scored_on_the_default_rubric(db):
    Criterion.objects.update(enabled=False)

    assert [c.key for c in Criterion.objects.rubric()] == [key for key, _, _ in DEFAULT_RUBRIC]


def test_the_migration_seeds_the_default_rubric_for_the_admin_to_edit(admin_client):
    from django.apps import apps

    migration = import_module("debates.migrations.0006_rubric_and_judge_panels")

    migration.seed_rubric_and_move_verdicts_to_judges(apps, None)

    assert [c.key for c in Criterion.objects.all()] == [key for key, _, _ in DEFAULT_RUBRIC]
    page = admin_client.get("/admin/debates/criterion/")
    assert page.status_code == 200
    for _, name, _ in DEFAULT_RUBRIC:
        assert name in page.content.decode()


def test_the_admin_refuses_a_key_the_judge_cannot_use(admin_client):
    page = admin_client.post("/admin/debates/criterion/add/", {
        "key": "Use of evidence!", "name": "Evidence", "description": "x", "weight": "1", "position": "0",
        "enabled": "on"})

    assert page.status_code == 200 and not Criterion.objects.filter(name="Evidence").exists()
    assert "Use lowercase letters, digits and underscores" in page.content.decode()
