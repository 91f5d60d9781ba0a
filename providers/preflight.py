"""Before a debate spends anything: can each of its models answer? Its key variable is set, and its server
answers one tiny real call (the model, else the first of its fallbacks that does). Models are checked at once,
in parallel; an answer is remembered for a minute, so starting several debates does not ask again."""
import asyncio
import time
from dataclasses import dataclass

from channels.db import database_sync_to_async

from providers.connection_test import PROMPT  # the same tiny call an admin's Test connection makes
from providers.llm.base import CallSettings
from providers.llm.errors import LLMError
from providers.llm.factory import aclient_for
from providers.models import LLMModel

TIMEOUT_SECONDS = 15.0  # a person waits for the start; a debate turn may take minutes
REMEMBER_SECONDS = 60.0
_answered: dict[tuple, float] = {}  # a row's call settings -> when it last answered


@dataclass(frozen=True)
class Readiness:
    model: LLMModel
    problem: str = ""  # empty when it can answer

    @property
    def ok(self) -> bool:
        return not self.problem


async def check_models(models: list[LLMModel]) -> dict[int, Readiness]:
    """Readiness per model id, for each distinct model, checked in parallel."""
    distinct = list({model.pk: model for model in models}.values())
    results = await asyncio.gather(*(_check(model) for model in distinct))
    return {result.model.pk: result for result in results}


async def _check(model: LLMModel) -> Readiness:
    problems = []
    for row in await database_sync_to_async(model.answer_chain)():
        problem = await _problem(row)
        if not problem:
            return Readiness(model)
        problems.append(problem if row == model else f"its fallback {row.litellm_model_name}: {problem}")
    return Readiness(model, "; ".join(problems))


async def _problem(row: LLMModel) -> str:
    name = row.effective_key_env_var
    if name and row.read_api_key() is None:
        return f"the environment variable {name} that should hold its API key is not set"
    try:
        # Before the memory: an address refused since the row last answered (the setting turned off, a name that
        # resolves elsewhere now) is refused at once, not a minute later in the middle of the debate.
        client = await aclient_for(row)
        key = _fingerprint(row)
        if time.monotonic() - _answered.get(key, -REMEMBER_SECONDS) < REMEMBER_SECONDS:
            return ""
        client.settings = CallSettings(timeout=TIMEOUT_SECONDS, first_chunk_timeout=TIMEOUT_SECONDS)
        await client.send_message(PROMPT, max_tokens=1)
    except LLMError as error:
        return f"{error.kind.replace('_', ' ')}: {error.message}"
    _answered[key] = time.monotonic()
    return ""


def _fingerprint(row: LLMModel) -> tuple:
    """What a call to the row depends on: an edit to any of it means asking again."""
    return (row.pk, row.litellm_model_name, row.effective_api_base, row.effective_key_env_var, hash(row.read_api_key()),
            row.enabled)


def forget() -> None:
    """Drop what was remembered (tests, and an admin's Test connection that found a model down)."""
    _answered.clear()
