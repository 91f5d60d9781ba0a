"""A model row in, a client out: the only place that knows which class serves which row."""
from importlib import import_module

from providers.llm.backend import acurrent_backend, current_backend
from providers.llm.base import BaseLLMClient, CallSettings
from providers.llm.errors import LLMConfigurationError
from providers.llm.guard import acheck_api_base, check_api_base
from providers.llm.http import NO_KEY
from providers.llm.pricing import ZERO_PRICES
from providers.models import Backend, LLMModel
from providers.validators import extra_params_problem

# Providers whose legacy SDK client still exists; everything else is LiteLLM only.
LEGACY_CLIENTS = {"anthropic": "providers.llm.anthropic_client.AnthropicClient",
                  "openai": "providers.llm.openai_client.OpenAIClient"}
# Routes whose public address wants a key named in admin (their clients would read OPENAI_API_KEY for any server).
_KEY_PLACEHOLDER_ROUTES = {"openai", "hosted_vllm"}
_OLLAMA_ROUTES = {"ollama", "ollama_chat"}


def call_settings(model: LLMModel) -> CallSettings:
    return CallSettings(timeout=model.call_timeout, first_chunk_timeout=model.chunk_timeout)


def build_client(model: LLMModel, backend: str) -> BaseLLMClient:
    route = model.provider.litellm_provider
    api_key = _api_key(model)
    if problem := extra_params_problem(model.extra_params or {}):  # a row saved before admin checked them
        raise LLMConfigurationError(f"the model's extra parameters cannot be used: {problem}",
                                    model=model.litellm_model_name)
    extra = dict(model.extra_params or {})
    if route in _OLLAMA_ROUTES:
        # Ollama silently cuts prompts at 2048 tokens unless told the context size.
        extra.setdefault("num_ctx", model.context_window)
    kwargs = dict(provider=route, api_base=model.effective_api_base, api_key=api_key, extra_params=extra,
                  settings=call_settings(model))
    if backend == Backend.LEGACY:
        return _legacy_class(model)(model=model.litellm_model_name, **kwargs)
    from providers.llm.litellm_client import LiteLLMClient

    if model.costs_nothing:
        kwargs["extra_params"] = {**ZERO_PRICES, **extra}
    return LiteLLMClient(model=model.litellm_model_name, zero_priced=route in _OLLAMA_ROUTES, **kwargs)


# A client built for a caller outside the gateway (Test connection, pre-flight) has its address checked here; the
# gateway checks each row itself, with the setting it read along with the backend.
def client_for(model: LLMModel) -> BaseLLMClient:
    check_api_base(model)
    return build_client(model, current_backend())


async def aclient_for(model: LLMModel) -> BaseLLMClient:
    await acheck_api_base(model)
    return build_client(model, await acurrent_backend())


def _api_key(model: LLMModel) -> str | None:
    name = model.effective_key_env_var
    key = model.read_api_key()
    if name and key is None:
        raise LLMConfigurationError(
            f"the environment variable {name} that should hold the API key is not set",
            model=model.litellm_model_name,
        )
    if key is None and model.effective_api_base:
        # A server of the row's own that needs no key. Never None: LiteLLM and the SDKs would then send it the key
        # they read from the environment for the route (ANTHROPIC_API_KEY, OPENROUTER_API_KEY, ...), which is
        # the provider's. Local OpenAI-compatible servers ignore the placeholder; the SDK insists on one.
        return NO_KEY
    if key is None and model.provider.litellm_provider in _KEY_PLACEHOLDER_ROUTES:
        raise LLMConfigurationError(
            "no key variable is configured for this provider; name one in admin",
            model=model.litellm_model_name,
        )
    return key  # None for a provider's public address: LiteLLM reads the route's own variable


def _legacy_class(model: LLMModel) -> type[BaseLLMClient]:
    path = LEGACY_CLIENTS.get(model.provider.litellm_provider)
    if path is None:
        raise LLMConfigurationError(
            f"the LLM backend is set to legacy and {model.litellm_model_name} has no legacy client; "
            "run `python manage.py llm_backend litellm` to use LiteLLM again",
            model=model.litellm_model_name,
        )
    module_name, class_name = path.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)
