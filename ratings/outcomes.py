"""Outcomes: what verdicts and votes say about pairs of models, the input of the ratings.

A parsed verdict gives one outcome per pair of seats with different models: the winner beats every other seat; a
pair without the winner goes by their scores; with no winner (a tie, or a seat-swap check that did not hold, so
no win counts) every pair is a tie. Unparsed verdicts and seats of the same model never count. A vote for a seat
makes it beat each other seat; a tie or "both bad" makes every pair a tie. A panel's verdict counts once (the
combined one), unless the board is for one judge model, which counts that judge's own verdicts.
"""
from dataclasses import dataclass
from datetime import date
from itertools import combinations

from debates.models import Debate, DebateStatus, JudgeVerdict, Seat, SeatScore, Verdict
from ratings.models import Vote, VoteChoice

SOURCES = ("both", "judges", "humans")


@dataclass(frozen=True)
class Filters:
    source: str = "both"
    judge_model_id: int | None = None
    tag: str = ""
    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict:
        return {"source": self.source, "judge_model_id": self.judge_model_id, "tag": self.tag,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}

    def key(self) -> str:
        return (f"source={self.source}&judge={self.judge_model_id or ''}&tag={self.tag}"
                f"&since={self.since or ''}&until={self.until or ''}")

    def debates(self):
        """The finished debates these filters cover."""
        debates = Debate.objects.filter(status=DebateStatus.COMPLETED)
        if self.tag:
            debates = debates.filter(tags__name=self.tag)
        if self.since:
            debates = debates.filter(created_at__date__gte=self.since)
        if self.until:
            debates = debates.filter(created_at__date__lte=self.until)
        return debates


@dataclass(frozen=True)
class Outcome:
    model_a: int
    model_b: int
    result: float  # for model_a: 1 a win, 0 a loss, 0.5 a tie
    debate_id: int
    source: str  # "judge" or "human"


def collect(filters: Filters) -> list[Outcome]:
    debates = filters.debates()
    seats = _seats_by_debate(debates)
    outcomes: list[Outcome] = []
    if filters.source in ("both", "judges"):
        for debate_id, winner, scores in _verdicts(debates, filters.judge_model_id):
            outcomes += _pairs(debate_id, seats.get(debate_id, {}), winner, scores, "judge")
    if filters.source in ("both", "humans"):
        for vote in Vote.objects.filter(debate__in=debates).values("debate_id", "choice", "seat_id"):
            outcomes += _vote_pairs(vote, seats.get(vote["debate_id"], {}))
    return outcomes


def _seats_by_debate(debates) -> dict[int, dict[int, int]]:
    """{debate id: {seat id: model id}}"""
    seats: dict[int, dict[int, int]] = {}
    for debate_id, seat_id, model_id in Seat.objects.filter(debate__in=debates).values_list(
            "debate_id", "pk", "model_id"):
        seats.setdefault(debate_id, {})[seat_id] = model_id
    return seats


def _verdicts(debates, judge_model_id: int | None):
    """(debate id, winning seat id or None, {seat id: score}) of each parsed verdict."""
    if judge_model_id is not None:
        rows = JudgeVerdict.objects.filter(verdict__debate__in=debates, judge_model_id=judge_model_id, parsed=True)
        for debate_id, winner, scores in rows.values_list("verdict__debate_id", "winner_id", "scores"):
            yield debate_id, winner, {score["seat_id"]: score["score"] for score in scores}
        return
    verdicts = Verdict.objects.filter(debate__in=debates, parsed=True)
    scores: dict[int, dict[int, float]] = {}
    for verdict_id, seat_id, score in SeatScore.objects.filter(verdict__in=verdicts).values_list(
            "verdict_id", "seat_id", "score"):
        scores.setdefault(verdict_id, {})[seat_id] = score
    for verdict_id, debate_id, winner in verdicts.values_list("pk", "debate_id", "winner_id"):
        yield debate_id, winner, scores.get(verdict_id, {})


def _pairs(debate_id: int, seats: dict[int, int], winner: int | None, scores: dict[int, float],
           source: str) -> list[Outcome]:
    outcomes = []
    for a, b in combinations(sorted(seats), 2):
        if seats[a] == seats[b]:
            continue  # a model against itself says nothing about it
        outcomes.append(Outcome(seats[a], seats[b], _result(a, b, winner, scores), debate_id, source))
    return outcomes


def _result(a: int, b: int, winner: int | None, scores: dict[int, float]) -> float:
    if winner is None:
        return 0.5
    if winner in (a, b):
        return 1.0 if winner == a else 0.0
    score_a, score_b = scores.get(a), scores.get(b)
    if score_a is None or score_b is None or score_a == score_b:
        return 0.5
    return 1.0 if score_a > score_b else 0.0


def _vote_pairs(vote: dict, seats: dict[int, int]) -> list[Outcome]:
    debate_id = vote["debate_id"]
    if vote["choice"] != VoteChoice.SEAT:  # a tie or "both bad": every pair is even
        return [Outcome(seats[a], seats[b], 0.5, debate_id, "human")
                for a, b in combinations(sorted(seats), 2) if seats[a] != seats[b]]
    better = vote["seat_id"]
    return [Outcome(seats[better], seats[other], 1.0, debate_id, "human")
            for other in sorted(seats) if other != better and seats[other] != seats.get(better)]
