import json
import re

import pytest

from debates.services import SeatSpec, debate_create


@pytest.fixture
def launched(monkeypatch) -> list[int]:
    """The debates a test started, none of them run: `tasks.launch` records the id instead of starting a task
    (the test client's event loop ends with each request, and the task with it)."""
    ids: list[int] = []
    monkeypatch.setattr("debates.tasks.launch", ids.append)
    return ids


@pytest.fixture
def debate_on(model_on):
    """debate_on(server, rounds=2, stances=("for", "against"), route="openai") -> a draft debate on that server."""

    def make(server, *, rounds: int = 2, stances=("for", "against"), route: str = "openai", judge=None, **fields):
        seat_model = model_on(route, server)
        judge_model = judge or seat_model
        seats = [SeatSpec(model_id=seat_model.pk, stance=stance, display_name=f"Seat{i}", temperature=0.0,
                          max_tokens=100) for i, stance in enumerate(stances, start=1)]
        return debate_create(topic="Cities should ban cars from their centres", rounds=rounds, seats=seats,
                             judge_model_id=judge_model.pk, **fields)

    return make


def followed_text(deltas: list[dict], text: str = "") -> str | None:
    """What a watcher shows after applying `deltas` (turn.delta payloads) to `text`: each appends the part past
    what it has (a delta may repeat text); None at a gap (one starting past its text: the watcher must resync)."""
    for delta in deltas:
        if delta["offset"] > len(text):
            return None
        text += delta["text"][len(text) - delta["offset"]:]
    return text


def numbered(events: list[dict]) -> list[int]:
    """The seqs of the numbered events (every event but turn.delta, which carries the last numbered one's)."""
    return [event["seq"] for event in events if event["type"] != "turn.delta"]


DEFAULT_CRITERIA = ("argument_strength", "use_of_evidence", "responsiveness")  # the seeded rubric's keys


def verdict_json(*, winner: str = "A", scores: dict[str, float | dict[str, float]] | None = None,
                 criteria=DEFAULT_CRITERIA, summary: str = "A close debate.") -> str:
    """A reply in the verdict's shape: `scores` per label, one number for every criterion or one per criterion."""
    scores = scores if scores is not None else {"A": 7.5, "B": 6}
    body = {}
    for label, given in scores.items():
        per = given if isinstance(given, dict) else {key: given for key in criteria}
        body[label] = {key: {"reasoning": f"{label} on {key}", "score": score} for key, score in per.items()}
    return json.dumps({"summary": summary, "scores": body, "winner": winner, "key_arguments": ["congestion costs"]})


VALID_VERDICT = verdict_json()


def valid_verdict(body: dict) -> str:
    """VALID_VERDICT for whichever label the judge's prompt gives the seat arguing "for": a consistent judge, whose
    winner holds under the seat-swap check (a judge that always names Speaker A would give a tie)."""
    found = re.search(r"Speaker ([A-F]): arguing for\b", str(body.get("messages", "")))
    if found is None or found.group(1) == "A":
        return VALID_VERDICT
    return verdict_json(winner="B", scores={"A": 6, "B": 7.5})


def is_preflight(body: dict) -> bool:
    """The one-token call that checks a model can answer before a debate starts (providers.preflight)."""
    from providers.preflight import PROMPT

    return body.get("messages") == PROMPT


def scripted_responder(verdict: str = VALID_VERDICT):
    """Seats answer with a line naming who they are and what they saw; the judge with `verdict`."""

    def respond(body: dict) -> str:
        text = str(body)
        if "impartial debate judge" in text:
            return valid_verdict(body) if verdict == VALID_VERDICT else verdict
        return "I argue my case with conviction and evidence."

    return respond
