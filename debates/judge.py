"""Asks the judge for a verdict bound to its schema, validates it, repairs once, else keeps it unparsed.

A verdict is never invented: output that stays invalid is saved as unparsed with the judge's raw text.
"""
import re
from dataclasses import dataclass, replace

from providers.llm import gateway
from providers.llm.base import Message
from providers.models import LLMModel

from debates import budget, verdict_schema
from debates.prompts import (
    CHARS_PER_TOKEN, CriterionView, SeatView, SpokenTurn, judge_messages, judge_repair_messages, speaker_label,
)
from debates.verdict_schema import InvalidVerdict


@dataclass
class CriterionScoreData:
    key: str
    score: float
    reasoning: str


@dataclass
class SeatScoreData:
    seat: int
    score: float  # the weighted mean of its criteria's scores
    criteria: list[CriterionScoreData]  # in the rubric's order


@dataclass
class ParsedVerdict:
    summary: str
    scores: list[SeatScoreData]  # in seat order
    winner: int | None  # a seat position; None: no seat wins (a seat-swap check that did not hold)
    key_arguments: list[str]


@dataclass
class JudgeOutcome:
    raw_text: str
    answer: gateway.Answer  # the last call's: which row answered it (the judge or a fallback), and why
    verdict: ParsedVerdict | None = None
    parse_error: str = ""
    repaired: bool = False
    cost_usd: float | None = None  # of every call the verdict took; None when one could not be priced
    swapped: bool = False  # read with the seats' order and labels reversed (positions are mapped back)


def seat_score(seat: int, criteria: list[CriterionScoreData], rubric: list[CriterionView]) -> SeatScoreData:
    """A seat's scores on each criterion and, as its overall score, their mean weighted by the rubric."""
    weights = {c.key: c.weight for c in rubric}
    total = sum(weights[c.key] for c in criteria)
    return SeatScoreData(seat=seat, score=sum(c.score * weights[c.key] for c in criteria) / total, criteria=criteria)


def parse_verdict(text: str, seats: list[SeatView], rubric: list[CriterionView]) -> ParsedVerdict:
    """The reply as a verdict on these seats (labels mapped back to seat positions), or InvalidVerdict."""
    labels = {verdict_schema.seat_label(seat.position): seat.position for seat in seats}
    reply = verdict_schema.parse(text, list(labels), [c.key for c in rubric])
    scores = []
    for label, position in labels.items():
        given = getattr(reply.scores, label)
        scores.append(seat_score(position, [CriterionScoreData(c.key, getattr(given, c.key).score,
                                                               getattr(given, c.key).reasoning) for c in rubric],
                                 rubric))
    return ParsedVerdict(summary=reply.summary, scores=scores, winner=labels[reply.winner],
                         key_arguments=[argument.strip() for argument in reply.key_arguments if argument.strip()])


def verdict_token_budget(seat_count: int, criteria_count: int) -> int:
    """Room for a summary, a few key arguments and a reasoned score per seat and criterion, and no more: a model
    that rambles instead of answering costs this much time at most, twice."""
    return 200 + 80 * seat_count * criteria_count


def window_problem(model: LLMModel, *, topic: str, seats: list[tuple[str, int]], rubric: list[CriterionView]) -> str:
    """Why `model` cannot judge seats of these (stance, max tokens): its window cannot hold one whole round of
    turns at their longest and the verdict after it. "" when it can; older rounds are trimmed as needed."""
    views = [SeatView(position=i, display_name="", stance=stance, system_prompt="") for i, (stance, _) in
             enumerate(seats, start=1)]
    newest = [SpokenTurn(round=1, position=view.position, speaker="", stance=view.stance,
                         text="x" * (CHARS_PER_TOKEN * max_tokens)) for view, (_, max_tokens) in zip(views, seats)]
    verdict = verdict_token_budget(len(seats), len(rubric))
    untrimmed = judge_messages(topic=topic, seats=views, rubric=rubric, transcript=newest, context_window=2**31,
                               max_tokens=verdict)
    needed = budget.prompt_tokens(untrimmed) + verdict
    if needed <= model.context_window:
        return ""
    return (f"{model.display_name}'s context window ({model.context_window} tokens) cannot hold a whole round at "
            f"the seats' max tokens and its verdict (about {needed} tokens): choose a judge with a larger window, "
            "or lower the seats' max tokens.")


@dataclass
class JudgeCall:
    """The verdict's request: its messages and call parameters, and the labels it names the seats by."""

    messages: list[Message]
    params: dict
    labels: list[str]
    criteria: list[str]

    @classmethod
    def build(cls, model: LLMModel, *, topic: str, seats: list[SeatView], rubric: list[CriterionView],
              transcript: list[SpokenTurn]) -> "JudgeCall":
        labels, criteria = [verdict_schema.seat_label(seat.position) for seat in seats], [c.key for c in rubric]
        max_tokens = verdict_token_budget(len(seats), len(rubric))
        messages = judge_messages(topic=topic, seats=seats, rubric=rubric, transcript=transcript,
                                  context_window=model.context_window, max_tokens=max_tokens)
        params = {"temperature": 0.0, "max_tokens": max_tokens}
        if model.uses_structured_output:
            params["response_format"] = verdict_schema.response_format(labels, criteria)
        return cls(messages=messages, params=params, labels=labels, criteria=criteria)

    def repair(self, reply: str, problem: str) -> list[Message]:
        return judge_repair_messages(self.messages, reply, problem, self.labels, self.criteria)


def call_sizes(model: LLMModel, *, topic: str, seats: list[SeatView], rubric: list[CriterionView],
               transcript: list[SpokenTurn]) -> list[tuple[int, int]]:
    """(prompt tokens, max tokens) of each call a verdict may take, for the budget: the request, and the repair
    request, whose prompt carries the first reply (at most max tokens long) as well."""
    call = JudgeCall.build(model, topic=topic, seats=seats, rubric=rubric, transcript=transcript)
    max_tokens = call.params["max_tokens"]
    repair = budget.prompt_tokens(call.repair("", "")) + max_tokens
    return [(budget.prompt_tokens(call.messages), max_tokens), (repair, max_tokens)]


async def ask_judge(model: LLMModel, *, topic: str, seats: list[SeatView], rubric: list[CriterionView],
                    transcript: list[SpokenTurn], swapped: bool = False,
                    spent: list[float | None] | None = None) -> JudgeOutcome:
    """One request, one repair request if needed; the gateway retries and falls back. LLMError propagates.
    `spent` gets the cost of each call as it is answered, so that a reading whose repair request then fails still
    counts the request it paid for.

    The request is identity-blind (seats are labels with stances) and, where the row supports it, bound to the
    verdict's JSON schema; every reply is validated all the same. `swapped` reads the transcript with the seats'
    order and labels reversed (the last seat is "Speaker A" and speaks first in each round); the outcome's seat
    positions are the real ones either way."""
    if swapped:
        outcome = await ask_judge(model, topic=topic, seats=_reversed(seats), rubric=rubric,
                                  transcript=_reversed_turns(transcript, len(seats)), spent=spent)
        outcome.swapped = True
        if outcome.verdict:
            outcome.verdict = _unswapped(outcome.verdict, len(seats))
        return outcome
    call = JudgeCall.build(model, topic=topic, seats=seats, rubric=rubric, transcript=transcript)
    spent = [] if spent is None else spent
    first = await gateway.answer(model, call.messages, **call.params)
    spent.append(first.result.cost_usd)
    try:
        return JudgeOutcome(raw_text=first.result.text, answer=first, cost_usd=first.result.cost_usd,
                            verdict=parse_verdict(first.result.text, seats, rubric))
    except InvalidVerdict as problem:
        first_problem = str(problem)
    second = await gateway.answer(model, call.repair(first.result.text, first_problem), **call.params)
    spent.append(second.result.cost_usd)
    costs = (first.result.cost_usd, second.result.cost_usd)
    outcome = JudgeOutcome(raw_text=second.result.text, answer=second,
                           cost_usd=None if None in costs else sum(costs))
    try:
        outcome.verdict, outcome.repaired = parse_verdict(second.result.text, seats, rubric), True
    except InvalidVerdict as problem:
        outcome.parse_error = str(problem)
    return outcome


# ---- the seat-swap check -------------------------------------------------------------------------
def _flip(position: int, count: int) -> int:
    return count + 1 - position


def _reversed(seats: list[SeatView]) -> list[SeatView]:
    return [replace(seat, position=_flip(seat.position, len(seats))) for seat in reversed(seats)]


def _reversed_turns(transcript: list[SpokenTurn], count: int) -> list[SpokenTurn]:
    flipped = [replace(turn, position=_flip(turn.position, count)) for turn in transcript]
    return sorted(flipped, key=lambda turn: (turn.round, turn.position))


def _unswapped(verdict: ParsedVerdict, count: int) -> ParsedVerdict:
    """The reversed reading's verdict in speaking order: its seats, and the labels its words use (there the last
    seat was "Speaker A"; a summary or a reason kept as written would name the wrong seat beside the right one)."""
    def back(text: str) -> str:
        return _relabelled(text, count)

    scores = sorted((replace(score, seat=_flip(score.seat, count), criteria=[
        replace(criterion, reasoning=back(criterion.reasoning)) for criterion in score.criteria])
        for score in verdict.scores), key=lambda s: s.seat)
    return replace(verdict, scores=scores, winner=_flip(verdict.winner, count), summary=back(verdict.summary),
                   key_arguments=[back(argument) for argument in verdict.key_arguments])


_LABEL = re.compile(r"\bSpeaker ([A-Z])\b")


def _relabelled(text: str, count: int) -> str:
    def speaking_order(match: re.Match) -> str:
        position = ord(match[1]) - ord("A") + 1
        return speaker_label(_flip(position, count)) if position <= count else match[0]

    return _LABEL.sub(speaking_order, text)


def mean_scores(verdicts: list[ParsedVerdict], rubric: list[CriterionView]) -> list[SeatScoreData]:
    """Per seat and criterion, the mean of these verdicts' scores (and their reasons, one per verdict); each
    seat's overall is the weighted mean of those means."""
    seats = []
    for per_seat in zip(*(verdict.scores for verdict in verdicts)):
        criteria = [CriterionScoreData(key=given[0].key, score=sum(c.score for c in given) / len(given),
                                       reasoning="\n".join(dict.fromkeys(c.reasoning for c in given)))
                    for given in zip(*(score.criteria for score in per_seat))]
        seats.append(seat_score(per_seat[0].seat, criteria, rubric))
    return seats


@dataclass
class Combined:
    verdict: ParsedVerdict | None
    held: bool | None  # None: not checked, or one reading could not be parsed
    note: str


def combine(first: JudgeOutcome, second: JudgeOutcome, names: dict[int, str],
            rubric: list[CriterionView]) -> Combined:
    """Both readings as one verdict: a seat wins only when both name it (else no seat wins, a tie); the scores are
    the mean of the readings that parsed. `names` are the seats' display names by position, for the note."""
    a, b = first.verdict, second.verdict
    if a and b:
        held = a.winner == b.winner
        if held:
            note = f"Seat-swap check held: the judge named {names[a.winner]} in both orders."
        else:
            note = (f"Seat-swap check did not hold: the judge named {names[a.winner]} in speaking order and "
                    f"{names[b.winner]} with the order reversed, so no seat wins (a tie).")
        return Combined(replace(a, scores=mean_scores([a, b], rubric), winner=a.winner if held else None), held,
                        note + " Scores are the mean of both readings.")
    parsed = a or b
    if parsed is None:
        return Combined(None, None, "")
    unread = "reversed" if a else "speaking-order"
    return Combined(replace(parsed, winner=None), None,
                    f"Seat-swap check could not be made: the {unread} reading could not be parsed, so no seat wins; "
                    "the scores are those of the reading that could.")
