"""Legacy client on the official openai SDK, kept for rolling back from LiteLLM."""
from collections.abc import AsyncIterator

from providers.llm.base import BaseLLMClient, LLMResult, Message
from providers.llm.http import sdk_http_client
from providers.llm.errors import LLMError, LLMProviderError, map_sdk_error


class OpenAIClient(BaseLLMClient):
    backend = "legacy"

    def _sdk_client(self):
        import openai

        return openai.AsyncOpenAI(api_key=self.api_key, base_url=self.api_base, max_retries=0,
                                  timeout=self.settings.timeout,
                                  http_client=sdk_http_client(openai, self.settings.timeout))  # never redirected

    def _params(self, messages: list[Message], temperature, max_tokens, response_format=None) -> dict:
        params = {**self.extra_params, "model": self.model.split("/", 1)[-1], "messages": messages}
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if response_format is not None:
            params["response_format"] = response_format
        return params

    async def _complete(self, messages: list[Message], *, temperature=None, max_tokens=None,
                        response_format=None) -> LLMResult:
        async with self._sdk_client() as client:
            response = await client.chat.completions.create(
                **self._params(messages, temperature, max_tokens, response_format))
        choice = response.choices[0]
        return self._result(choice.message.content or "", response.model, response.usage, choice.finish_reason)

    async def _stream(self, messages: list[Message], *, temperature=None, max_tokens=None, response_format=None
                      ) -> AsyncIterator[str | LLMResult]:
        parts: list[str] = []
        usage = finish_reason = answered_by = None
        async with self._sdk_client() as client:
            stream = await client.chat.completions.create(
                **self._params(messages, temperature, max_tokens, response_format), stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                answered_by = chunk.model or answered_by
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    finish_reason = choice.finish_reason or finish_reason
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        yield choice.delta.content
        if finish_reason is None:
            raise LLMProviderError("the stream was cut before the model finished", model=self.model)
        yield self._result("".join(parts), answered_by, usage, finish_reason)

    def _result(self, text: str, answered_by: str | None, usage, finish_reason) -> LLMResult:
        return LLMResult(
            text=text, model=answered_by or self.model, provider=self.provider, backend=self.backend,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None), finish_reason=finish_reason,
        )

    def _map_error(self, exc: Exception) -> LLMError:
        import openai

        return map_sdk_error(exc, openai, model=self.model, secret=self.api_key)
