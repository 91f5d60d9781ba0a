"""The fault matrix: every failure a provider can produce, on every route, streamed and not, through the gateway's
one retry layer and the model's fallbacks. Each ends as designed, and each server's request count is exact."""
import asyncio
import time

import pytest

from providers.llm import errors
from providers.llm.gateway import Answer, StreamReset, answer, stream_answer
from providers.models import ModelFallback
from providers.tests.servers import FakeOpenAIServer, closed_port_server

pytestmark = pytest.mark.django_db(transaction=True)

ROUTES = {"openai": "openai_server", "anthropic": "anthropic_server", "ollama_chat": "ollama_server"}
MESSAGES = [{"role": "user", "content": "Open the debate."}]
REPLY = "Cities breathe easier without cars."
RETRIES = 2


@pytest.fixture(params=list(ROUTES))
def route(request):
    return request.param


@pytest.fixture
def server(request, route):
    server = request.getfixturevalue(ROUTES[route])
    server.responder = lambda body: REPLY
    return server


@pytest.fixture
def primary(model_on, route, server):
    # Short enough that a hang or a stall ends quickly, long enough that a healthy answer on a busy 2-core
    # machine (the second pass of `make test`) is never taken for one: 0.5 s once cost a retry too many.
    return model_on(route, server, model_name="primary", max_retries=RETRIES, timeout_seconds=3.0,
                    first_chunk_timeout_seconds=1.0)


@pytest.fixture(params=["send", "stream"])
def ask(request):
    """ask(model) -> (Answer, resets): the call as a judge (send) or a debate turn (stream) makes it."""

    async def send(model):
        return await answer(model, MESSAGES, max_tokens=50), []

    async def stream(model):
        deltas, resets = [], []
        async for item in stream_answer(model, MESSAGES, max_tokens=50):
            if isinstance(item, Answer):
                assert item.result.text == "".join(deltas)  # what was shown is what was answered
                return item, resets
            if isinstance(item, StreamReset):
                resets.append(item)
                deltas.clear()
            else:
                deltas.append(item)
        raise AssertionError("the stream ended without an answer")

    ask = send if request.param == "send" else stream
    ask.mode = request.param
    return ask


def generations(server) -> int:
    """Requests for a completion (the Ollama route also asks /api/show about the model first)."""
    return len([r for r in server.requests if r.path != "/api/show"])


def add_fallback(model, fallback, position=1):
    ModelFallback.objects.create(model=model, fallback=fallback, position=position)


# ---- retried, then answered by the same model -------------------------------------------------------------
@pytest.mark.parametrize("fault", ["500", "malformed", "no first byte", "stall midway", "cut midway"])
async def test_a_passing_fault_is_retried_and_the_model_answers(primary, server, ask, fault):
    enqueue = {"500": lambda: server.enqueue_error(500),
               "malformed": lambda: server.enqueue_malformed(),
               "no first byte": lambda: server.enqueue_hang(seconds=3),
               "stall midway": lambda: server.enqueue_stall(after_chunks=2, seconds=3),
               "cut midway": lambda: server.enqueue_stream_cut(after_chunks=2)}
    enqueue[fault]()

    result, resets = await ask(primary)

    assert (result.result.text, result.model, result.fallback_reason) == (REPLY, primary, "")
    assert generations(server) == 2
    spoke_first = fault in ("stall midway", "cut midway") and ask.mode == "stream"
    assert len(resets) == (1 if spoke_first else 0)  # watchers drop a broken attempt's text


async def test_a_rate_limit_waits_for_the_retry_after_the_provider_gave(primary, server, ask, route):
    server.enqueue_error(429, retry_after=1)
    began = time.monotonic()

    result, _ = await ask(primary)

    assert result.result.text == REPLY and generations(server) == 2
    if route != "ollama_chat":  # Ollama's errors carry no Retry-After through LiteLLM
        assert time.monotonic() - began >= 1.0


async def test_a_fault_that_outlasts_the_retries_fails_after_exactly_one_plus_retries_calls(primary, server, ask):
    for _ in range(RETRIES + 1):
        server.enqueue_error(500)

    with pytest.raises(errors.LLMProviderError):
        await ask(primary)

    assert generations(server) == 1 + RETRIES


async def test_a_rejected_key_is_not_retried(primary, server, ask):
    server.enqueue_error(401)

    with pytest.raises(errors.LLMAuthenticationError):
        await ask(primary)

    assert generations(server) == 1


# ---- answered by a fallback (sync tests: they make rows in their body, then run the call in a loop) ----------
@pytest.fixture
def fallback_server():
    with FakeOpenAIServer() as server:  # a server of its own, so that each one's requests are counted apart
        server.responder = lambda body: "The fallback speaks."
        yield server


@pytest.mark.parametrize("fault", ["401", "500 every time", "connection refused"])
def test_a_model_that_still_fails_is_replaced_by_its_fallback(model_on, route, server, fallback_server, ask,
                                                                     fault):
    down = closed_port_server() if fault == "connection refused" else server
    primary = model_on(route, down, model_name="primary", max_retries=RETRIES)
    if fault == "401":
        server.enqueue_error(401)
    elif fault == "500 every time":
        for _ in range(RETRIES + 1):
            server.enqueue_error(500)
    fallback = model_on("openai", fallback_server, model_name="fallback", display_name="Fallback")
    add_fallback(primary, fallback)

    result, _ = asyncio.run(ask(primary))

    assert result.model == fallback and result.result.text == "The fallback speaks."
    kind = {"401": "authentication", "500 every time": "provider error", "connection refused": "unreachable"}[fault]
    assert f"{primary.litellm_model_name} failed ({kind})" in result.fallback_reason
    assert generations(server) == {"401": 1, "500 every time": 1 + RETRIES, "connection refused": 0}[fault]
    assert generations(fallback_server) == 1


def test_fallbacks_are_asked_in_order_and_disabled_ones_skipped(model_on, route, server, anthropic_server, ask):
    primary = model_on(route, closed_port_server(), model_name="primary", max_retries=0)
    skipped = model_on("anthropic", anthropic_server, model_name="disabled", enabled=False)
    second = model_on("anthropic", closed_port_server(), model_name="second", max_retries=0)
    anthropic_server.responder = lambda body: "Third time lucky."
    third = model_on("anthropic", anthropic_server, model_name="third")
    add_fallback(primary, skipped, 1)
    add_fallback(primary, second, 2)
    add_fallback(primary, third, 3)

    result, _ = asyncio.run(ask(primary))

    assert result.model == third
    assert "primary failed" in result.fallback_reason and "second failed" in result.fallback_reason
    assert "disabled" not in result.fallback_reason


def test_when_every_model_fails_the_error_names_each(model_on, route, ask):
    primary = model_on(route, closed_port_server(), model_name="primary", max_retries=0)
    add_fallback(primary, model_on(route, closed_port_server(), model_name="backup", max_retries=0))

    with pytest.raises(errors.LLMUnreachableError) as failure:
        asyncio.run(ask(primary))

    assert "it and its fallbacks failed" in str(failure.value)
    assert "primary failed (unreachable)" in str(failure.value) and "backup failed (unreachable)" in str(failure.value)


@pytest.mark.parametrize("legacy_route", ["openai", "anthropic"])
def test_the_legacy_clients_are_retried_by_the_same_layer(model_on, request, legacy_route, ask):
    from django.core.management import call_command

    server = request.getfixturevalue(ROUTES[legacy_route])
    server.responder = lambda body: REPLY
    model = model_on(legacy_route, server, model_name="primary", max_retries=RETRIES)
    call_command("llm_backend", "legacy")
    server.enqueue_error(500)
    server.enqueue_stream_cut(after_chunks=1) if ask.mode == "stream" else server.enqueue_error(503)

    result, resets = asyncio.run(ask(model))

    assert result.result.text == REPLY and result.result.backend == "legacy"
    assert generations(server) == 3 and len(resets) == (1 if ask.mode == "stream" else 0)
