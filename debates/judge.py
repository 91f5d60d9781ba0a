"""Asks the judge for a verdict, validates it against a schema, repairs once, else keeps it unparsed.

A verdict is never invented: output that stays invalid is saved as unparsed with the judge's raw text.
"""
import json
import re
from dataclasses import dataclass

from providers.llm import gateway
from providers.models import LLMModel

from debates import budget
from debates.prompts import SeatView, SpokenTurn, judge_messages, judge_repair_messages


class InvalidVerdict(ValueError):
    """The judge's reply does not match the schema; the message says how, for the repair request."""


@dataclass
class SeatScoreData:
    seat: int
    score: float
    reasoning: str


@dataclass
class ParsedVerdict:
    summary: str
    scores: list[SeatScoreData]
    winner: int
    key_arguments: list[str]


@dataclass
class JudgeOutcome:
    raw_text: str
    answer: gateway.Answer  # the last call's: which row answered it (the judge or a fallback), and why
    verdict: ParsedVerdict | None = None
    parse_error: str = ""
    repaired: bool = False
    cost_usd: float | None = None  # of every call the verdict took; None when one could not be priced


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_verdict(text: str, seat_positions: list[int]) -> ParsedVerdict:
    data = _load_json(text)
    if not isinstance(data, dict):
        raise InvalidVerdict("the reply must be one JSON object")
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidVerdict('"summary" must be a non-empty string')
    scores = _scores(data.get("scores"), seat_positions)
    winner = data.get("winner")
    if isinstance(winner, bool) or not isinstance(winner, int) or winner not in seat_positions:
        raise InvalidVerdict(f'"winner" must be one of the seat numbers {seat_positions}')
    arguments = data.get("key_arguments", [])
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        raise InvalidVerdict('"key_arguments" must be a list of strings')
    return ParsedVerdict(summary=summary.strip(), scores=scores, winner=winner, key_arguments=arguments)


def _load_json(text: str) -> object:
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise InvalidVerdict("the reply holds no JSON object")
    try:
        return json.loads(candidate[start:end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidVerdict(f"the JSON does not parse ({exc.msg} at character {exc.pos})") from None


def _scores(raw: object, seat_positions: list[int]) -> list[SeatScoreData]:
    if not isinstance(raw, list):
        raise InvalidVerdict('"scores" must be a list with one entry per seat')
    scores: dict[int, SeatScoreData] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidVerdict('each entry of "scores" must be an object')
        seat, score = entry.get("seat"), entry.get("score")
        if isinstance(seat, bool) or not isinstance(seat, int) or seat not in seat_positions:
            raise InvalidVerdict(f'each score needs "seat", one of {seat_positions}')
        if seat in scores:
            raise InvalidVerdict(f"seat {seat} is scored twice")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 10:
            raise InvalidVerdict(f"the score of seat {seat} must be a number from 0 to 10")
        reasoning = entry.get("reasoning", "")
        scores[seat] = SeatScoreData(seat=seat, score=float(score), reasoning=str(reasoning))
    missing = [p for p in seat_positions if p not in scores]
    if missing:
        raise InvalidVerdict(f"seat(s) {missing} have no score")
    return [scores[p] for p in seat_positions]


def verdict_token_budget(seat_count: int) -> int:
    """Room for a summary, a few key arguments and a reasoned score per seat, and no more: a model that
    rambles instead of answering costs this much time at most, twice."""
    return 200 + 100 * seat_count


def call_sizes(*, topic: str, seats: list[SeatView], transcript: list[SpokenTurn]) -> list[tuple[int, int]]:
    """(prompt tokens, max tokens) of each call a verdict may take, for the budget: the request, and the repair
    request, whose prompt carries the first reply (at most max tokens long) as well."""
    messages = judge_messages(topic=topic, seats=seats, transcript=transcript)
    max_tokens = verdict_token_budget(len(seats))
    repair = budget.prompt_tokens(judge_repair_messages(messages, "", "")) + max_tokens
    return [(budget.prompt_tokens(messages), max_tokens), (repair, max_tokens)]


async def ask_judge(model: LLMModel, *, topic: str, seats: list[SeatView],
                    transcript: list[SpokenTurn]) -> JudgeOutcome:
    """One request, one repair request if needed; the gateway retries and falls back. LLMError propagates."""
    positions = [seat.position for seat in seats]
    messages = judge_messages(topic=topic, seats=seats, transcript=transcript)
    max_tokens = verdict_token_budget(len(seats))
    first = await gateway.answer(model, messages, temperature=0.0, max_tokens=max_tokens)
    try:
        return JudgeOutcome(raw_text=first.result.text, answer=first, cost_usd=first.result.cost_usd,
                            verdict=parse_verdict(first.result.text, positions))
    except InvalidVerdict as problem:
        first_problem = str(problem)
    second = await gateway.answer(model, judge_repair_messages(messages, first.result.text, first_problem),
                                  temperature=0.0, max_tokens=max_tokens)
    costs = (first.result.cost_usd, second.result.cost_usd)
    outcome = JudgeOutcome(raw_text=second.result.text, answer=second,
                           cost_usd=None if None in costs else sum(costs))
    try:
        outcome.verdict, outcome.repaired = parse_verdict(second.result.text, positions), True
    except InvalidVerdict as problem:
        outcome.parse_error = str(problem)
    return outcome
