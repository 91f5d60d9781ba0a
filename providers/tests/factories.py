import factory

from providers.models import LLMModel, PricingTier, Provider


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    display_name = factory.Sequence(lambda n: f"Provider {n}")
    litellm_provider = "openai"
    api_base = ""
    api_key_env_var = ""


class LLMModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LLMModel

    provider = factory.SubFactory(ProviderFactory)
    model_name = factory.Sequence(lambda n: f"model-{n}")
    display_name = factory.LazyAttribute(lambda o: o.model_name.title())
    pricing_tier = PricingTier.STANDARD
    context_window = 8192
