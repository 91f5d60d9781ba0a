"""Outcomes from verdicts and votes: one per pair of seats of different models; the swap rule, unparsed verdicts
and same-model seats left out; a panel's combined verdict counted once, or one judge's own verdicts."""
import pytest

from debates.models import DebateStatus, JudgeVerdict, SeatScore, Verdict
from debates.tests.factories import DebateFactory, SeatFactory
from providers.tests.factories import LLMModelFactory
from ratings.models import Vote
from ratings.outcomes import Filters, Outcome, collect

pytestmark = pytest.mark.django_db


def finished_debate(models, *, winner=None, scores=None, parsed=True, swap_held=None, **fields):
    """A completed debate, a seat per model (in order), and its verdict naming seat `winner` (an index)."""
    debate = DebateFactory(**{"status": DebateStatus.COMPLETED, "judge_model": models[0], **fields})
    seats = [SeatFactory(debate=debate, model=model, position=i) for i, model in enumerate(models, start=1)]
    verdict = Verdict.objects.create(debate=debate, judge_model=debate.judge_model, parsed=parsed,
                                     winner=seats[winner] if winner is not None else None, swap_held=swap_held)
    scores = scores or [5] * len(seats)
    for seat, score in zip(seats, scores):
        SeatScore.objects.create(verdict=verdict, seat=seat, score=score)
    JudgeVerdict.objects.create(  # the lead judge's own verdict, as the runner keeps it
        verdict=verdict, position=1, judge_model=debate.judge_model, parsed=parsed, winner=verdict.winner,
        swap_held=swap_held, scores=[{"seat_id": seat.pk, "score": score} for seat, score in zip(seats, scores)])
    return debate, seats, verdict


@pytest.fixture
def trio():
    return [LLMModelFactory(display_name=name) for name in ("Alpha", "Beta", "Gamma")]


def test_the_winner_beats_every_other_seat_and_the_rest_go_by_score(trio):
    a, b, c = trio
    debate, _, _ = finished_debate(trio, winner=1, scores=[6, 8, 3])

    assert set(collect(Filters(source="judges"))) == {
        Outcome(a.pk, b.pk, 0.0, debate.pk, "judge"), Outcome(a.pk, c.pk, 1.0, debate.pk, "judge"),
        Outcome(b.pk, c.pk, 1.0, debate.pk, "judge")}


def test_a_verdict_without_a_winner_is_a_tie_for_every_pair(trio):
    # A seat-swap check that did not hold leaves no winner: no win counts, whatever the scores.
    finished_debate(trio[:2], winner=None, scores=[9, 2], swap_held=False)

    assert [o.result for o in collect(Filters())] == [0.5]


def test_unparsed_verdicts_unfinished_debates_and_same_model_seats_never_count(trio):
    a, b, _ = trio
    finished_debate([a, b], winner=0, parsed=False)
    finished_debate([a, b], winner=0, status=DebateStatus.FAILED)
    finished_debate([a, a], winner=0)

    assert collect(Filters()) == []


def test_a_panel_counts_once_and_one_judges_board_counts_its_own_verdicts(trio):
    a, b, judge = trio
    debate, seats, verdict = finished_debate([a, b], winner=0, scores=[7, 5])
    JudgeVerdict.objects.create(verdict=verdict, position=2, judge_model=judge, parsed=True, winner=seats[1],
                                scores=[{"seat_id": seats[0].pk, "score": 4}, {"seat_id": seats[1].pk, "score": 8}])

    assert collect(Filters(source="judges")) == [Outcome(a.pk, b.pk, 1.0, debate.pk, "judge")]
    assert collect(Filters(source="judges", judge_model_id=judge.pk)) == [Outcome(a.pk, b.pk, 0.0, debate.pk, "judge")]


def test_a_vote_for_a_seat_beats_the_others_and_a_tie_or_both_bad_ties_them(trio, django_user_model):
    a, b, c = trio
    debate, seats, _ = finished_debate(trio, winner=0)
    ada, bo = (django_user_model.objects.create_user(name) for name in ("ada", "bo"))
    Vote.objects.create(debate=debate, user=ada, choice="seat", seat=seats[2])
    Vote.objects.create(debate=debate, user=bo, choice="both_bad")

    humans = collect(Filters(source="humans"))

    assert sorted((o.model_a, o.model_b, o.result) for o in humans) == sorted([
        (c.pk, a.pk, 1.0), (c.pk, b.pk, 1.0), (a.pk, b.pk, 0.5), (a.pk, c.pk, 0.5), (b.pk, c.pk, 0.5)])
    assert len(collect(Filters())) == 3 + 5  # judges and people


def test_filters_by_tag_and_date(trio):
    from datetime import date, timedelta

    from django.utils import timezone

    tagged, _, _ = finished_debate(trio[:2], winner=0)
    tagged.tags.create(name="transport")
    old, _, _ = finished_debate(trio[:2], winner=1)
    type(old).objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))

    assert {o.debate_id for o in collect(Filters(tag="transport"))} == {tagged.pk}
    assert {o.debate_id for o in collect(Filters(since=date.today() - timedelta(days=1)))} == {tagged.pk}
    assert {o.debate_id for o in collect(Filters(until=date.today() - timedelta(days=7)))} == {old.pk}
