"""An Ollama server whose answers come from a real model: it relays to llama.cpp's OpenAI endpoint.

Neither Ollama nor a working OpenAI-to-Ollama bridge can be installed here, so ``ollama/`` and
``ollama_chat/`` seats reach real model text through this relay. It speaks Ollama's API exactly as
``FakeOllamaServer`` does (tags, show, version, chat, generate, NDJSON streaming or one JSON body),
and scripted outcomes (``enqueue_error`` and friends) still take precedence over the relay.

Only the Python standard library is used here; no Django imports.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import Handler, RecordedRequest, Reply, text_of
from .ollama import FakeOllamaServer

UPSTREAM_MODEL = "gemma3-270m"
UPSTREAM_TIMEOUT_SECONDS = 60.0
# Ollama's option names and the OpenAI parameters llama.cpp understands for them.
_OPTIONS = {"temperature": "temperature", "num_predict": "max_tokens", "top_p": "top_p", "top_k": "top_k",
            "seed": "seed", "stop": "stop"}


@dataclass
class RelayReply(Reply):
    """A reply whose text and token counts arrive from upstream while it is relayed."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class OllamaRelayServer(FakeOllamaServer):
    protocol = "Ollama relay"

    def __init__(self, upstream: str) -> None:
        """``upstream``: the llama.cpp server's root URL, e.g. ``http://127.0.0.1:8080``."""
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.tags = [UPSTREAM_MODEL]

    @staticmethod
    def _details() -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": "gemma3", "families": ["gemma3"],
                "parameter_size": "268.10M", "quantization_level": "Q4_K_M"}

    # -- relaying -----------------------------------------------------------
    def serve_completion(self, handler: Handler, request: RecordedRequest, stream: bool) -> None:
        if self._has_scripted_outcome() or not isinstance(request.body, dict):
            return super().serve_completion(handler, request, stream)
        reply = RelayReply(request, text="")
        try:
            upstream = self._open_upstream(reply)
        except urllib.error.HTTPError as exc:
            return self.send_error(handler, exc.code, _upstream_message(exc))
        except OSError as exc:
            return self.send_error(handler, 502, f"the relay could not reach llama.cpp: {exc}")
        with upstream:
            if stream:
                handler.start_stream(self.stream_content_type)
            for delta in self._deltas(upstream, reply):
                reply.text += delta
                if stream:
                    handler.write_chunk(self.stream_delta(reply, delta))
        if not stream:
            return handler.send_json(200, self.completion_body(reply))
        for frame in self.stream_tail(reply):
            handler.write_chunk(frame)
        handler.end_stream()

    def _has_scripted_outcome(self) -> bool:
        with self._lock:
            return bool(self._queue)

    def _open_upstream(self, reply: Reply) -> Any:
        # Always stream upstream: one code path, and a streamed Ollama answer starts at once.
        body = {"model": reply.model, "messages": self._messages(reply), "stream": True,
                "stream_options": {"include_usage": True}, **self._parameters(reply)}
        request = urllib.request.Request(
            f"{self.upstream}/v1/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        return urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT_SECONDS)

    def _messages(self, reply: Reply) -> list[dict[str, str]]:
        body = reply.body
        if self._is_generate(reply):
            system = text_of(body.get("system"))
            head = [{"role": "system", "content": system}] if system else []
            return head + [{"role": "user", "content": text_of(body.get("prompt"))}]
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        return [{"role": str(m.get("role") or "user"), "content": text_of(m.get("content"))} for m in messages]

    @staticmethod
    def _parameters(reply: Reply) -> dict[str, Any]:
        options = reply.body.get("options") if isinstance(reply.body.get("options"), dict) else {}
        parameters = {_OPTIONS[name]: value for name, value in options.items() if name in _OPTIONS}
        limit = parameters.get("max_tokens")
        if isinstance(limit, int) and limit < 0:  # Ollama's -1 and -2 mean "no limit"
            del parameters["max_tokens"]
        return parameters

    @staticmethod
    def _deltas(upstream: Any, reply: RelayReply) -> Iterator[str]:
        for raw in upstream:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line.removeprefix("data:"))
            usage = chunk.get("usage") or {}
            reply.prompt_tokens = usage.get("prompt_tokens", reply.prompt_tokens)
            reply.completion_tokens = usage.get("completion_tokens", reply.completion_tokens)
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    yield delta

    def _final(self, reply: Reply, content: str) -> dict[str, Any]:
        final = super()._final(reply, content)
        if isinstance(reply, RelayReply):  # the model's own counts, not the fake's word counts
            if reply.prompt_tokens is not None:
                final["prompt_eval_count"] = reply.prompt_tokens
            if reply.completion_tokens is not None:
                final["eval_count"] = reply.completion_tokens
        return final


def _upstream_message(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read()).get("error")
    except ValueError:
        return f"llama.cpp answered HTTP {exc.code}"
    return error.get("message", str(error)) if isinstance(error, dict) else str(error)
