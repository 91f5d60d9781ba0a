"""Early stop: after a round, the judge model answers one short structured question, whether the seats have come
to agree; when they have, the debate ends there (and is judged as usual). A reply that cannot be read counts as
"not converged": the debate carries on rather than stop on a guess.
"""
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from providers.llm import gateway
from providers.llm.base import Message
from providers.models import LLMModel

from debates.prompts import SeatView, SpokenTurn, convergence_messages
from debates.verdict_schema import InvalidVerdict, load_json

MAX_TOKENS = 120


class ConvergenceReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="One sentence: where the speakers now stand.")
    converged: bool = Field(description="True when the speakers now agree on the motion.")


@dataclass
class Convergence:
    converged: bool
    reason: str
    cost_usd: float | None
    readable: bool


def messages_for(model: LLMModel, *, topic: str, seats: list[SeatView],
                 transcript: list[SpokenTurn]) -> list[Message]:
    return convergence_messages(topic=topic, seats=seats, transcript=transcript,
                                context_window=model.context_window, max_tokens=MAX_TOKENS)


async def ask(model: LLMModel, *, topic: str, seats: list[SeatView], transcript: list[SpokenTurn]) -> Convergence:
    """One call (the gateway retries and falls back; an LLMError propagates)."""
    messages = messages_for(model, topic=topic, seats=seats, transcript=transcript)
    params = {"temperature": 0.0, "max_tokens": MAX_TOKENS}
    if model.uses_structured_output:
        params["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "debate_convergence", "schema": ConvergenceReply.model_json_schema(), "strict": True}}
    answer = await gateway.answer(model, messages, **params)
    try:
        reply = ConvergenceReply.model_validate(load_json(answer.result.text))
    except (InvalidVerdict, ValidationError):
        return Convergence(converged=False, reason="", cost_usd=answer.result.cost_usd, readable=False)
    return Convergence(converged=reply.converged, reason=reply.reason.strip(), cost_usd=answer.result.cost_usd,
                       readable=True)
