"""A call is never redirected (issue #12, outbound requests only where they belong): an api_base that passed the
address check could otherwise answer 302 and send the call on to a cloud metadata endpoint, and what that
answered would come back inside the turn's error. The redirect is refused, named, and not retried, on every route
we run and on both backends; the server it pointed at never hears of it.

The redirect points at a second fake server on loopback (nothing here can listen at 169.254.169.254): that it
gets no request shows the redirect was not followed, whatever the address it names."""
import asyncio

import pytest
from django.core.management import call_command

from providers.llm.errors import LLMForbiddenAddressError
from providers.llm.http import HANDLER_ROUTES, OPENAI_SDK_ROUTES
from providers.tests.servers import FakeOllamaServer, FakeOpenAIServer
from providers.tests.streaming import gateway_answer as ask

pytestmark = pytest.mark.django_db(transaction=True)

SERVERS = {"openai": "openai_server", "hosted_vllm": "openai_server", "anthropic": "anthropic_server",
           "ollama_chat": "ollama_server"}
# OpenAI-compatible routes beside them, each with the client kind its LiteLLM handler takes (providers/llm/http.py):
# local servers (LM Studio, llamafile) and hosted ones, through the openai SDK or through LiteLLM's own handler.
COMPATIBLE = sorted((OPENAI_SDK_ROUTES | HANDLER_ROUTES) - {"openai", "hosted_vllm", "anthropic", "ollama",
                                                            "ollama_chat"})


@pytest.fixture
def metadata():
    """Stands for the address a redirect would send the call to; it must never be asked anything."""
    with FakeOpenAIServer() as server:
        server.responder = lambda body: '{"AccessKeyId": "AKIA-NOT-FOR-DEBATES"}'
        yield server


def completions(server) -> int:
    return len([r for r in server.requests if r.path != "/api/show"])  # Ollama's route also asks about the model


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "hosted_vllm", "anthropic", "ollama_chat", "ollama", *COMPATIBLE])
def test_a_redirect_is_refused_not_followed_and_not_retried(request, model_on, metadata, route, mode, status):
    if route == "ollama":  # Ollama's older route, /api/generate, on a server of its own
        server = FakeOllamaServer().start()
        request.addfinalizer(server.stop)
    else:
        server = request.getfixturevalue(SERVERS.get(route, "openai_server"))
    model = model_on(route, server, model_name="redirected", max_retries=2)
    server.enqueue_redirect(f"{metadata.url}/latest/meta-data/iam/security-credentials/", status=status)

    with pytest.raises(LLMForbiddenAddressError) as refused:
        asyncio.run(ask(model, mode))

    host = metadata.url.removeprefix("http://")
    assert f"answered {status}, a redirect to {host}, which is not followed" in str(refused.value)
    assert "AKIA" not in str(refused.value)
    assert metadata.requests == []
    assert completions(server) == 1  # refused at once: a retry would only be redirected again


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "anthropic"])
def test_the_legacy_clients_refuse_a_redirect_too(request, model_on, metadata, route, mode):
    server = request.getfixturevalue(SERVERS[route])
    model = model_on(route, server, model_name="redirected", max_retries=2)
    call_command("llm_backend", "legacy")
    server.enqueue_redirect(f"{metadata.url}/latest/meta-data/", status=307)

    with pytest.raises(LLMForbiddenAddressError, match="a redirect to .*, which is not followed"):
        asyncio.run(ask(model, mode))

    assert metadata.requests == [] and completions(server) == 1


@pytest.mark.parametrize("route", ["openai", "anthropic", "ollama_chat"])
def test_a_route_that_does_not_redirect_answers_as_before_through_the_same_clients(request, model_on, route):
    server = request.getfixturevalue(SERVERS[route])
    server.responder = lambda body: "Cities breathe easier without cars."
    model = model_on(route, server, model_name="plain")

    sent, streamed = asyncio.run(ask(model, "send")), asyncio.run(ask(model, "stream"))

    assert sent.result.text == streamed.result.text == "Cities breathe easier without cars."


@pytest.mark.parametrize("route", COMPATIBLE)
def test_an_openai_compatible_route_answers_through_our_clients_with_its_own_key(openai_server, provider_key,
                                                                                  monkeypatch, route):
    from conftest import PROVIDER_KEY_VAR
    from providers.tests.factories import LLMModelFactory

    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-other-servers")
    openai_server.responder = lambda body: "Cities breathe easier without cars."
    keyed = LLMModelFactory(provider__litellm_provider=route, provider__api_base=openai_server.url,
                            provider__api_key_env_var=PROVIDER_KEY_VAR, model_name="keyed")
    keyless = LLMModelFactory(provider__litellm_provider=route, provider__api_base=openai_server.url,
                              provider__api_key_env_var="", model_name="keyless")

    for model in (keyed, keyless):
        for mode in ("send", "stream"):
            assert asyncio.run(ask(model, mode)).result.text == "Cities breathe easier without cars."

    sent = [(r.body["model"], r.headers.get("authorization", "")) for r in openai_server.requests]
    assert [model for model, _ in sent] == ["keyed", "keyed", "keyless", "keyless"]
    assert all(header == f"Bearer {provider_key}" for _, header in sent[:2])
    assert not any("sk-openai" in header or provider_key in header for _, header in sent[2:])


def test_a_route_of_the_openai_sdk_without_an_address_keeps_litellm_s_client():
    """Its public address and its key's variable are LiteLLM's to know: an openai client of ours would call
    api.openai.com with OPENAI_API_KEY instead."""
    from providers.llm.http import litellm_client

    assert litellm_client("perplexity", api_base=None, api_key="pplx-key") is None
    assert litellm_client("perplexity", api_base="https://llm.example.com", api_key="pplx-key") is not None
    assert litellm_client("openai", api_base=None, api_key="sk-key") is not None  # OpenAI's own address
