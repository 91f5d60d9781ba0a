"""What a call cost, from LiteLLM's bundled price list; free and local models cost exactly 0, and nothing here
ever reaches the network (for some `ollama_chat/` names LiteLLM's own lookup posts to localhost:11434/api/show,
whatever the row's api_base: a free row never asks it)."""
from providers.models import LLMModel

# LiteLLM takes these per call, and in its price map: its own bookkeeping (cost logging, streamed usage,
# model info) then finds the model priced at 0 and never looks it up (for Ollama names: by a POST to /api/show).
ZERO_PRICES = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
_registered: set[str] = set()


def register_zero_prices(litellm: object, model_name: str) -> None:
    """Put a free or local model in LiteLLM's price map at 0, once per process and model name. Written into the
    map directly: `litellm.register_model` first looks the model up itself, and for an Ollama name that lookup is
    the very request to OLLAMA_API_BASE (or localhost:11434) /api/show this avoids."""
    if model_name in _registered:
        return
    provider = model_name.split("/", 1)[0]
    litellm.model_cost[model_name] = {**ZERO_PRICES, "litellm_provider": provider, "mode": "chat"}
    _registered.add(model_name)


def call_cost(model: LLMModel, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """USD for these tokens at the row's prices; None (unknown, never 0) when the tokens or the price are unknown."""
    if model.costs_nothing:
        return 0.0
    if prompt_tokens is None or completion_tokens is None:
        return None
    from providers.llm.litellm_client import load_litellm  # prices ship with LiteLLM; the import is lazy

    try:
        prompt_cost, completion_cost = load_litellm().cost_per_token(
            model=model.litellm_model_name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:  # noqa: BLE001 - LiteLLM raises several kinds for a model it cannot price
        return None
    return prompt_cost + completion_cost
