"""Every protocol, through the real LiteLLM and the real SDKs, over HTTP to local servers."""
import asyncio
import logging

import pytest

from conftest import PROVIDER_KEY, PROVIDER_KEY_VAR
from providers.llm.errors import LLMConfigurationError
from providers.llm.factory import build_client
from providers.llm.litellm_client import CLOSED_AT_TOKEN_COUNTS
from providers.tests.streaming import collect

SERVER_FOR_ROUTE = {"openai": "openai_server", "anthropic": "anthropic_server",
                    "ollama_chat": "ollama_server", "ollama": "ollama_server"}
# (backend, route): LiteLLM speaks every protocol; the legacy SDK clients only their own.
CASES = [("litellm", route) for route in SERVER_FOR_ROUTE] + [("legacy", "openai"), ("legacy", "anthropic")]
MESSAGES = [{"role": "system", "content": "You argue for the motion."},
            {"role": "user", "content": "Open the debate."}]

pytestmark = pytest.mark.django_db


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def case(request, model_on):
    backend, route = request.param
    server = request.getfixturevalue(SERVER_FOR_ROUTE[route])
    model = model_on(route, server, model_name="test-model")
    return build_client(model, backend), server, route


async def test_it_sends_a_message_and_returns_the_text_and_figures(case):
    client, server, route = case
    server.enqueue_reply("The motion stands on three pillars.")

    result = await client.send_message(MESSAGES, temperature=0.3, max_tokens=50)

    assert result.text == "The motion stands on three pillars."
    assert result.provider == route
    assert result.completion_tokens == 6
    assert result.prompt_tokens and result.prompt_tokens > 0
    assert result.latency_ms >= 0
    request = server.requests[-1]
    sent = str(request.body)
    assert "You argue for the motion." in sent and "Open the debate." in sent


async def test_it_streams_deltas_then_the_whole_text(case):
    client, server, _ = case
    server.enqueue_reply("Streaming arrives one word at a time.")

    deltas, result = await collect(client.stream_message(MESSAGES))

    assert len(deltas) >= 3
    assert "".join(deltas) == "Streaming arrives one word at a time."
    assert result.text == "Streaming arrives one word at a time."
    assert result.completion_tokens == 7


@pytest.mark.parametrize("route", sorted(CLOSED_AT_TOKEN_COUNTS & SERVER_FOR_ROUTE.keys()))
def test_litellm_streams_one_after_another_arrive_whole_over_one_kept_connection(route, model_on, request):
    # The routes whose streams are closed once their token counts are in. (Anthropic's is read to its end, and
    # even so LiteLLM's handler opens a second connection now and then; the legacy SDK clients make an HTTP
    # client, and so a connection, per call: they are the rollback path.)
    server = request.getfixturevalue(SERVER_FOR_ROUTE[route])
    client = build_client(model_on(route, server, model_name="test-model"), "litellm")
    replies = ["First we define the terms.", "Then we weigh the evidence.", "Last we conclude."]
    for reply in replies:
        server.enqueue_reply(reply)

    async def stream_each() -> list:
        return [(await collect(client.stream_message(MESSAGES)))[1] for _ in replies]

    results = asyncio.run(stream_each())

    assert [r.text for r in results] == replies
    assert [r.completion_tokens for r in results] == [5, 5, 3]
    # Each stream is read to its end before it is closed, so the next call goes over the same connection.
    assert server.connections_opened == 1


async def test_the_key_from_the_named_variable_and_the_api_base_reach_the_server(case):
    client, server, route = case
    await client.send_message(MESSAGES)

    headers = server.requests[-1].headers
    if route == "openai":
        assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    elif route == "anthropic":
        # LiteLLM sends x-api-key; the anthropic SDK 2.x sends a bearer token. Both carry our key.
        assert PROVIDER_KEY in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))
    else:
        assert PROVIDER_KEY not in str(headers)


@pytest.mark.parametrize("route", ["openai", "anthropic"])
def test_a_missing_key_variable_is_a_clear_error_naming_it(route, model_on, monkeypatch, request):
    model = model_on(route, request.getfixturevalue(SERVER_FOR_ROUTE[route]))
    monkeypatch.delenv(PROVIDER_KEY_VAR)

    with pytest.raises(LLMConfigurationError, match=PROVIDER_KEY_VAR) as error:
        build_client(model, "litellm")
    assert error.value.retryable is False


def test_ollama_models_send_their_context_size_as_num_ctx(model_on, ollama_server):
    model = model_on("ollama_chat", ollama_server, context_window=6144)

    asyncio.run(build_client(model, "litellm").send_message(MESSAGES))

    assert ollama_server.requests[-1].body["options"]["num_ctx"] == 6144


async def test_each_call_logs_one_line_with_figures_and_never_the_key(case, caplog, monkeypatch):
    client, server, _ = case
    # Our loggers do not propagate (daphne's root handler would print every line twice): listen directly.
    monkeypatch.setattr(logging.getLogger("providers"), "handlers", [caplog.handler])
    with caplog.at_level(logging.INFO, logger="providers.llm"):
        await client.send_message(MESSAGES)
        server.enqueue_error(401)
        with pytest.raises(Exception):
            await client.send_message(MESSAGES)

    lines = [r.getMessage() for r in caplog.records if r.name == "providers.llm"]
    assert len(lines) == 2
    assert '"outcome": "ok"' in lines[0] and '"latency_ms"' in lines[0] and client.model in lines[0]
    assert '"outcome": "authentication"' in lines[1]
    assert all(PROVIDER_KEY not in record.getMessage() for record in caplog.records)
