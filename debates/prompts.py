"""What each seat and the judge see. Pure functions of plain data, so they are easy to test.

Every seat prompt reads as a transcript that ends where the seat's words begin ("Ada (for), round 2:"):
chat models follow it as an instruction, and small local base models, which only continue text, give
their most sensible output when the prompt is a transcript to continue.
"""
from dataclasses import dataclass

from providers.llm.base import Message

from debates.verdict_schema import seat_label

CHARS_PER_TOKEN = 4  # a deliberately cautious estimate: no tokenizer download, no model-specific code
OMITTED_NOTE = "[{count} earlier turn(s) omitted to fit the model's context window]"


def speaker_label(position: int) -> str:
    """How a seat is named where identities are hidden: "Speaker A" for the first seat."""
    return f"Speaker {seat_label(position)}"


@dataclass(frozen=True)
class SeatView:
    position: int  # 1, 2, 3... in speaking order: what its label (A, B, C...) is made from
    display_name: str
    stance: str
    system_prompt: str

    def name(self, *, blind: bool) -> str:
        return speaker_label(self.position) if blind else self.display_name


@dataclass(frozen=True)
class CriterionView:
    """A line of the debate's rubric: the judge scores each seat on it; `weight` is its share of the overall."""

    key: str
    name: str
    description: str
    weight: float = 1.0


@dataclass(frozen=True)
class SpokenTurn:
    round: int
    position: int
    speaker: str
    stance: str
    text: str
    phase: str = ""  # the format's phase ("Rebuttal"), where the format has several

    def render(self, *, blind: bool = False) -> str:
        """The turn as a line of the transcript; `blind` names the speaker by its label only."""
        who = speaker_label(self.position) if blind else self.speaker
        phase = f" ({self.phase.lower()})" if self.phase else ""
        return f"{who} ({self.stance}), round {self.round}{phase}: {self.text.strip()}"


@dataclass(frozen=True)
class PhaseView:
    """What the format asks of this round's turns."""

    name: str = ""
    instructions: str = ""
    word_limit: int | None = None

    def brief(self) -> str:
        parts = [f"Phase: {self.name}." if self.name else "", self.instructions,
                 f"Keep this turn to about {self.word_limit} words." if self.word_limit else ""]
        return " ".join(part for part in parts if part)


def seat_system_prompt(*, display_name: str, stance: str, persona_prompt: str = "") -> str:
    parts = [f"You are {display_name}, a debater arguing {stance} the motion in a formal, multi-round debate."]
    if persona_prompt:
        parts.append(persona_prompt)
    parts.append("Answer the other speakers' points directly, stay on the motion, and speak only for yourself "
                 "in at most about 150 words.")
    return " ".join(parts)


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def seat_messages(*, topic: str, seat: SeatView, round_number: int, rounds: int, transcript: list[SpokenTurn],
                  context_window: int, max_tokens: int, blind: bool = False,
                  phase: PhaseView = PhaseView()) -> list[Message]:
    """The seat's prompt, kept within its model's context window; `blind` names every seat by its label only.

    The topic, the stance and the newest turns always stay; the oldest turns go first, replaced by a
    note saying how many were left out.
    """
    system = seat.system_prompt
    brief = f"\n{phase.brief()}" if phase.brief() else ""
    head = f"Motion: {topic}\nThis is round {round_number} of {rounds}.{brief}\n\nTranscript so far:\n"
    cue = f"\n\n{seat.name(blind=blind)} ({seat.stance}), round {round_number}:"
    budget = context_window - max_tokens - estimate_tokens(system + head + cue) - 16
    body = _fitted([turn.render(blind=blind) for turn in transcript], budget)
    transcript_text = "\n\n".join(body) if body else "(no one has spoken yet; you open the debate)"
    return [{"role": "system", "content": system}, {"role": "user", "content": head + transcript_text + cue}]


def _fitted(rendered: list[str], budget: int) -> list[str]:
    """The newest turns that fit `budget` tokens, after a note counting the ones left out."""
    kept = _newest_that_fit(rendered, budget)
    omitted = len(rendered) - len(kept)
    return ([OMITTED_NOTE.format(count=omitted)] if omitted else []) + kept


def _newest_that_fit(rendered: list[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = estimate_tokens(OMITTED_NOTE)
    for text in reversed(rendered):
        cost = estimate_tokens(text) + 1
        if used + cost > budget:
            break
        kept.insert(0, text)
        used += cost
    return kept


def judge_shape(labels: list[str], criteria: list[str]) -> str:
    """The verdict's shape in words, for the prompt (the call itself is bound to the schema where it can be)."""
    per_seat = ", ".join(f'"{key}": {{"reasoning": "why", "score": <0 to 10>}}' for key in criteria)
    scores = ", ".join(f'"{label}": {{{per_seat}}}' for label in labels)
    return (f'{{"summary": "two or three sentences on how the debate went", "scores": {{{scores}}}, '
            f'"winner": "<the label of the strongest speaker: {" or ".join(labels)}>", '
            f'"key_arguments": ["the arguments that decided it"]}}')


def judge_messages(*, topic: str, seats: list[SeatView], rubric: list[CriterionView], transcript: list[SpokenTurn],
                   context_window: int, max_tokens: int) -> list[Message]:
    """The judge's prompt: identity-blind (seats are "Speaker A", "Speaker B", ... with their stances, never a
    name, a model or a persona), scored on the rubric's criteria, and kept within its window like a seat's, the
    oldest turns going first."""
    labels = [seat_label(seat.position) for seat in seats]
    roster = "\n".join(f"{speaker_label(seat.position)}: arguing {seat.stance}" for seat in seats)
    criteria = "\n".join(f"- {c.key} ({c.name}): {c.description}" for c in rubric)
    system = ("You are an impartial debate judge. Score every speaker from 0 to 10 on each of these criteria:\n"
              f"{criteria}\nJudge the arguments alone, not who you think the speakers are. Reply with JSON only, "
              "no prose and no code fence, in exactly this shape, with a score on every criterion for every "
              f"speaker:\n{judge_shape(labels, [c.key for c in rubric])}")
    head = f"Motion: {topic}\n\nSpeakers:\n{roster}\n\nTranscript:\n"
    cue = "\n\nYour verdict as JSON:"
    budget = context_window - max_tokens - estimate_tokens(system + head + cue) - 16
    spoken = "\n\n".join(_fitted([turn.render(blind=True) for turn in transcript], budget))
    return [{"role": "system", "content": system}, {"role": "user", "content": head + spoken + cue}]


def convergence_messages(*, topic: str, seats: list[SeatView], transcript: list[SpokenTurn], context_window: int,
                         max_tokens: int) -> list[Message]:
    """The early-stop question, identity-blind like the judge's prompt: have the speakers come to agree?"""
    roster = "\n".join(f"{speaker_label(seat.position)}: arguing {seat.stance}" for seat in seats)
    system = ("You watch a debate for consensus. Say whether the speakers now agree on the motion, so that more "
              "rounds would add nothing. Reply with JSON only, in exactly this shape: "
              '{"reason": "one sentence on where the speakers stand", "converged": true or false}')
    head = f"Motion: {topic}\n\nSpeakers:\n{roster}\n\nTranscript:\n"
    cue = "\n\nYour answer as JSON:"
    budget = context_window - max_tokens - estimate_tokens(system + head + cue) - 16
    spoken = "\n\n".join(_fitted([turn.render(blind=True) for turn in transcript], budget))
    return [{"role": "system", "content": system}, {"role": "user", "content": head + spoken + cue}]


def judge_repair_messages(original: list[Message], reply: str, problem: str, labels: list[str],
                          criteria: list[str]) -> list[Message]:
    return [*original, {"role": "assistant", "content": reply},
            {"role": "user", "content": f"That reply is not valid: {problem}. Reply again with only the corrected "
                                        f"JSON in the required shape:\n{judge_shape(labels, criteria)}"}]
