"""What each seat and the judge see. Pure functions of plain data, so they are easy to test.

Every seat prompt reads as a transcript that ends where the seat's words begin ("Ada (for), round 2:"):
chat models follow it as an instruction, and small local base models, which only continue text, give
their most sensible output when the prompt is a transcript to continue.
"""
from dataclasses import dataclass

from providers.llm.base import Message

CHARS_PER_TOKEN = 4  # a deliberately cautious estimate: no tokenizer download, no model-specific code
OMITTED_NOTE = "[{count} earlier turn(s) omitted to fit the model's context window]"


@dataclass(frozen=True)
class SeatView:
    position: int
    display_name: str
    stance: str
    system_prompt: str


@dataclass(frozen=True)
class SpokenTurn:
    round: int
    speaker: str
    stance: str
    text: str

    def render(self) -> str:
        return f"{self.speaker} ({self.stance}), round {self.round}: {self.text.strip()}"


def seat_system_prompt(*, display_name: str, stance: str, persona_prompt: str = "") -> str:
    parts = [f"You are {display_name}, a debater arguing {stance} the motion in a formal, multi-round debate."]
    if persona_prompt:
        parts.append(persona_prompt)
    parts.append("Answer the other speakers' points directly, stay on the motion, and speak only for yourself "
                 "in at most about 150 words.")
    return " ".join(parts)


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def seat_messages(*, topic: str, seat: SeatView, round_number: int, rounds: int,
                  transcript: list[SpokenTurn], context_window: int, max_tokens: int) -> list[Message]:
    """The seat's prompt, kept within its model's context window.

    The topic, the stance and the newest turns always stay; the oldest turns go first, replaced by a
    note saying how many were left out.
    """
    system = seat.system_prompt
    head = f"Motion: {topic}\nThis is round {round_number} of {rounds}.\n\nTranscript so far:\n"
    cue = f"\n\n{seat.display_name} ({seat.stance}), round {round_number}:"
    budget = context_window - max_tokens - estimate_tokens(system + head + cue) - 16
    kept = _newest_that_fit([turn.render() for turn in transcript], budget)
    omitted = len(transcript) - len(kept)
    body = ([OMITTED_NOTE.format(count=omitted)] if omitted else []) + kept
    transcript_text = "\n\n".join(body) if body else "(no one has spoken yet; you open the debate)"
    return [{"role": "system", "content": system}, {"role": "user", "content": head + transcript_text + cue}]


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


JUDGE_SCHEMA_TEXT = """{
  "summary": "two or three sentences on how the debate went",
  "scores": [{"seat": <seat number>, "score": <number from 0 to 10>, "reasoning": "why"}],
  "winner": <seat number of the strongest debater>,
  "key_arguments": ["the arguments that decided it"]
}"""


def judge_messages(*, topic: str, seats: list[SeatView], transcript: list[SpokenTurn]) -> list[Message]:
    roster = "\n".join(f"Seat {s.position}: {s.display_name}, arguing {s.stance}" for s in seats)
    system = ("You are an impartial debate judge. Score every seat from 0 to 10 on the strength, evidence and "
              "responsiveness of its arguments. Reply with JSON only, no prose and no code fence, in exactly "
              f"this shape, with one score for every seat:\n{JUDGE_SCHEMA_TEXT}")
    spoken = "\n\n".join(turn.render() for turn in transcript)
    user = f"Motion: {topic}\n\nSeats:\n{roster}\n\nTranscript:\n{spoken}\n\nYour verdict as JSON:"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def judge_repair_messages(original: list[Message], reply: str, problem: str) -> list[Message]:
    return [*original, {"role": "assistant", "content": reply},
            {"role": "user", "content": f"That reply is not valid: {problem}. Reply again with only the corrected "
                                        f"JSON in the required shape:\n{JUDGE_SCHEMA_TEXT}"}]
