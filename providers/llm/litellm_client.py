"""The one gateway: every provider through litellm.acompletion."""
import asyncio
import gc
import os
import threading
from collections.abc import AsyncIterator
from types import ModuleType

from providers.llm.base import BaseLLMClient, LLMResult, Message
from providers.llm.http import OPENAI_SDK_ROUTES, litellm_client
from providers.llm.pricing import ZERO_PRICES, litellm_cannot_price, register_zero_prices
from providers.llm.errors import (
    LLMContextWindowError, LLMError, LLMProviderError, map_sdk_error, redact,
)

# Routes on which LiteLLM has read the provider's stream to the end of its HTTP body by the time it sends the
# token counts, so that closing the stream there keeps the connection (the openai SDK reads on past [DONE];
# providers/tests/test_gateway_calls.py). Not Anthropic's: closed there, the next call opened a new connection in
# a quarter to a third of loopback trials (3 of 40 when read to the end), and a TLS handshake costs more than this
# saves.
CLOSED_AT_TOKEN_COUNTS = OPENAI_SDK_ROUTES | {"ollama", "ollama_chat"}

_litellm: ModuleType | None = None
_loading = threading.Lock()  # two first calls at once (a judge's two readings) import it in two threads


def load_litellm() -> ModuleType:
    """Import LiteLLM on first use only: the import costs seconds that pages and commands never need."""
    global _litellm
    if _litellm is None:
        with _loading:  # a second thread must not see the module half imported
            if _litellm is None:
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch prices online
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch tokenizers online
                import litellm

                litellm.suppress_debug_info = True
                litellm.telemetry = False
                # Django, the app and LiteLLM are now some 490,000 objects that live as long as the process. A
                # full garbage collection scans them all, about 200 ms with every debate and socket of the
                # process stopped; frozen, later collections leave them be (bench/bench_concurrent.py).
                gc.freeze()
                _litellm = litellm
    return _litellm


class LiteLLMClient(BaseLLMClient):
    backend = "litellm"

    def __init__(self, *, zero_priced: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        # An Ollama row, free by definition: in LiteLLM's price map at 0, or LiteLLM's own price lookup asks a
        # server for the model. A free row of a cloud model must not be put there: the map is the process's,
        # and a paid row of the same model is priced by it. Its per-call prices (ZERO_PRICES) are enough.
        self.zero_priced = zero_priced

    async def _prepare(self) -> None:
        if _litellm is None:
            # The import takes seconds; in a thread it does not freeze every other socket of the server.
            await asyncio.to_thread(load_litellm)
        if self.zero_priced:
            register_zero_prices(_litellm, self.model)
        elif "input_cost_per_token" not in self.extra_params and litellm_cannot_price(self.model):
            # LiteLLM prices every call for its own logging, which this app never reads (pricing.call_cost
            # prices it: unpriced). For a name its map lacks, that walks its name generalizations twice a call,
            # about 1.5 ms of CPU of a streamed call's 18 here; prices of 0 given with the call end the walk.
            self.extra_params = {**ZERO_PRICES, **self.extra_params}

    def _params(self, messages: list[Message], temperature: float | None, max_tokens: int | None,
                response_format: dict | None = None) -> dict:
        params = {
            **self.extra_params,
            "model": self.model,
            "messages": messages,
            "api_base": self.api_base,
            "api_key": self.api_key,
            "timeout": self.settings.timeout,
            "stream_timeout": self.settings.first_chunk_timeout,
            # We decide about retries ourselves; silent SDK retries hid a failing provider for seconds.
            "max_retries": 0,
            "num_retries": 0,
            "drop_params": True,
            # Our own client where the route has one: no redirects, no refused address (providers/llm/http.py).
            "client": litellm_client(self.provider, api_base=self.api_base, api_key=self.api_key),
        }
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if response_format is not None:
            params["response_format"] = response_format  # LiteLLM puts it in each provider's own form
        return {key: value for key, value in params.items() if value is not None}

    async def _complete(self, messages: list[Message], *, temperature=None, max_tokens=None,
                        response_format=None) -> LLMResult:
        litellm = load_litellm()
        response = await litellm.acompletion(**self._params(messages, temperature, max_tokens, response_format))
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        return self._result(
            text=choice.message.content or "",
            model=getattr(response, "model", None),
            usage=usage,
            hidden=getattr(response, "_hidden_params", {}) or {},
            finish_reason=choice.finish_reason,
        )

    async def _stream(self, messages: list[Message], *, temperature=None, max_tokens=None, response_format=None
                      ) -> AsyncIterator[str | LLMResult]:
        litellm = load_litellm()
        params = self._params(messages, temperature, max_tokens, response_format)
        # Only with include_usage does the last chunk carry token counts.
        response = await litellm.acompletion(**params, stream=True, stream_options={"include_usage": True})
        parts: list[str] = []
        usage = finish_reason = answered_by = None
        async for chunk in response:
            answered_by = getattr(chunk, "model", None) or answered_by
            usage = getattr(chunk, "usage", None) or usage
            for choice in chunk.choices or []:
                finish_reason = choice.finish_reason or finish_reason
                delta = getattr(choice.delta, "content", None)
                if delta:
                    parts.append(delta)
                    yield delta
            if usage is not None and finish_reason is not None and self.provider in CLOSED_AT_TOKEN_COUNTS:
                # The reply is all here: LiteLLM sends its token counts last. Reading on would only start its
                # own success logging (a task that prices and logs the call for callbacks this app has none
                # of, about 3 ms of the event loop's CPU a streamed call here).
                await response.aclose()
                break
        if finish_reason is None:
            # LiteLLM ends some cut streams quietly; a reply without its end is not a reply.
            raise LLMProviderError("the stream was cut before the model finished", model=self.model)
        if not parts and usage is None:
            # An unreadable stream (frames LiteLLM could not parse) also ends "normally", with nothing in it; a
            # real reply, even an empty one, reports its token counts.
            raise LLMProviderError("the stream carried no readable answer", model=self.model)
        yield self._result(text="".join(parts), model=answered_by, usage=usage,
                           hidden=getattr(response, "_hidden_params", {}) or {}, finish_reason=finish_reason)

    def _result(self, *, text: str, model: str | None, usage, hidden: dict, finish_reason) -> LLMResult:
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        return LLMResult(
            text=text,
            model=model or self.model,
            provider=self.provider,
            backend=self.backend,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            litellm_overhead_ms=hidden.get("litellm_overhead_time_ms"),
            finish_reason=finish_reason,
        )

    def _map_error(self, exc: Exception) -> LLMError:
        import openai  # LiteLLM's exceptions subclass the openai SDK's

        litellm = load_litellm()
        if isinstance(exc, litellm.ContextWindowExceededError):
            return LLMContextWindowError(redact(str(exc), self.api_key), model=self.model, status_code=400)
        if isinstance(exc, openai.OpenAIError):
            return map_sdk_error(exc, openai, model=self.model, secret=self.api_key)
        return LLMProviderError(redact(f"{type(exc).__name__}: {exc}", self.api_key), model=self.model)

