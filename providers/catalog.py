"""The catalog a fresh installation starts with. Seeding only adds what is missing."""
from django.db import transaction

from providers.models import LLMModel, PricingTier, Provider

SEED_PROVIDERS = [
    {"display_name": "Anthropic", "litellm_provider": "anthropic", "api_key_env_var": "ANTHROPIC_API_KEY"},
    {"display_name": "OpenAI", "litellm_provider": "openai", "api_key_env_var": "OPENAI_API_KEY"},
    {"display_name": "Ollama", "litellm_provider": "ollama", "api_base": "http://localhost:11434"},
]

SEED_MODELS = [
    ("Anthropic", "claude-sonnet-4-5", "Claude Sonnet 4.5", PricingTier.PREMIUM, True, 200_000),
    ("Anthropic", "claude-haiku-4-5", "Claude Haiku 4.5", PricingTier.ECONOMY, True, 200_000),
    ("OpenAI", "gpt-4o", "GPT-4o", PricingTier.STANDARD, True, 128_000),
    ("OpenAI", "gpt-4o-mini", "GPT-4o mini", PricingTier.ECONOMY, True, 128_000),
    ("Ollama", "llama2", "Llama 2 7B", PricingTier.FREE, False, 4096),
    ("Ollama", "llama2:13b", "Llama 2 13B", PricingTier.FREE, False, 4096),
    ("Ollama", "mistral", "Mistral 7B", PricingTier.FREE, False, 8192),
]


@transaction.atomic
def seed_catalog() -> tuple[int, int]:
    """Create missing providers and models; rows that exist (and admin edits) are left alone."""
    providers_created = models_created = 0
    providers = {}
    for fields in SEED_PROVIDERS:
        provider = seeded_provider(fields)
        created = provider is None
        if created:
            provider = Provider.objects.create(**fields)
        providers[fields["display_name"]] = provider
        providers_created += created
    for provider_name, model_name, display, tier, recommended, context in SEED_MODELS:
        _, created = LLMModel.objects.get_or_create(
            provider=providers[provider_name], model_name=model_name,
            defaults={"display_name": display, "pricing_tier": tier, "recommended": recommended,
                      "context_window": context},
        )
        models_created += created
    return providers_created, models_created


def seeded_provider(fields: dict) -> Provider | None:
    """The row a seed made, by its name or, once an admin renamed it, by what it is (its route, address and key
    variable): a renamed row is an admin's edit, not a missing one to add again."""
    named = Provider.objects.filter(display_name=fields["display_name"]).first()
    if named is not None:
        return named
    return Provider.objects.filter(litellm_provider=fields["litellm_provider"], api_base=fields.get("api_base", ""),
                                   api_key_env_var=fields.get("api_key_env_var", "")).order_by("pk").first()
