"""An admin discovers the models an Ollama server has pulled, from the provider list in admin."""
import pytest

from providers.models import LLMModel
from providers.tests.local_llm_fixtures import free_port
from providers.tests.factories import LLMModelFactory, ProviderFactory
from providers.tests.servers import FakeOllamaServer

pytestmark = pytest.mark.django_db


def discover(admin_client, *providers):
    response = admin_client.post("/admin/providers/provider/", {
        "action": "discover_models", "_selected_action": [provider.pk for provider in providers],
    }, follow=True)
    assert response.status_code == 200
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def ollama_provider(server, route="ollama", **fields):
    return ProviderFactory(display_name="Ollama box", litellm_provider=route, api_base=server.url, **fields)


def test_it_adds_one_free_enabled_row_per_listed_model(admin_client, ollama_server):
    ollama_server.tags = ["llama3:8b", "qwen2:7b"]
    provider = ollama_provider(ollama_server)

    assert discover(admin_client, provider) == [("success", "Ollama box: 2 added, 0 already present")]

    rows = LLMModel.objects.filter(provider=provider).order_by("model_name")
    assert [(m.model_name, m.display_name, m.pricing_tier, m.enabled) for m in rows] == [
        ("llama3:8b", "llama3:8b", "free", True), ("qwen2:7b", "qwen2:7b", "free", True)]
    assert ("GET", "/api/tags") in [(r.method, r.path) for r in ollama_server.requests]


def test_it_adds_nothing_the_second_time_and_keeps_the_admins_edits(admin_client, ollama_server):
    provider = ollama_provider(ollama_server, route="ollama_chat")
    discover(admin_client, provider)
    llama = LLMModel.objects.get(provider=provider, model_name="llama3:8b")
    llama.display_name, llama.pricing_tier, llama.enabled = "Our Llama", "economy", False
    llama.save()

    assert discover(admin_client, provider) == [("success", "Ollama box: 0 added, 2 already present")]

    llama.refresh_from_db()
    assert (llama.display_name, llama.pricing_tier, llama.enabled) == ("Our Llama", "economy", True)
    assert LLMModel.objects.filter(provider=provider).count() == 2


def test_it_takes_a_latest_tag_for_the_row_named_without_it(admin_client, ollama_server):
    ollama_server.tags = ["mistral:latest"]
    provider = ollama_provider(ollama_server)
    LLMModelFactory(provider=provider, model_name="mistral", display_name="Mistral 7B")

    assert discover(admin_client, provider) == [("success", "Ollama box: 0 added, 1 already present")]
    assert list(LLMModel.objects.filter(provider=provider).values_list("model_name", flat=True)) == ["mistral"]


def test_it_reports_an_unreachable_server_as_an_error_message(admin_client):
    provider = ProviderFactory(display_name="Gone", litellm_provider="ollama",
                               api_base=f"http://127.0.0.1:{free_port()}")

    [(level, message)] = discover(admin_client, provider)

    assert level == "error"
    assert message.startswith(f"Gone: could not reach {provider.api_base}/api/tags")
    assert "is Ollama running there?" in message
    assert not LLMModel.objects.filter(provider=provider).exists()


def test_it_reports_a_server_that_does_not_speak_ollama(admin_client):
    class HtmlServer(FakeOllamaServer):
        def route(self, handler, request):
            handler.send_bytes(200, b"<html>Welcome to nginx!</html>", "text/html")

    with HtmlServer() as server:
        provider = ollama_provider(server)

        [(level, message)] = discover(admin_client, provider)

    assert level == "error"
    assert "did not answer with Ollama's model list" in message


def test_it_refuses_a_provider_that_is_not_ollama_and_carries_on(admin_client, ollama_server):
    openai = ProviderFactory(display_name="OpenAI", litellm_provider="openai")
    ollama = ollama_provider(ollama_server)

    messages = discover(admin_client, openai, ollama)

    assert ("error", "OpenAI: its LiteLLM provider is 'openai'; only ollama and ollama_chat providers can "
                     "list their models") in messages
    assert ("success", "Ollama box: 2 added, 0 already present") in messages


def test_it_discovers_the_local_model_behind_the_relay_and_the_row_answers(admin_client, ollama_relay):
    provider = ollama_provider(ollama_relay, route="ollama_chat")

    assert discover(admin_client, provider) == [("success", "Ollama box: 1 added, 0 already present")]

    model = LLMModel.objects.get(provider=provider)
    assert model.litellm_model_name == "ollama_chat/gemma3-270m"
    response = admin_client.post("/admin/providers/llmmodel/", {
        "action": "test_connection", "_selected_action": [model.pk]}, follow=True)
    [message] = response.context["messages"]
    assert message.level_tag == "success" and "answered in" in message.message
    model.refresh_from_db()
    assert model.last_check_ok is True
