"""Every failure a provider can produce arrives as one kind of LLMError, for every backend."""
import asyncio
import socket

import pytest

from providers.llm import errors
from providers.llm.factory import build_client
from providers.tests.streaming import collect
from providers.tests.test_gateway_calls import CASES, MESSAGES, SERVER_FOR_ROUTE

pytestmark = pytest.mark.django_db


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def case(request, model_on):
    backend, route = request.param
    server = request.getfixturevalue(SERVER_FOR_ROUTE[route])
    model = model_on(route, server, model_name="test-model")
    return build_client(model, backend), server, route


@pytest.fixture(params=["send", "stream"])
def call(request):
    async def send(client):
        return await client.send_message(MESSAGES)

    async def stream(client):
        return await collect(client.stream_message(MESSAGES))

    return send if request.param == "send" else stream


async def test_a_rejected_key_is_an_authentication_error_that_retrying_cannot_fix(case, call):
    client, server, _ = case
    server.enqueue_error(401)

    with pytest.raises(errors.LLMAuthenticationError) as error:
        await call(client)
    assert error.value.retryable is False
    assert error.value.kind == "authentication"


async def test_a_rate_limit_carries_the_retry_after_the_provider_gave(case, call):
    client, server, route = case
    server.enqueue_error(429, retry_after=3)

    with pytest.raises(errors.LLMError) as error:
        await call(client)
    assert error.value.kind == "rate_limited"
    assert error.value.retryable is True
    if not route.startswith("ollama"):  # Ollama's protocol has no retry-after to pass on
        assert error.value.retry_after == 3


async def test_a_server_error_costs_exactly_one_request_and_says_retrying_may_help(case, call):
    client, server, _ = case
    server.enqueue_error(500)

    with pytest.raises(errors.LLMProviderError) as error:
        await call(client)
    assert error.value.retryable is True
    # Ollama's route also asks /api/show about the model first; only generation requests count.
    assert len([r for r in server.requests if r.path != "/api/show"]) == 1


async def test_an_unreadable_answer_is_a_provider_error(case):
    client, server, _ = case
    server.enqueue_malformed()

    with pytest.raises(errors.LLMProviderError):
        await client.send_message(MESSAGES)


async def test_a_stream_cut_midway_is_a_provider_error_not_a_short_reply(case):
    client, server, _ = case
    server.enqueue_stream_cut(after_chunks=2, text="This reply never gets to its end.")

    with pytest.raises(errors.LLMProviderError):
        await collect(client.stream_message(MESSAGES))


async def test_a_context_window_overflow_is_its_own_kind(case, call):
    client, server, _ = case
    server.enqueue_error(400, message="This model's maximum context length is 8192 tokens. However, your "
                         "messages resulted in 9000 tokens.", code="context_length_exceeded")

    with pytest.raises(errors.LLMContextWindowError) as error:
        await call(client)
    assert error.value.retryable is False


async def test_a_bad_request_is_not_retryable(case, call):
    client, server, _ = case
    server.enqueue_error(400, message="temperature must be at most 2")

    with pytest.raises(errors.LLMBadRequestError) as error:
        await call(client)
    assert error.value.kind == "bad_request"


async def test_a_server_that_never_answers_is_a_timeout(case, call):
    client, server, _ = case
    server.enqueue_hang(seconds=3)
    client.settings.timeout = 0.5
    client.settings.first_chunk_timeout = 0.5

    with pytest.raises(errors.LLMTimeoutError) as error:
        await call(client)
    assert error.value.retryable is True


def test_a_server_that_is_not_there_is_unreachable(call, model_on, openai_server, ollama_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    for route, server in [("openai", openai_server), ("ollama_chat", ollama_server)]:
        model = model_on(route, server)
        model.provider.api_base = f"http://127.0.0.1:{closed_port}" + ("/v1" if route == "openai" else "")
        with pytest.raises(errors.LLMUnreachableError):
            asyncio.run(call(build_client(model, "litellm")))


def test_legacy_mode_names_the_model_and_the_flag_when_a_provider_has_no_legacy_client(model_on,
                                                                                           ollama_server):
    model = model_on("ollama_chat", ollama_server, model_name="mistral")

    with pytest.raises(errors.LLMConfigurationError) as error:
        build_client(model, "legacy")
    assert "ollama_chat/mistral" in str(error.value)
    assert "llm_backend litellm" in str(error.value)


async def test_a_key_the_provider_echoes_back_never_reaches_the_error(case, call):
    from conftest import PROVIDER_KEY

    client, server, _ = case
    server.enqueue_error(401, message=f"Incorrect API key provided: {PROVIDER_KEY}. Find yours online.")

    with pytest.raises(errors.LLMAuthenticationError) as error:
        await call(client)
    assert PROVIDER_KEY not in str(error.value)
    assert PROVIDER_KEY[:8] not in str(error.value) and "Incorrect API key provided" in str(error.value)
