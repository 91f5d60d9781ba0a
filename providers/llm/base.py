"""The client interface every backend implements, and the result every call returns."""
import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from providers.llm.errors import LLMError, LLMForbiddenAddressError, LLMProviderError, LLMTimeoutError
from providers.llm.http import refusal_behind

logger = logging.getLogger("providers.llm")

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass
class LLMResult:
    text: str
    model: str  # the model that answered, as the provider reported it
    provider: str
    backend: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int = 0
    litellm_overhead_ms: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None


@dataclass
class CallSettings:
    timeout: float  # the whole call
    first_chunk_timeout: float  # the wait for the first streamed chunk, and between chunks


class BaseLLMClient:
    backend = "base"

    def __init__(self, *, model: str, provider: str, api_base: str | None, api_key: str | None,
                 extra_params: dict | None, settings: CallSettings) -> None:
        self.model = model
        self.provider = provider
        self.api_base = api_base or None
        self.api_key = api_key
        self.extra_params = dict(extra_params or {})
        self.settings = settings

    # ---- what a backend implements --------------------------------------------------------
    async def _prepare(self) -> None:
        """One-time work before the first call (importing an SDK), kept out of the measured latency."""

    async def _complete(self, messages: list[Message], **params) -> LLMResult:
        raise NotImplementedError

    def _stream(self, messages: list[Message], **params) -> AsyncIterator[str | LLMResult]:
        raise NotImplementedError

    def _map_error(self, exc: Exception) -> LLMError:
        raise NotImplementedError

    # ---- the public interface -------------------------------------------------------------
    async def send_message(self, messages: list[Message], *, temperature: float | None = None,
                           max_tokens: int | None = None, response_format: dict | None = None) -> LLMResult:
        """One reply; `response_format` ({"type": "json_schema", ...}) binds it to a schema where the backend can."""
        await self._prepare()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.timeout):
                result = await self._complete(messages, temperature=temperature, max_tokens=max_tokens,
                                              response_format=response_format)
        except BaseException as exc:
            raise self._fail(exc, started) from None
        return self._succeed(result, started)

    async def stream_message(self, messages: list[Message], *, temperature: float | None = None,
                             max_tokens: int | None = None, response_format: dict | None = None
                             ) -> AsyncIterator[str | LLMResult]:
        """Yield text deltas as they arrive, then one LLMResult with the whole text."""
        await self._prepare()
        started = time.perf_counter()
        deadline = started + self.settings.timeout
        stream = self._stream(messages, temperature=temperature, max_tokens=max_tokens, response_format=response_format)
        try:
            while True:
                wait = min(self.settings.first_chunk_timeout, deadline - time.perf_counter())
                try:
                    # asyncio.timeout keeps the read in this task (wait_for would move it to another).
                    async with asyncio.timeout(max(wait, 0.001)):
                        item = await anext(stream)
                except StopAsyncIteration:
                    raise LLMProviderError("the stream ended without a result", model=self.model) from None
                if isinstance(item, LLMResult):
                    yield self._succeed(item, started)
                    return
                if item:
                    yield item
        except GeneratorExit:
            raise
        except BaseException as exc:
            raise self._fail(exc, started) from None
        finally:
            await stream.aclose()

    # ---- shared bookkeeping ---------------------------------------------------------------
    def _succeed(self, result: LLMResult, started: float) -> LLMResult:
        result.latency_ms = round((time.perf_counter() - started) * 1000)
        self._log(result.latency_ms, "ok", result)
        return result

    def _fail(self, exc: BaseException, started: float) -> BaseException:
        if isinstance(exc, asyncio.CancelledError):
            self._log(round((time.perf_counter() - started) * 1000), "cancelled")
            return exc
        if isinstance(exc, LLMError):
            error = exc
        elif isinstance(exc, asyncio.TimeoutError):
            error = LLMTimeoutError("no answer within the time limit", model=self.model)
        elif isinstance(exc, Exception) and (refused := refusal_behind(exc)) is not None:
            error = LLMForbiddenAddressError(str(refused), model=self.model)  # not retried: it would only be again
        elif isinstance(exc, Exception):
            error = self._map_error(exc)
        else:
            return exc
        error.model = error.model or self.model
        self._log(round((time.perf_counter() - started) * 1000), error.kind)
        return error

    def _log(self, latency_ms: int, outcome: str, result: LLMResult | None = None) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return  # the JSON (about 10 µs a call) only for a line that will be written
        line = {
            "event": "llm_call", "model": self.model, "backend": self.backend, "latency_ms": latency_ms,
            "litellm_overhead_ms": result.litellm_overhead_ms if result else None,
            "prompt_tokens": result.prompt_tokens if result else None,
            "completion_tokens": result.completion_tokens if result else None, "outcome": outcome,
        }
        logger.info(json.dumps(line))
