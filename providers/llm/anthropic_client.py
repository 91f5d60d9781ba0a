"""Legacy client on the official anthropic SDK, kept for rolling back from LiteLLM."""
from collections.abc import AsyncIterator

from providers.llm.base import BaseLLMClient, LLMResult, Message
from providers.llm.http import sdk_http_client
from providers.llm.errors import LLMError, map_sdk_error

DEFAULT_MAX_TOKENS = 1024  # Anthropic requires max_tokens on every call


class AnthropicClient(BaseLLMClient):
    backend = "legacy"

    def _sdk_client(self):
        import anthropic

        return anthropic.AsyncAnthropic(api_key=self.api_key, base_url=self.api_base, max_retries=0,
                                        timeout=self.settings.timeout,
                                        http_client=sdk_http_client(anthropic, self.settings.timeout))  # never redirected

    def _params(self, messages: list[Message], temperature, max_tokens) -> dict:
        # Anthropic takes the system prompt beside the conversation, not inside it.
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        params = {
            **self.extra_params,
            "model": self.model.split("/", 1)[-1],
            "messages": [m for m in messages if m["role"] != "system"],
            "max_tokens": max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            params["system"] = system
        if temperature is not None:
            # SDK 2.x dropped sampling arguments from its signature; the API still takes them.
            params["extra_body"] = {**params.get("extra_body", {}), "temperature": temperature}
        return params

    # The legacy Anthropic client is not bound to a schema (`response_format` is ignored): the prompt describes the
    # shape, and the judge validates every reply whatever the backend.
    async def _complete(self, messages: list[Message], *, temperature=None, max_tokens=None,
                        response_format=None) -> LLMResult:
        async with self._sdk_client() as client:
            message = await client.messages.create(**self._params(messages, temperature, max_tokens))
        return self._result(message)

    async def _stream(self, messages: list[Message], *, temperature=None, max_tokens=None, response_format=None
                      ) -> AsyncIterator[str | LLMResult]:
        async with self._sdk_client() as client:
            async with client.messages.stream(**self._params(messages, temperature, max_tokens)) as stream:
                async for text in stream.text_stream:
                    yield text
                message = await stream.get_final_message()
        yield self._result(message)

    def _result(self, message) -> LLMResult:
        text = "".join(block.text for block in message.content if block.type == "text")
        return LLMResult(
            text=text, model=message.model or self.model, provider=self.provider, backend=self.backend,
            prompt_tokens=message.usage.input_tokens, completion_tokens=message.usage.output_tokens,
            finish_reason=message.stop_reason,
        )

    def _map_error(self, exc: Exception) -> LLMError:
        import anthropic

        return map_sdk_error(exc, anthropic, model=self.model, secret=self.api_key)
