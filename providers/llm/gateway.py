"""A model row's answer: the one place that retries and falls back, for every route and backend.

Callers ask for "this model's answer" and get one, with the row that gave it. Each row in the chain (the model,
then its fallbacks in order) is tried with tenacity: only errors whose `retryable` is true are retried, at most
`row.retries` times, after an exponential backoff with jitter or the provider's Retry-After (capped); tenacity
never sleeps after the last attempt. A failing call therefore costs at most 1 + retries requests per row. When a
row still fails, the next one answers with its own settings and key, and is priced at its own prices
(providers.llm.pricing). A stream that breaks midway is dropped whole and asked again (a `StreamReset` tells the
caller to discard what it showed), so a reply is always one model's complete answer, never a splice of two.
Before a row is asked, its api_base is checked (providers.llm.guard): a refused address is a non-retryable
LLMForbiddenAddressError for that row, and no request is made to it.
"""
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from providers.llm.base import LLMResult, Message
from providers.llm.errors import LLMError
from providers.llm.backend import pinned_backend
from providers.llm.factory import build_client
from providers.llm.guard import acheck_api_base
from providers.llm.pricing import call_cost
from providers.models import GatewaySetting, LLMModel

logger = logging.getLogger("providers.llm")
MAX_BACKOFF_SECONDS = 8.0


@dataclass
class Answer:
    result: LLMResult
    model: LLMModel  # the row that answered: the one asked for, or one of its fallbacks
    fallback_reason: str = ""  # why the rows before it did not answer; empty when the first one did


@dataclass(frozen=True)
class StreamReset:
    """What was streamed so far is void: the attempt broke, and another attempt (or model) streams next."""

    reason: str


async def answer(model: LLMModel, messages: list[Message], **params) -> Answer:
    failures: list[tuple[LLMModel, LLMError]] = []
    chain, backend, private_networks = await _plan(model)
    for row in chain:
        try:
            await acheck_api_base(row, private_networks=private_networks)
            async for attempt in _retrying(row):
                with attempt:
                    result = await build_client(row, backend).send_message(messages, **params)
            return _priced(Answer(result=result, model=row, fallback_reason=_why(failures)))
        except LLMError as error:
            failures.append((row, error))
    raise _exhausted(failures)


async def stream_answer(model: LLMModel, messages: list[Message], **params
                        ) -> AsyncIterator[str | StreamReset | Answer]:
    """Text deltas as they arrive, a StreamReset whenever an attempt that spoke is dropped, then one Answer."""
    failures: list[tuple[LLMModel, LLMError]] = []
    chain, backend, private_networks = await _plan(model)
    for row in chain:
        try:
            await acheck_api_base(row, private_networks=private_networks)
            async for attempt in _retrying(row):
                with attempt:
                    spoke = False
                    try:
                        async for item in build_client(row, backend).stream_message(messages, **params):
                            if isinstance(item, LLMResult):
                                yield _priced(Answer(result=item, model=row, fallback_reason=_why(failures)))
                                return
                            spoke = True
                            yield item
                    except LLMError as error:
                        if spoke:  # at once, before any backoff: watchers drop the broken text now
                            yield StreamReset(reason=f"{error.kind.replace('_', ' ')}: {error}")
                        raise
        except LLMError as error:
            failures.append((row, error))
    raise _exhausted(failures)


# ---- the pieces --------------------------------------------------------------------------------
def _priced(answer: Answer) -> Answer:
    """The answering row's prices, whichever backend called it."""
    result = answer.result
    result.cost_usd = call_cost(answer.model, result.prompt_tokens, result.completion_tokens)
    return answer


async def _plan(model: LLMModel) -> tuple[list[LLMModel], str, bool | None]:
    """Who is asked, in order, by which backend (ARENA_LLM_BACKEND, else the rollback flag), and whether private
    networks are allowed. A row fetched `with_answer_chain()`, as the orchestrator fetches each turn's, brings its
    chain and the flag as it stood when it was read, so a rollback applies from the next turn and the call reads
    nothing. For any other row the flag is read now, in one trip to the database thread with the chain (a trip
    costs more than all the rest of this layer). The private-networks setting comes from that same read of
    GatewaySetting; without one it stays None, and the address check reads it only for an address that needs it."""
    backend, private_networks = pinned_backend() or model.fetched_backend, settings.ALLOW_PRIVATE_NETWORKS_PIN
    if backend and model.has_answer_chain:
        return model.answer_chain(), backend, private_networks
    return await database_sync_to_async(_read_plan)(model, backend, private_networks)


def _read_plan(model: LLMModel, backend: str | None, private_networks: bool | None
               ) -> tuple[list[LLMModel], str, bool | None]:
    if backend is None:
        row = GatewaySetting.load()
        backend, private_networks = row.backend, row.private_networks_allowed
    return model.answer_chain(), backend, private_networks


def _retrying(row: LLMModel) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(1 + row.retries),
        retry=retry_if_exception(lambda error: isinstance(error, LLMError) and error.retryable),
        wait=_wait,
        before_sleep=_log_retry,
        reraise=True,  # the LLMError itself, not tenacity's RetryError
    )


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception()
    if error.retry_after is not None:
        return min(error.retry_after, settings.LLM_RETRY_AFTER_CAP_SECONDS)
    base = settings.LLM_RETRY_BACKOFF_SECONDS
    return wait_exponential_jitter(initial=base, max=MAX_BACKOFF_SECONDS, jitter=base)(state)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception()
    logger.info("llm_retry model=%s attempt=%d kind=%s wait=%.2fs", error.model, state.attempt_number, error.kind,
                state.upcoming_sleep)


def _why(failures: list[tuple[LLMModel, LLMError]]) -> str:
    return "; ".join(f"{row.litellm_model_name} failed ({error.kind.replace('_', ' ')}): {error.message}"
                     for row, error in failures)


def _exhausted(failures: list[tuple[LLMModel, LLMError]]) -> LLMError:
    """The last error, telling of every row that was asked when there was more than one."""
    last = failures[-1][1]
    if len(failures) == 1:
        return last
    error = type(last)(f"it and its fallbacks failed: {_why(failures)}", model=failures[0][0].litellm_model_name,
                       status_code=last.status_code, retry_after=last.retry_after)
    return error
