"""Fake OpenAI Chat Completions server (``/v1/chat/completions``, ``/v1/models``)."""

from __future__ import annotations

from typing import Any

from .base import FakeLLMServer, Handler, RecordedRequest, Reply, count_words, sse, text_of

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_DEFAULT_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
_DEFAULT_MESSAGES = {
    401: "Incorrect API key provided.",
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request.",
}
CONTEXT_LENGTH_MESSAGE = (
    "This model's maximum context length is 8192 tokens. "
    "However, your messages resulted in 9000 tokens."
)
MODELS = ["gpt-4o", "gpt-4o-mini"]


class FakeOpenAIServer(FakeLLMServer):
    protocol = "OpenAI"

    def route(self, handler: Handler, request: RecordedRequest) -> None:
        path = request.path.removeprefix("/v1")
        if request.method == "POST" and path == "/chat/completions":
            body = request.body if isinstance(request.body, dict) else {}
            self.serve_completion(handler, request, stream=bool(body.get("stream")))
        elif request.method == "GET" and path == "/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "system"} for m in MODELS]
            handler.send_json(200, {"object": "list", "data": data})
        else:
            self.send_error(handler, 404, f"Unknown path {request.method} {request.path}")

    def error_body(
        self, status: int, message: str | None, code: str | None, error_type: str | None
    ) -> dict[str, Any]:
        if code == "context_length_exceeded" and message is None:
            message = CONTEXT_LENGTH_MESSAGE
        return {
            "error": {
                "message": message or _DEFAULT_MESSAGES.get(status, f"Error {status}"),
                "type": error_type
                or _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                "param": None,
                "code": code or _DEFAULT_CODES.get(status),
            }
        }

    @staticmethod
    def _usage(reply: Reply) -> dict[str, int]:
        messages = reply.body.get("messages") or []
        prompt = count_words(*(text_of(m.get("content")) for m in messages if isinstance(m, dict)))
        completion = count_words(reply.text)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _envelope(self, reply: Reply, obj: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{reply.id}",
            "object": obj,
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": None,
            **fields,
        }

    def completion_body(self, reply: Reply) -> dict[str, Any]:
        message = {"role": "assistant", "content": reply.text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return self._envelope(reply, "chat.completion", choices=[choice], usage=self._usage(reply))

    def _chunk(self, reply: Reply, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra = {"usage": None} if self._include_usage(reply) else {}
        return sse(self._envelope(reply, "chat.completion.chunk", choices=[choice], **extra))

    @staticmethod
    def _include_usage(reply: Reply) -> bool:
        options = reply.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    def stream_head(self, reply: Reply) -> list[bytes]:
        return [self._chunk(reply, {"role": "assistant", "content": ""})]

    def stream_delta(self, reply: Reply, delta: str) -> bytes:
        return self._chunk(reply, {"content": delta})

    def stream_tail(self, reply: Reply) -> list[bytes]:
        frames = [self._chunk(reply, {}, finish_reason="stop")]
        if self._include_usage(reply):
            usage = self._envelope(reply, "chat.completion.chunk", choices=[], usage=self._usage(reply))
            frames.append(sse(usage))
        return frames + [sse("[DONE]")]
