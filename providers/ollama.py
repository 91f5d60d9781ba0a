"""Model discovery for Ollama providers: the models a server has pulled become rows in the catalog."""
from dataclasses import dataclass, field

import httpx
from django.db import transaction

from providers.models import LLMModel, PricingTier, Provider
from providers.validators import refused_address

OLLAMA_ROUTES = ("ollama", "ollama_chat")
DEFAULT_API_BASE = "http://localhost:11434"  # where LiteLLM looks when a provider names none
TIMEOUT_SECONDS = 5.0  # an admin waits on the page


class OllamaDiscoveryError(Exception):
    """Discovery could not ask the server or understand its answer; the message says which."""


@dataclass
class DiscoveryResult:
    provider: Provider
    added: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.provider}: {len(self.added)} added, {len(self.present)} already present"


def discover_ollama_models(provider: Provider) -> DiscoveryResult:
    if provider.litellm_provider not in OLLAMA_ROUTES:
        raise OllamaDiscoveryError(
            f"its LiteLLM provider is {provider.litellm_provider!r}; only {' and '.join(OLLAMA_ROUTES)} "
            "providers can list their models")
    return ensure_model_rows(provider, fetch_model_names(provider.api_base or DEFAULT_API_BASE))


def fetch_model_names(api_base: str) -> list[str]:
    url = api_base.rstrip("/") + "/api/tags"
    if refusal := refused_address(url):  # the same rule as every LLM call (providers.llm.guard)
        raise OllamaDiscoveryError(f"not asking {url}: {refusal}")
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise OllamaDiscoveryError(
            f"could not reach {url} ({exc or type(exc).__name__}); is Ollama running there?") from None
    if response.status_code != 200:
        raise OllamaDiscoveryError(f"{url} answered HTTP {response.status_code}; is this an Ollama server?")
    try:
        return [_name_of(entry) for entry in response.json()["models"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise OllamaDiscoveryError(
            f"{url} did not answer with Ollama's model list; is this an Ollama server?") from None


@transaction.atomic
def ensure_model_rows(provider: Provider, names: list[str]) -> DiscoveryResult:
    """Create the missing rows and re-enable the others; an admin's names and tiers are never touched."""
    result = DiscoveryResult(provider)
    rows = {row.model_name: row for row in provider.models.all()}
    for name in names:
        # Ollama lists "mistral:latest" for what a seeded row calls "mistral": the same model.
        row = rows.get(name) or rows.get(name.removesuffix(":latest"))
        if row is None:
            rows[name] = LLMModel.objects.create(provider=provider, model_name=name, display_name=_display(name),
                                                 pricing_tier=PricingTier.FREE, enabled=True)
            result.added.append(name)
            continue
        if not row.enabled:
            row.enabled = True
            row.save(update_fields=["enabled"])
        result.present.append(name)
    return result


def _name_of(entry: dict) -> str:
    name = entry.get("name") or entry.get("model")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a listed model has no name")
    return name.strip()


def _display(name: str) -> str:
    return name.removesuffix(":latest")
