"""The catalog over the API: providers and models, with the filters a client choosing seats needs."""
import pytest

from providers.models import PricingTier
from providers.tests.factories import LLMModelFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    openai = ProviderFactory(display_name="OpenAI", litellm_provider="openai", api_key_env_var="OPENAI_API_KEY")
    ollama = ProviderFactory(display_name="Ollama", litellm_provider="ollama", api_base="http://localhost:11434")
    off = ProviderFactory(display_name="Retired", enabled=False)
    return {
        "gpt": LLMModelFactory(provider=openai, model_name="gpt-4o", pricing_tier=PricingTier.PREMIUM,
                               recommended=True),
        "mini": LLMModelFactory(provider=openai, model_name="gpt-4o-mini", pricing_tier=PricingTier.ECONOMY),
        "mistral": LLMModelFactory(provider=ollama, model_name="mistral", pricing_tier=PricingTier.FREE,
                                   enabled=False),
        "orphan": LLMModelFactory(provider=off, model_name="old"),
    }


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {model["model_name"] for model in response.json()}


def test_it_lists_providers_with_their_model_count_and_never_a_key(api, catalog):
    data = api.get("/api/providers").json()

    by_name = {provider["display_name"]: provider for provider in data}
    assert by_name["OpenAI"]["model_count"] == 2
    assert by_name["Retired"]["enabled"] is False
    assert "api_key_env_var" not in by_name["OpenAI"]


def test_it_lists_every_model_with_how_litellm_names_it(api, catalog):
    data = {model["model_name"]: model for model in api.get("/api/models").json()}

    assert set(data) == {"gpt-4o", "gpt-4o-mini", "mistral", "old"}
    assert data["gpt-4o"]["litellm_model_name"] == "openai/gpt-4o"
    assert data["gpt-4o"]["provider"] == "OpenAI"
    assert (data["old"]["enabled"], data["old"]["usable"]) == (True, False)


@pytest.mark.parametrize("query, expected", [
    ({"pricing_tier": "economy"}, {"gpt-4o-mini"}),
    ({"recommended": "true"}, {"gpt-4o"}),
    ({"enabled": "true"}, {"gpt-4o", "gpt-4o-mini"}),
    ({"enabled": "false"}, {"mistral", "old"}),
    ({"pricing_tier": "premium", "recommended": "false"}, set()),
])
def test_it_filters_models(api, catalog, query, expected):
    assert names(api.get("/api/models", query)) == expected


def test_it_filters_models_by_provider(api, catalog):
    assert names(api.get("/api/models", {"provider": catalog["mistral"].provider_id})) == {"mistral"}
    assert names(api.get("/api/models", {"provider": 2**63 - 1})) == set()


@pytest.mark.parametrize("query, field", [({"pricing_tier": "luxury"}, "pricing_tier"),
                                          ({"provider": "openai"}, "provider"), ({"provider": 2**64}, "provider"),
                                          ({"enabled": "maybe"}, "enabled")])
def test_a_bad_filter_is_named_in_a_422(api, query, field):
    response = api.get("/api/models", query)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == [field]
