"""The verdict a judge must give: one pydantic model per set of seats, which is both the JSON schema sent to the
provider (`response_format`) and the validator of the reply.

The schema is built so that any reply matching it is a complete verdict: `scores` has one required property per
seat label ("A", "B", ...) and no other, each with one required property per criterion of the debate's rubric and no
other, so no seat or criterion can be scored twice or left out; `winner` is one of the labels. Servers that compile the schema to a grammar fail open on some templates and grammars, so every reply is
validated all the same; the validation message is what the one repair request tells the judge.
"""
import json
import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

SCHEMA_NAME = "debate_verdict"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def seat_label(position: int) -> str:
    """The neutral name a seat goes by in the judge's prompt: position 1 is "A"."""
    return chr(ord("A") + position - 1)


class InvalidVerdict(ValueError):
    """The judge's reply is not a verdict; the message says why, for the repair request."""


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


# Checked here rather than as `min_length`: OpenAI's strict mode refuses a schema with keywords it does not support,
# and minLength is one of them (as is any keyword beside a $ref, hence no descriptions on the nested objects).
Said = Annotated[str, AfterValidator(_not_blank)]


def _not_a_boolean(value: object) -> object:
    # Pydantic reads true as 1 and false as 0 where a number is asked for: a score the judge never gave.
    if isinstance(value, bool):
        raise ValueError("must be a number from 0 to 10, not true or false")
    return value


Score = Annotated[float, BeforeValidator(_not_a_boolean)]


class CriterionScoreReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Reasoning before the score: a model that writes its reasons first scores by them.
    reasoning: Said = Field(description="Why this speaker earned this score on this criterion.")
    score: Score = Field(ge=0, le=10, description="From 0 (no case at all) to 10 (outstanding).")


@lru_cache(maxsize=256)
def verdict_model(labels: tuple[str, ...], criteria: tuple[str, ...]) -> type[BaseModel]:
    """The verdict on seats with these labels, scored by criteria with these keys (both in order)."""
    seat = create_model("SeatScores", __config__=ConfigDict(extra="forbid"),
                        **{key: (CriterionScoreReply, ...) for key in criteria})
    scores = create_model("Scores", __config__=ConfigDict(extra="forbid"), **{label: (seat, ...) for label in labels})
    return create_model(
        "Verdict", __config__=ConfigDict(extra="forbid"),
        summary=(Said, Field(description="Two or three sentences on how the debate went.")),
        scores=(scores, ...),
        winner=(Literal[tuple(labels)], Field(description="The label of the strongest speaker.")),
        key_arguments=(list[str], Field(description="The arguments that decided it.")),
    )


def response_format(labels: list[str], criteria: list[str]) -> dict:
    """What the judge call asks for: a reply bound to the verdict's JSON schema (OpenAI's shape, which LiteLLM
    turns into Anthropic's structured output and Ollama's `format`, and llama.cpp's server into a grammar)."""
    return {"type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": json.loads(_schema_json(tuple(labels), tuple(criteria))),
                            "strict": True}}


@lru_cache(maxsize=256)
def _schema_json(labels: tuple[str, ...], criteria: tuple[str, ...]) -> str:
    """Made once per set of seats and criteria (pydantic takes a millisecond or two each time, and every verdict
    asks twice), kept as text so that each call gets a schema of its own to change (LiteLLM adapts it per route)."""
    return json.dumps(verdict_model(labels, criteria).model_json_schema())


def parse(text: str, labels: list[str], criteria: list[str]) -> BaseModel:
    """The reply as a verdict, or InvalidVerdict saying what is wrong with it."""
    try:
        return verdict_model(tuple(labels), tuple(criteria)).model_validate(load_json(text))
    except ValidationError as error:
        raise InvalidVerdict(_problems(error)) from None


def load_json(text: str) -> object:
    """The JSON object in a reply, or InvalidVerdict."""
    fenced = _FENCE.search(text)  # some models wrap JSON in a code fence, or add a sentence around it
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise InvalidVerdict("the reply holds no JSON object")
    try:
        return json.loads(candidate[start:end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidVerdict(f"the JSON does not parse ({exc.msg} at character {exc.pos})") from None


def _problems(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "the reply"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems[:6])
