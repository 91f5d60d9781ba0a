"""A panel of judges: each judges alone (with its own seat-swap check), all at once, and the verdict combines them.

The combined verdict takes, per seat and criterion, the mean of the scores of the judges whose verdict could be
read, and the winner a majority of those judges named; with no majority no seat wins (a tie). A judge whose calls
fail after its retries and fallbacks is left out and named; only when every judge fails does the verdict fail.
"""
import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace

from providers.llm.errors import LLMError
from providers.models import LLMModel

from debates import judge
from debates.judge import Combined, JudgeOutcome, ParsedVerdict
from debates.prompts import CriterionView, SeatView, SpokenTurn


@dataclass
class JudgeResult:
    """One judge's part: its readings and their combination, or the error that left it without a verdict."""

    model: LLMModel
    outcomes: list[JudgeOutcome] = field(default_factory=list)
    combined: Combined | None = None
    error: LLMError | None = None
    # What each answered call of this judge cost (None: unpriced), those of a reading that failed or was stopped
    # included: paid for, whether or not a verdict came of it.
    spent: list[float | None] = field(default_factory=list)

    @property
    def verdict(self) -> ParsedVerdict | None:
        return self.combined.verdict if self.combined else None

    @property
    def cost_usd(self) -> float | None:
        return None if None in self.spent else sum(self.spent)


async def judge_alone(model: LLMModel, *, swap: bool, skipped: str, names: dict[int, str], topic: str,
                      seats: list[SeatView], rubric: list[CriterionView], transcript: list[SpokenTurn]) -> JudgeResult:
    """This judge's verdict: one reading, or two at once for the seat-swap check (the first failure stops the
    other). An LLMError is kept on the result, so the rest of the panel carries on."""
    failure: list[LLMError] = []
    spent: list[float | None] = []
    try:
        async with asyncio.TaskGroup() as group:
            readings = [group.create_task(judge.ask_judge(model, topic=topic, seats=seats, rubric=rubric,
                                                          transcript=transcript, swapped=swapped, spent=spent))
                        for swapped in ((False, True) if swap else (False,))]
    except* LLMError as failed:
        failure.extend(failed.exceptions)
    if failure:
        return JudgeResult(model=model, error=failure[0], spent=spent)
    outcomes = [reading.result() for reading in readings]
    if swap:
        combined = judge.combine(outcomes[0], outcomes[1], names, rubric)
    else:
        combined = Combined(verdict=outcomes[0].verdict, held=None, note=skipped)
    return JudgeResult(model=model, outcomes=outcomes, combined=combined, spent=spent)


@dataclass
class PanelVerdict:
    verdict: ParsedVerdict | None
    held: bool | None  # every readable judge's seat-swap check held (None: none could be checked)
    agreement: float | None  # on a panel: the share of readable judges whose result is the panel's
    note: str


def combine_panel(results: list[JudgeResult], names: dict[int, str], rubric: list[CriterionView]) -> PanelVerdict:
    """The panel's verdict from each judge's; a single judge's verdict is its own."""
    if len(results) == 1:
        only = results[0]
        return PanelVerdict(only.verdict, only.combined.held if only.combined else None, None, "")
    read = [result for result in results if result.verdict]
    if not read:
        return PanelVerdict(None, None, None, "No judge on the panel gave a verdict that could be read.")
    votes = Counter(result.verdict.winner for result in read)  # None: that judge's verdict is a tie
    leader, count = votes.most_common(1)[0]
    winner = leader if leader is not None and 2 * count > len(read) else None
    agreeing = [result for result in read if result.verdict.winner == winner]
    # The panel's summary and key arguments are those of the first judge who reached the panel's result.
    spokesman = (agreeing or read)[0].verdict
    checks = [result.combined.held for result in read if result.combined.held is not None]
    return PanelVerdict(
        verdict=replace(spokesman, winner=winner, scores=judge.mean_scores([r.verdict for r in read], rubric)),
        held=all(checks) if checks else None, agreement=len(agreeing) / len(read),
        note=_note(results, read, winner, names))


def _note(results: list[JudgeResult], read: list[JudgeResult], winner: int | None, names: dict[int, str]) -> str:
    def named(result: JudgeResult) -> str:
        return names[result.verdict.winner] if result.verdict.winner is not None else "a tie"

    said = "; ".join(f"{result.model.display_name} named {named(result)}" for result in read)
    outcome = (f"{names[winner]} wins by majority" if winner is not None
               else "No seat has a majority, so no seat wins (a tie)")
    note = f"Panel of {len(results)} judges: {said}. {outcome}; scores are the mean of {len(read)} verdict(s)."
    left_out = [r for r in results if not r.verdict]
    if left_out:
        reasons = "; ".join(f"{r.model.display_name}: {_why_not(r)}" for r in left_out)
        note += f" Left out: {reasons}."
    return note


def _why_not(result: JudgeResult) -> str:
    if result.error is not None:
        return f"its calls failed ({result.error.kind.replace('_', ' ')}: {result.error})"
    return "its verdict could not be parsed"
