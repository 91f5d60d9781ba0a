"""A row that names no key variable talks to a server of its own that needs none. It must never be sent a key that
LiteLLM or an SDK reads from the environment for its route (ANTHROPIC_API_KEY, OPENROUTER_API_KEY, ...): that key
is the provider's, and a server that echoes what it was sent would put it in the error a debate shows."""
import asyncio

import pytest
from django.core.management import call_command

from providers.llm.errors import LLMError
from providers.tests.streaming import gateway_answer as ask
from providers.tests.test_redirects import COMPATIBLE, SERVERS

pytestmark = pytest.mark.django_db(transaction=True)

THE_PROVIDERS_KEY = "sk-the-providers-own-key"
# The variables LiteLLM's routes and the two SDKs read when a call brings no key.
ROUTE_KEY_VARIABLES = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "MISTRAL_API_KEY",
                       "DEEPSEEK_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHER_API_KEY",
                       "XAI_API_KEY", "HOSTED_VLLM_API_KEY", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY",
                       "DEEPINFRA_API_KEY", "NVIDIA_NIM_API_KEY", "CEREBRAS_API_KEY", "SAMBANOVA_API_KEY",
                       "GITHUB_API_KEY", "LM_STUDIO_API_KEY", "LLAMAFILE_API_KEY", "OLLAMA_API_KEY"]


@pytest.fixture
def keys_in_the_environment(monkeypatch):
    for name in ROUTE_KEY_VARIABLES:
        monkeypatch.setenv(name, THE_PROVIDERS_KEY)


def keyless_row(request, route: str):
    from providers.tests.factories import LLMModelFactory

    server = request.getfixturevalue(SERVERS.get(route, "openai_server"))
    server.responder = lambda body: "Cities breathe easier without cars."
    api_base = server.url + "/v1" if route == "openai" else server.url
    row = LLMModelFactory(provider__litellm_provider=route, provider__api_base=api_base,
                          provider__api_key_env_var="", model_name="keyless", max_retries=0)
    return row, server


def sent_headers(server) -> str:
    return " ".join(f"{name}: {value}" for request in server.requests for name, value in request.headers.items())


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "hosted_vllm", "anthropic", "ollama_chat", *COMPATIBLE])
def test_a_keyless_row_is_never_sent_the_key_its_route_reads_from_the_environment(
        request, keys_in_the_environment, route, mode):
    row, server = keyless_row(request, route)

    try:
        asyncio.run(ask(row, mode))
    except LLMError:
        pass  # a fake server of another wire protocol may not answer in full; what it was sent is the point

    assert server.requests, "the call reached the row's server"
    assert THE_PROVIDERS_KEY not in sent_headers(server)


@pytest.mark.parametrize("route", ["openai", "anthropic"])
def test_the_legacy_clients_send_no_key_from_the_environment_either(request, keys_in_the_environment, route):
    row, server = keyless_row(request, route)
    call_command("llm_backend", "legacy")

    assert asyncio.run(ask(row, "send")).result.text == "Cities breathe easier without cars."
    assert THE_PROVIDERS_KEY not in sent_headers(server)
