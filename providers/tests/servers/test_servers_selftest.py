"""Quick self-tests of the fake LLM servers with plain httpx (no Django)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from providers.tests.servers import FakeAnthropicServer, FakeOllamaServer, FakeOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def ollama_server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer() as server:
        yield server


def sse_events(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event"), fields["data"]))
    return events


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "say hi please"}]}


def test_openai_non_streaming_and_recording(openai_server: FakeOpenAIServer) -> None:
    openai_server.responder = lambda req: "echo: " + req["messages"][-1]["content"]
    r = httpx.post(f"{openai_server.url}/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-x"})
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "gpt-4o"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "echo: say hi please", "refusal": None}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    (req,) = openai_server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer sk-x"
    assert req.body == CHAT and json.loads(req.raw) == CHAT


def test_openai_streaming_with_usage(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue_reply("one two three")
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    r = httpx.post(f"{openai_server.url}/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [data for _, data in sse_events(r.text)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:4]] == ["one", " two", " three"]
    assert chunks[4]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[5]["choices"] == [] and chunks[5]["usage"]["completion_tokens"] == 3
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_openai_errors_malformed_and_models(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue_error(429, retry_after=3)
    openai_server.enqueue_error(400, code="context_length_exceeded")
    openai_server.enqueue_malformed()
    url = f"{openai_server.url}/v1/chat/completions"
    r = httpx.post(url, json=CHAT)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    assert r.json() == {
        "error": {"message": "Rate limit reached for requests.", "type": "rate_limit_error", "param": None,
                  "code": "rate_limit_exceeded"}
    }
    r = httpx.post(url, json=CHAT)
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    r = httpx.post(url, json=CHAT)
    assert r.status_code == 200 and r.content == b"<html>oops"
    assert httpx.post(url, json=CHAT).json()["choices"][0]["message"]["content"] == "Hello from fake OpenAI."
    assert [m["id"] for m in httpx.get(f"{openai_server.url}/v1/models").json()["data"]]


def test_openai_stream_cut_and_hang(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue_stream_cut(after_chunks=2, text="a b c d")
    with httpx.Client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            with client.stream("POST", f"{openai_server.url}/v1/chat/completions", json={**CHAT, "stream": True}) as r:
                received = []
                for line in r.iter_lines():
                    received.append(line)
        assert sum('"content":"' in line for line in received) == 3  # role chunk + 2 deltas
        openai_server.enqueue_stream_cut()
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{openai_server.url}/v1/chat/completions", json=CHAT)
        openai_server.enqueue_hang(seconds=5)
        with pytest.raises(httpx.ReadTimeout):
            client.post(f"{openai_server.url}/v1/chat/completions", json=CHAT, timeout=0.2)
        assert client.post(f"{openai_server.url}/v1/chat/completions", json=CHAT).status_code == 200


def test_anthropic_non_streaming(anthropic_server: FakeAnthropicServer) -> None:
    body = {"model": "claude-x", "max_tokens": 10, "system": [{"type": "text", "text": "be nice"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]}
    r = httpx.post(f"{anthropic_server.url}/v1/messages", json=body, headers={"x-api-key": "k"})
    data = r.json()
    assert data["type"] == "message" and data["model"] == "claude-x" and data["id"].startswith("msg_")
    assert data["content"] == [{"type": "text", "text": "Hello from fake Anthropic."}]
    assert data["stop_reason"] == "end_turn"
    assert data["usage"] == {"input_tokens": 4, "output_tokens": 4}
    assert anthropic_server.requests[0].headers["x-api-key"] == "k"


def test_anthropic_streaming_and_error(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.chunk_size = 4
    anthropic_server.enqueue_reply("abcdefghij")
    anthropic_server.enqueue_error(401)
    body = {"model": "claude-x", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{anthropic_server.url}/v1/messages", json=body)
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(json.loads(data)["type"] == name for name, data in events)
    assert [json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta"] == ["abcd", "efgh", "ij"]
    assert json.loads(events[0][1])["message"]["content"] == []
    assert json.loads(events[-2][1])["delta"]["stop_reason"] == "end_turn"
    r = httpx.post(f"{anthropic_server.url}/v1/messages", json=body)
    assert r.status_code == 401
    assert r.json() == {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}


def test_ollama_chat_streaming_default(ollama_server: FakeOllamaServer) -> None:
    body = {"model": "llama3:8b", "messages": [{"role": "user", "content": "hi"}], "options": {"num_ctx": 4096}}
    r = httpx.post(f"{ollama_server.url}/api/chat", json=body)
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert "".join(line["message"]["content"] for line in lines) == "Hello from fake Ollama."
    assert [line["done"] for line in lines] == [False, False, False, False, True]
    assert lines[-1]["done_reason"] == "stop" and lines[-1]["eval_count"] == 4
    assert ollama_server.requests[0].body["options"] == {"num_ctx": 4096}


def test_ollama_generate_and_metadata(ollama_server: FakeOllamaServer) -> None:
    ollama_server.tags = ["qwen2:7b"]
    r = httpx.post(f"{ollama_server.url}/api/generate", json={"model": "m", "prompt": "a b", "stream": False})
    data = r.json()
    assert data["response"] == "Hello from fake Ollama." and data["done"] is True
    assert data["prompt_eval_count"] == 2
    assert [m["name"] for m in httpx.get(f"{ollama_server.url}/api/tags").json()["models"]] == ["qwen2:7b"]
    assert httpx.post(f"{ollama_server.url}/api/show", json={"name": "m"}).json()["details"]["family"] == "llama"
    assert "version" in httpx.get(f"{ollama_server.url}/api/version").json()
    ollama_server.enqueue_error(404, message='model "m" not found')
    r = httpx.post(f"{ollama_server.url}/api/generate", json={"model": "m", "prompt": "x"})
    assert r.status_code == 404 and r.json() == {"error": 'model "m" not found'}
    ollama_server.reset()
    assert ollama_server.requests == [] and ollama_server.tags == ["llama3:8b", "mistral:latest"]
