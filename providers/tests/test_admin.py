"""What an admin does in Django admin: add and edit catalog rows, see form errors, never a crash."""
import pytest
from asgiref.sync import async_to_sync

from providers.llm.factory import client_for
from providers.models import LLMModel, Provider
from providers.tests.factories import LLMModelFactory
from providers.validators import NO_CHAT_ROUTE

pytestmark = pytest.mark.django_db

PROVIDER_FORM = {"display_name": "Local Ollama", "litellm_provider": "ollama", "api_base": "http://localhost:11434",
                 "api_key_env_var": "", "enabled": "on"}


def add_provider(admin_client, **changes):
    return admin_client.post("/admin/providers/provider/add/", {**PROVIDER_FORM, **changes})


NO_FALLBACKS = {"fallback_links-TOTAL_FORMS": "0", "fallback_links-INITIAL_FORMS": "0"}  # the inline's formset


def test_an_admin_adds_an_ollama_provider_and_model(admin_client):
    response = add_provider(admin_client)
    assert response.status_code == 302
    provider = Provider.objects.get(display_name="Local Ollama")

    response = admin_client.post("/admin/providers/llmmodel/add/", {
        "provider": provider.pk, "model_name": "mistral", "display_name": "Mistral", "pricing_tier": "free",
        "enabled": "on", "context_window": 8192, "extra_params": "{}", "api_base": "", "api_key_env_var": "",
        **NO_FALLBACKS,
    })

    assert response.status_code == 302
    assert LLMModel.objects.get(model_name="mistral").litellm_model_name == "ollama/mistral"


@pytest.mark.parametrize("api_base", ["ftp://example.com", "localhost:11434", "javascript:alert(1)", "http://"])
def test_api_base_must_be_an_http_url(admin_client, api_base):
    response = add_provider(admin_client, api_base=api_base)

    assert response.status_code == 200
    assert "Enter an http:// or https:// URL." in response.content.decode()
    assert not Provider.objects.filter(display_name="Local Ollama").exists()


@pytest.mark.parametrize("api_base", ["http://admin:s3cret@llm.example.com/v1", "https://sk-live-123@llm.example.com"])
def test_an_api_base_holds_no_credentials(admin_client, api_base):
    response = add_provider(admin_client, api_base=api_base)

    assert response.status_code == 200
    assert "Put no user name or password in the API base" in response.content.decode()
    assert not Provider.objects.filter(display_name="Local Ollama").exists()


@pytest.mark.parametrize("name", ["sk-ant-api03-abcdef", "MY KEY", "1ST_KEY", "$OPENAI_API_KEY"])
def test_a_key_variable_must_look_like_a_variable_name(admin_client, name):
    response = add_provider(admin_client, api_key_env_var=name)

    assert response.status_code == 200
    assert "Enter the name of an environment variable" in response.content.decode()


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "redis_url",
                                  "ARENA_LLM_BACKEND"])
def test_a_key_variable_cannot_name_the_apps_own_configuration(admin_client, name):
    response = add_provider(admin_client, api_key_env_var=name)

    assert response.status_code == 200
    assert "holds the application&#x27;s own configuration" in response.content.decode()


def test_provider_and_model_name_are_unique_together(admin_client):
    model = LLMModelFactory(model_name="gpt-4o")

    response = admin_client.post("/admin/providers/llmmodel/add/", {
        "provider": model.provider.pk, "model_name": "gpt-4o", "display_name": "Again", "pricing_tier": "free",
        "context_window": 8192, "extra_params": "{}",
    })

    assert response.status_code == 200
    assert LLMModel.objects.filter(model_name="gpt-4o").count() == 1


def test_an_api_base_edited_in_admin_is_used_by_the_next_call(admin_client, model_on, openai_server):
    from providers.tests.servers import FakeOpenAIServer

    model = model_on("openai", openai_server)
    with FakeOpenAIServer() as other:
        provider = model.provider
        response = admin_client.post(f"/admin/providers/provider/{provider.pk}/change/", {
            "display_name": provider.display_name, "litellm_provider": "openai", "api_base": other.url + "/v1",
            "api_key_env_var": provider.api_key_env_var, "enabled": "on",
        })
        assert response.status_code == 302

        client = client_for(LLMModel.objects.select_related("provider").get(pk=model.pk))
        import asyncio

        asyncio.run(client.send_message([{"role": "user", "content": "hello"}]))

        assert len(other.requests) == 1
        assert openai_server.requests == []


def test_the_model_list_shows_the_active_backend_and_filters(admin_client):
    LLMModelFactory(display_name="Visible Model", pricing_tier="free")

    response = admin_client.get("/admin/providers/llmmodel/?pricing_tier__exact=free&q=Visible")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Visible Model" in page
    assert "LLM calls go through <strong>litellm</strong>" in page


def test_seeding_twice_adds_nothing_and_keeps_admin_edits():
    from django.core.management import call_command

    call_command("seed_catalog")
    gpt = LLMModel.objects.get(model_name="gpt-4o")
    gpt.display_name = "Our GPT"
    gpt.enabled = False
    gpt.save()
    count = LLMModel.objects.count()

    call_command("seed_catalog")

    gpt.refresh_from_db()
    assert (gpt.display_name, gpt.enabled) == ("Our GPT", False)
    assert LLMModel.objects.count() == count
    assert set(LLMModel.objects.filter(provider__litellm_provider="ollama").values_list("model_name", flat=True)) \
        == {"llama2", "llama2:13b", "mistral"}
    assert not LLMModel.objects.filter(provider__litellm_provider="ollama", recommended=True).exists()


def test_seeding_again_after_an_admin_renamed_a_seeded_provider_adds_nothing():
    from django.core.management import call_command

    call_command("seed_catalog")
    Provider.objects.filter(display_name="Ollama").update(display_name="Ollama (LAN box)")
    providers, models = Provider.objects.count(), LLMModel.objects.count()

    call_command("seed_catalog")

    assert (Provider.objects.count(), LLMModel.objects.count()) == (providers, models)
    assert Provider.objects.filter(litellm_provider="ollama").get().display_name == "Ollama (LAN box)"


@pytest.mark.parametrize("route, model_name, tier, warned", [
    ("openai", "gpt-4o", "free", True),  # billed by the provider: a Free row would show its debates at $0
    ("openai", "gpt-4o", "standard", False),
    ("openai", "my-own-finetune", "free", False),  # not in LiteLLM's price list: nothing to compare
    ("ollama", "llama3", "free", False),  # local: free indeed
])
def test_a_model_marked_free_that_litellm_prices_is_saved_with_a_warning(admin_client, route, model_name, tier,
                                                                          warned):
    response = add_provider(admin_client, display_name="Route", litellm_provider=route,
                            api_base="http://127.0.0.1:9" if route == "openai" else "http://localhost:11434")
    provider = Provider.objects.get(display_name="Route")

    response = admin_client.post("/admin/providers/llmmodel/add/", {
        "provider": provider.pk, "model_name": model_name, "display_name": "Row", "pricing_tier": tier,
        "enabled": "on", "context_window": 8192, "extra_params": "{}", "api_base": "", "api_key_env_var": "",
        **NO_FALLBACKS}, follow=True)

    page = response.content.decode()
    assert LLMModel.objects.filter(model_name=model_name, pricing_tier=tier).exists()  # saved either way
    assert ("is marked Free, so its calls are counted at $0" in page) is warned
    if warned:
        assert "$2.50 and $10.00 per million input and output tokens" in page  # gpt-4o in LiteLLM's list


@pytest.mark.parametrize("typed, suggested", [("olama", "'ollama'"), ("Anthropic", "'anthropic'"),
                                               ("open_ai", "'openai'")])
def test_a_provider_string_litellm_does_not_know_is_refused_with_the_likely_one(admin_client, typed, suggested):
    response = add_provider(admin_client, litellm_provider=typed, display_name="Typo")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["litellm_provider"]
    assert errors[0].startswith(f"LiteLLM knows no provider '{typed}'. Did you mean {suggested}")
    assert not Provider.objects.filter(display_name="Typo").exists()


def test_a_provider_litellm_lists_but_cannot_chat_with_is_refused_with_what_to_choose(admin_client):
    response = add_provider(admin_client, litellm_provider="openai_like", display_name="Compatible")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["litellm_provider"]
    assert errors == [NO_CHAT_ROUTE["openai_like"]] and "choose 'openai'" in errors[0]
    assert not Provider.objects.filter(display_name="Compatible").exists()


def test_litellm_still_has_no_chat_route_for_what_admin_refuses(openai_server):
    """When LiteLLM gains the route, this fails: then drop it from NO_CHAT_ROUTE."""
    from providers.llm.litellm_client import load_litellm

    for route in NO_CHAT_ROUTE:
        with pytest.raises(Exception, match="Unmapped LLM provider"):
            async_to_sync(load_litellm().acompletion)(model=f"{route}/m", api_base=openai_server.url + "/v1",
                                                      api_key="k", messages=[{"role": "user", "content": "hi"}])
        assert openai_server.requests == []


@pytest.mark.parametrize("route", ["anthropic", "openai", "ollama_chat", "hosted_vllm", "lm_studio", "mistral"])
def test_every_route_litellm_knows_is_accepted(admin_client, route):
    assert add_provider(admin_client, litellm_provider=route, display_name=route).status_code == 302
