"""ollama/ and ollama_chat/ seats get real model text through LiteLLM, via the relay to llama.cpp."""
import asyncio

import pytest

from providers.llm.factory import client_for
from providers.tests.streaming import collect

PROMPT = [{"role": "user", "content": "Q: What is the capital of France?\nA:"}]
ENDPOINT = {"ollama": "/api/generate", "ollama_chat": "/api/chat"}

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["ollama", "ollama_chat"])
def relayed_client(request, model_on, ollama_relay):
    model = model_on(request.param, ollama_relay, model_name="gemma3-270m")
    return client_for(model), request.param


def test_it_answers_with_real_model_text(relayed_client, ollama_relay):
    client, route = relayed_client

    result = asyncio.run(client.send_message(PROMPT, temperature=0, max_tokens=8))

    assert result.text.strip()
    assert result.completion_tokens and result.completion_tokens <= 8
    sent = [request.path for request in ollama_relay.requests]
    assert ENDPOINT[route] in sent


def test_it_streams_real_model_text(relayed_client, ollama_relay):
    client, route = relayed_client

    deltas, result = asyncio.run(collect(client.stream_message(PROMPT, temperature=0, max_tokens=8)))

    assert len(deltas) >= 2
    assert result.text.strip() and result.text == "".join(deltas)
    assert ENDPOINT[route] in [request.path for request in ollama_relay.requests]


def test_it_serves_scripted_errors_before_relaying(relayed_client, ollama_relay):
    from providers.llm.errors import LLMError

    client, _ = relayed_client
    ollama_relay.enqueue_error(404, message='model "gemma3-270m" not found')

    with pytest.raises(LLMError, match="not found"):
        asyncio.run(client.send_message(PROMPT, max_tokens=4))
