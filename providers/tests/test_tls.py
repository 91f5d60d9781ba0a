"""A provider over HTTPS, with a certificate signed by an authority of the operator's own (a company's, or a local
server's self-made one): the calls trust what LiteLLM's documented settings say to trust, on the clients that
refuse redirects (providers/llm/http.py) as on LiteLLM's own, and a certificate nobody said to trust fails at once,
saying so and what to set, instead of a bare "Connection error." asked three times."""
import asyncio

import pytest
from django.core.management import call_command

from providers.llm.errors import LLMConfigurationError
from providers.tests.servers import FakeAnthropicServer, FakeOllamaServer, FakeOpenAIServer
from providers.tests.servers.tls import make_certificates
from providers.tests.streaming import gateway_answer as ask

pytestmark = pytest.mark.django_db(transaction=True)

SERVERS = {"openai": FakeOpenAIServer, "hosted_vllm": FakeOpenAIServer, "anthropic": FakeAnthropicServer,
           "ollama_chat": FakeOllamaServer}
REPLY = "Cities breathe easier without cars."


@pytest.fixture
def certificates(tmp_path):
    return make_certificates(tmp_path)


@pytest.fixture
def https(request, certificates, model_on):
    """https(route, **fields) -> a model row whose calls go to a fake of that route served over HTTPS."""
    def make(route: str, **fields):
        server = SERVERS[route](tls=certificates.server_context()).start()
        request.addfinalizer(server.stop)
        server.responder = lambda body: REPLY
        return server, model_on(route, server, model_name="secure", **fields)

    return make


@pytest.fixture(autouse=True)
def no_tls_settings(monkeypatch):
    """What the machine running the suite has set must not decide these tests."""
    for name in ("SSL_CERT_FILE", "SSL_VERIFY", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "hosted_vllm", "anthropic", "ollama_chat"])
def test_an_authority_named_in_ssl_cert_file_is_trusted(https, certificates, monkeypatch, route, mode):
    server, model = https(route)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))

    assert asyncio.run(ask(model, mode)).result.text == REPLY
    assert server.url.startswith("https://")


@pytest.mark.parametrize("route", ["openai", "anthropic", "ollama_chat"])
def test_litellm_s_ssl_verify_setting_applies_to_our_clients_too(https, certificates, monkeypatch, route):
    """SSL_VERIFY, a bundle's path or false, is LiteLLM's own setting: our clients took no notice of it before."""
    server, model = https(route)
    monkeypatch.setenv("SSL_VERIFY", str(certificates.ca_file))
    assert asyncio.run(ask(model, "stream")).result.text == REPLY

    monkeypatch.setenv("SSL_VERIFY", "false")
    assert asyncio.run(ask(model, "send")).result.text == REPLY


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "anthropic", "ollama_chat"])
def test_a_certificate_nobody_trusts_fails_at_once_saying_what_to_set(https, route, mode):
    server, model = https(route, max_retries=2)

    with pytest.raises(LLMConfigurationError) as refused:
        asyncio.run(ask(model, mode))

    message = str(refused.value)
    assert "TLS certificate is not trusted" in message and "certificate verify failed" in message
    assert "SSL_CERT_FILE" in message
    assert refused.value.kind == "untrusted_certificate" and not refused.value.retryable
    assert server.requests == []  # nothing was sent to a server whose identity is not known
    assert server.connections_opened == 1  # not retried: another try meets the same certificate


@pytest.mark.parametrize("route", ["openai", "anthropic"])
def test_the_legacy_clients_trust_ssl_cert_file_and_say_the_same_when_nothing_is_trusted(
        https, certificates, monkeypatch, route):
    server, model = https(route, max_retries=2)
    call_command("llm_backend", "legacy")

    with pytest.raises(LLMConfigurationError, match="TLS certificate is not trusted.*SSL_CERT_FILE"):
        asyncio.run(ask(model, "send"))
    assert server.connections_opened == 1

    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    assert asyncio.run(ask(model, "stream")).result.text == REPLY
