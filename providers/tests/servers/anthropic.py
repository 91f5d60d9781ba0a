"""Fake Anthropic Messages server (``/v1/messages``)."""

from __future__ import annotations

from typing import Any

from .base import FakeLLMServer, Handler, RecordedRequest, Reply, count_words, sse, text_of

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}
CONTEXT_LENGTH_MESSAGE = "prompt is too long: 210000 tokens > 200000 maximum"


class FakeAnthropicServer(FakeLLMServer):
    protocol = "Anthropic"

    def route(self, handler: Handler, request: RecordedRequest) -> None:
        if request.method == "POST" and request.path == "/v1/messages":
            body = request.body if isinstance(request.body, dict) else {}
            self.serve_completion(handler, request, stream=bool(body.get("stream")))
        else:
            self.send_error(handler, 404, f"Unknown path {request.method} {request.path}")

    def error_body(
        self, status: int, message: str | None, code: str | None, error_type: str | None
    ) -> dict[str, Any]:
        """Anthropic errors have no ``code``; it only picks the context-window message."""
        if code == "context_length_exceeded" and message is None:
            message = CONTEXT_LENGTH_MESSAGE
        kind = error_type or _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": message or _DEFAULT_MESSAGES.get(status, f"Error {status}")},
        }

    @staticmethod
    def _input_tokens(reply: Reply) -> int:
        messages = reply.body.get("messages") or []
        texts = [text_of(m.get("content")) for m in messages if isinstance(m, dict)]
        return count_words(text_of(reply.body.get("system")), *texts)

    def _message(self, reply: Reply, content: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return {
            "id": f"msg_{reply.id}",
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            **fields,
        }

    def completion_body(self, reply: Reply) -> dict[str, Any]:
        usage = {"input_tokens": self._input_tokens(reply), "output_tokens": count_words(reply.text)}
        content = [{"type": "text", "text": reply.text}]
        return self._message(reply, content, stop_reason="end_turn", usage=usage)

    @staticmethod
    def _event(name: str, **data: Any) -> bytes:
        return sse({"type": name, **data}, event=name)

    def stream_head(self, reply: Reply) -> list[bytes]:
        usage = {"input_tokens": self._input_tokens(reply), "output_tokens": 1}
        return [
            self._event("message_start", message=self._message(reply, [], usage=usage)),
            self._event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
            self._event("ping"),
        ]

    def stream_delta(self, reply: Reply, delta: str) -> bytes:
        return self._event("content_block_delta", index=0, delta={"type": "text_delta", "text": delta})

    def stream_tail(self, reply: Reply) -> list[bytes]:
        return [
            self._event("content_block_stop", index=0),
            self._event(
                "message_delta",
                delta={"stop_reason": "end_turn", "stop_sequence": None},
                usage={"output_tokens": count_words(reply.text)},
            ),
            self._event("message_stop"),
        ]

    def stream_frame(self, payload: bytes) -> bytes:
        return sse(payload, event="message_start")
